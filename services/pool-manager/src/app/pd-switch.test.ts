// ENABLE_PREFIX_DELEGATION switched with pods running: the pool-manager restarts with the
// other setting while ENIs hold addresses of the old kind. Pods keep their addresses; new
// pods get only the new kind (addr-broker's own picking, over the capacity published here);
// old-kind CIDRs go back to EC2 once no pod holds them.
// Assumptions: m5.large, one /24 subnet, the fake EC2; addr-broker's choice is its core
// pickAddress over pool-manager's snapshot; cooldown 0 (the cooldown is not what is tested).
import { afterEach, describe, expect, test } from "bun:test";
import { loadConfig } from "../../../../shared/config/index.ts";
import { pickAddress, isMiss } from "../../../addr-broker/src/core/assign.ts";
import { EMPTY_STATE, release, withAllocation, type BrokerState } from "../../../addr-broker/src/core/state.ts";
import { FakeBroker } from "../../test-support/fakes.ts";
import { fakeWorld, manager, type FakeWorld, type Harness } from "../../test-support/harness.ts";
import { poolSettingsFrom } from "./settings-from-config.ts";

let h: Harness | undefined;
afterEach(() => {
  h?.pm.stop();
  h = undefined;
});

/** addr-broker as far as this test needs it: assignments from the published capacity, usage per CIDR reported back. */
class Pods {
  state: BrokerState = EMPTY_STATE;
  readonly cidrOf = new Map<string, string>();
  constructor(readonly broker: FakeBroker) {}

  add(x: Harness, name: string): string {
    const pick = pickAddress(this.state, x.pm.model.snapshot(), x.w.clock.now(), 0);
    if (isMiss(pick)) throw new Error(`no address for ${name}: ${pick.message}`);
    this.state = withAllocation(this.state, { networkName: "aws-cni", containerId: name, ifName: "eth0", address: pick.address, allocatedAtNs: 0n });
    this.cidrOf.set(name, pick.cidr);
    this.report();
    return pick.address;
  }

  del(name: string): void {
    this.state = release(this.state, { networkName: "aws-cni", containerId: name, ifName: "eth0" }, 0, 0).state;
    this.cidrOf.delete(name);
    this.report();
  }

  addressOf(name: string): string {
    return [...this.state.allocations.values()].find((a) => a.containerId === name)!.address;
  }

  private report(): void {
    this.broker.use.clear();
    for (const cidr of this.cidrOf.values()) {
      const u = this.broker.use.get(cidr) ?? { assigned: 0, cooling: 0 };
      this.broker.use.set(cidr, { ...u, assigned: u.assigned + 1 });
    }
  }
}

/** A pool-manager (re)started on the same node with these variables. */
async function startWith(w: FakeWorld, broker: FakeBroker, env: Record<string, string>): Promise<Harness> {
  h?.pm.stop();
  h = manager(w, poolSettingsFrom(loadConfig(env).config), { maxPods: 29 }, { broker });
  await h.start();
  await settle(h);
  return h;
}

async function settle(x: Harness): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await x.w.clock.advance(5_000);
    await x.run(x.pm.refreshUsage());
    await x.run(x.pm.cycle());
  }
}

const ec2Of = (x: Harness) => {
  const enis = x.enis();
  return { secondaries: enis.flatMap((e) => e.secondaryIps), prefixes: enis.flatMap((e) => e.ipv4Prefixes) };
};
const inPrefix = (ip: string, prefixes: string[]) =>
  prefixes.some((p) => {
    const [base] = p.split("/");
    const b = base!.split(".").map(Number);
    const a = ip.split(".").map(Number);
    return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3]! >= b[3]! && a[3]! < b[3]! + 16;
  });

// Each policy: compat (an upstream target set) and demand (no target; the /32 fallback on by default).
const POLICIES: [string, Record<string, string>][] = [
  ["compat (WARM_IP_TARGET=3)", { WARM_IP_TARGET: "3" }],
  ["demand (defaults: the PD /32 fallback on)", { AWS_VPC_CNI_POOL_POLICY: "demand" }],
];

describe("ENABLE_PREFIX_DELEGATION switched with live pods", () => {
  for (const [policy, env] of POLICIES) {
    test(`${policy}: off → on → off`, async () => {
      const w = fakeWorld();
      const broker = new FakeBroker();
      const pods = new Pods(broker);

      // Secondary IPs: two pods.
      let x = await startWith(w, broker, env);
      const old = ["a", "b"].map((n) => pods.add(x, n));
      expect(old.every((ip) => ec2Of(x).secondaries.includes(ip))).toBe(true);

      // Restart with PD on: the pods keep their /32s; the idle /32s go back to EC2.
      x = await startWith(w, broker, { ...env, ENABLE_PREFIX_DELEGATION: "true" });
      expect(ec2Of(x).secondaries.sort()).toEqual([...old].sort());
      expect(ec2Of(x).prefixes.length).toBeGreaterThan(0);
      // New pods get addresses out of prefixes only.
      const fresh = ["c", "d", "e"].map((n) => pods.add(x, n));
      expect(fresh.every((ip) => inPrefix(ip, ec2Of(x).prefixes))).toBe(true);
      // The old pods go: their /32s are released.
      pods.del("a");
      pods.del("b");
      await settle(x);
      expect(ec2Of(x).secondaries).toEqual([]);
      expect(fresh.every((ip) => inPrefix(ip, ec2Of(x).prefixes))).toBe(true);

      // Back to secondary IPs: the prefix pods keep their prefix, new pods get /32s.
      x = await startWith(w, broker, env);
      expect(fresh.every((ip) => inPrefix(ip, ec2Of(x).prefixes))).toBe(true);
      const held = new Set(["c", "d", "e"].map((n) => pods.cidrOf.get(n)));
      expect(ec2Of(x).prefixes.every((p) => held.has(p))).toBe(true); // idle prefixes released
      const later = ["f", "g"].map((n) => pods.add(x, n));
      expect(later.every((ip) => ec2Of(x).secondaries.includes(ip))).toBe(true);
      for (const n of ["c", "d", "e"]) pods.del(n);
      await settle(x);
      expect(ec2Of(x).prefixes).toEqual([]);
      expect(later.every((ip) => ec2Of(x).secondaries.includes(ip))).toBe(true);
      expect(pods.addressOf("f")).toBe(later[0]!);
    });
  }
});
