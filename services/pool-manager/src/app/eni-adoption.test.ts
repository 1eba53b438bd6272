// The reconcile when IMDS disagrees with the pool: upstream takes IMDS's address lists as they
// are (AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2=false, compat's default); the project asks EC2 first.
// Assumptions: m5.large, WARM_IP_TARGET=2 (two secondaries on the primary ENI), an IMDS that
// shows one address EC2 does not have on the primary ENI (a stale view, #391).
import { afterEach, describe, expect, test } from "bun:test";
import { UPSTREAM_DEFAULTS } from "../core/settings.ts";
import type { ImdsPort } from "../core/ports.ts";
import { fakeWorld, manager, type FakeWorld, type Harness } from "../../test-support/harness.ts";

let h: Harness | undefined;
afterEach(() => {
  h?.pm.stop();
  h = undefined;
});

const STALE = "10.0.1.250";

/** IMDS as the fake shows it, plus STALE on the primary interface once `stale.on` is set. */
function staleImds(w: FakeWorld, stale: { on: boolean }): ImdsPort {
  const real = w.ec2.imdsOf(w.instanceId);
  return {
    ...real,
    interfaces: async () => {
      const ifs = await real.interfaces();
      if (stale.on) ifs.find((i) => i.deviceNumber === 0)!.localIpv4s.push(STALE);
      return ifs;
    },
  };
}

async function run(verifyImdsWithEc2: boolean) {
  const w = fakeWorld();
  const stale = { on: false };
  h = manager(w, { ...UPSTREAM_DEFAULTS, warmIpTarget: 2, verifyImdsWithEc2 }, {}, { imds: staleImds(w, stale) });
  await h.start();
  await h.cycles(2);
  stale.on = true;
  w.ec2.resetCalls();
  await h.run(h.pm.reconcile(true));
  const cidrs = h.pm.model.snapshot().enis.flatMap((e) => e.cidrs.map((c) => c.cidr));
  return { cidrs, describes: w.ec2.calls.DescribeNetworkInterfaces?.ok ?? 0 };
}

describe("reconcile against a stale IMDS", () => {
  test("verify off (upstream): IMDS's address is taken as it is, EC2 is not asked", async () => {
    const r = await run(false);
    expect(r.cidrs).toContain(`${STALE}/32`);
    expect(r.describes).toBe(0);
  });

  test("verify on (the project): EC2 is asked and the address EC2 does not have stays out", async () => {
    const r = await run(true);
    expect(r.cidrs).not.toContain(`${STALE}/32`);
    expect(r.cidrs).toHaveLength(2);
    expect(r.describes).toBeGreaterThan(0);
  });
});
