// MANAGE_UNTAGGED_ENI against the fake EC2, on a fake clock.
// Assumptions: m5.large (3 ENIs × 10 IPv4), one /24 subnet; before pool-manager starts,
// another tool attached an ENI (device 1) with 2 secondary addresses and none of this
// CNI's tags.
import { afterEach, describe, expect, test } from "bun:test";
import { UPSTREAM_DEFAULTS } from "../core/settings.ts";
import { fakeWorld, manager, type Harness } from "../../test-support/harness.ts";
import { isUnmanagedEni } from "./eni-adoption.ts";

let h: Harness | undefined;
afterEach(() => {
  h?.pm.stop();
  h = undefined;
});

describe("isUnmanagedEni (upstream setUnmanagedENIs)", () => {
  const me = "i-me";
  const rows: [tags: Record<string, string>, manageUntagged: boolean, unmanaged: boolean][] = [
    [{ "node.k8s.amazonaws.com/no_manage": "true" }, true, true],
    // no_manage present but not "true": managed, whatever MANAGE_UNTAGGED_ENI says
    [{ "node.k8s.amazonaws.com/no_manage": "false" }, false, false],
    [{ "node.k8s.amazonaws.com/instance_id": me }, false, false],
    // another instance's tag is "untagged" for this node
    [{ "node.k8s.amazonaws.com/instance_id": "i-other" }, false, true],
    [{}, true, false],
    [{ team: "x" }, false, true],
  ];
  for (const [tags, manageUntagged, unmanaged] of rows) {
    test(`${JSON.stringify(tags)}, MANAGE_UNTAGGED_ENI=${manageUntagged} → ${unmanaged ? "unmanaged" : "managed"}`, () => {
      expect(isUnmanagedEni({ tags }, me, manageUntagged)).toBe(unmanaged);
    });
  }
});

async function foreignEni(x: Harness): Promise<string> {
  const eni = await x.run(x.w.ec2.createEni({ subnetId: x.w.subnetId, description: "someone else's", securityGroups: [x.w.sgId], family: "ipv4", cidrKind: "address", count: 2, tags: { team: "storage" } }));
  await x.run(x.w.ec2.attachEni(eni.id, x.w.instanceId, 1));
  await x.run(x.w.clock.sleep(1_000));
  return eni.id;
}

describe("MANAGE_UNTAGGED_ENI at start-up", () => {
  test("false: the untagged ENI stays out of the pool, untouched; its addresses are never given to pods", async () => {
    h = manager(fakeWorld(), { ...UPSTREAM_DEFAULTS, warmEniTarget: 0 }, { manageUntaggedEnis: false });
    const id = await foreignEni(h);
    await h.start();
    await h.cycles(2);
    const snap = h.pm.model.snapshot();
    expect(snap.enis.map((e) => e.id)).not.toContain(id);
    expect(h.pm.model.unmanaged).toBe(1);
    const eni = h.enis().find((e) => e.id === id)!;
    expect(eni.tags).toEqual({ team: "storage" });
    expect(eni.secondaryIps).toHaveLength(2);
    expect(h.net.enis.has(id)).toBe(false);
  });

  test("true (the default): the same ENI is adopted, tagged with this instance, and its addresses serve pods", async () => {
    h = manager(fakeWorld(), { ...UPSTREAM_DEFAULTS, warmEniTarget: 0 }, { manageUntaggedEnis: true });
    const id = await foreignEni(h);
    await h.start();
    const snap = h.pm.model.snapshot();
    expect(snap.enis.find((e) => e.id === id)?.cidrs).toHaveLength(2);
    expect(h.enis().find((e) => e.id === id)!.tags["node.k8s.amazonaws.com/instance_id"]).toBe(h.w.instanceId);
  });
});
