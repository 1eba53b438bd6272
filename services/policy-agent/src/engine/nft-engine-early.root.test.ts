/**
 * Rules written before the pod's veth exists, against the real kernel: addr-broker tells the
 * agent of a new pod beside net-config's wiring, so the agent's transaction may come before
 * the host veth is made. The table matches veths by name (`iifname`/`oifname` maps, strict's
 * `iifkind`/`iifname` catch-all), so nft takes the rules for an absent veth and they hold for
 * the veth made afterwards. Lab: one node namespace, two pods wired and two whose veth is made
 * only after the apply (test-support/policy-lab.ts); verdicts from real probes.
 */
import { afterEach, expect } from "bun:test";
import pino from "pino";
import type { DirectionState, NodePolicyState, PodPolicyState } from "../../../../shared/contracts/policy.ts";
import { run } from "../../../net-config/test-support/namespaces.ts";
import { requires } from "../../../../tests/support/prerequisites.ts";
import { createNftEngine, type NftEngine } from "./nft-engine.ts";
import { PolicyLab, type LabPod } from "./test-support/policy-lab.ts";

const PORT = 8080;
const gate = requires("root", "ip", "nft");
const lab = new PolicyLab([PORT]);
const log = pino({ level: "silent" });
const TABLE = "np-early-test";

gate.beforeAll(() => lab.start(4, 2), 30_000);
gate.afterAll(() => lab.close());

const OPEN: DirectionState = { kind: "open" };
const DENY: DirectionState = { kind: "deny" };
const podState = (p: LabPod, ingress: DirectionState, egress: DirectionState): PodPolicyState => ({ namespace: "lab", name: p.name, hostVeth: p.hostVeth, addresses: [p.v4, p.v6], ingress, egress });
const pods = () => lab.pods as [LabPod, LabPod, LabPod, LabPod];
const vethExists = (veth: string) => run(["ip", "-n", lab.node.ns, "link", "show", veth], true).code === 0;
const engines: NftEngine[] = [];
const engine = (denyVethPrefixes: string[] = []) => {
  const e = createNftEngine({ netns: lab.node.ns, table: TABLE, log, verifyIntervalMs: 0, denyVethPrefixes });
  engines.push(e);
  return e;
};

/** TCP probes (both families) from `from` to `to`: true only when every one came back. */
async function reaches(from: { ns: string }, to: { v4: string; v6: string }): Promise<boolean> {
  const got = await Promise.all([to.v4, to.v6].map((host) => lab.probe(from.ns, host, "tcp", PORT)));
  return got.every(Boolean);
}
/** True only when no probe came back (a denied flow never passes). */
async function blocked(from: { ns: string }, to: { v4: string; v6: string }): Promise<boolean> {
  const got = await Promise.all([to.v4, to.v6].map((host) => lab.probe(from.ns, host, "tcp", PORT)));
  return got.every((g) => !g);
}

gate.describe("rules for a pod whose veth does not exist yet (real kernel)", () => {
  afterEach(async () => {
    await engines[0]?.removeAll();
    for (const e of engines.splice(0)) e.close();
  });

  gate.test("standard: a pod's own chains are taken before its veth exists and hold for the veth made after", async () => {
    const [p0, p1, p2] = pods();
    expect(vethExists(p2.hostVeth)).toBe(false);
    const e = engine();
    // pod2: ingress only TCP 8080 from pod0, egress denied
    const allowP0: DirectionState = { kind: "rules", rules: [{ cidr: `${p0.v4}/32`, except: [], ports: [{ protocol: "TCP", port: PORT }] }, { cidr: `${p0.v6}/128`, except: [], ports: [{ protocol: "TCP", port: PORT }] }] };
    const state: NodePolicyState = { nodeAddresses: [lab.node.v4, lab.node.v6], pods: [podState(p0, OPEN, OPEN), podState(p1, OPEN, OPEN), podState(p2, allowP0, DENY)] };
    await e.apply(state);
    expect((await e.programmed(state.pods)).find((p) => p.hostVeth === p2.hostVeth)).toMatchObject({ ingress: allowP0, egress: DENY });
    await lab.wire(p2);
    expect(vethExists(p2.hostVeth)).toBe(true);
    expect(await reaches(p0, p2)).toBe(true);
    expect(await blocked(p1, p2)).toBe(true);
    expect(await blocked(p2, p0)).toBe(true);
    expect(await reaches(lab.node, p2)).toBe(true); // the node's own addresses always pass
    // the other pods are untouched
    expect(await reaches(p1, p0)).toBe(true);
  });

  gate.test("strict: the catch-all denies a pod whose veth is made after the table was written", async () => {
    const [p0, , , p3] = pods();
    expect(vethExists(p3.hostVeth)).toBe(false);
    const e = engine([p3.hostVeth]);
    const state: NodePolicyState = { nodeAddresses: [lab.node.v4, lab.node.v6], pods: [podState(p0, OPEN, OPEN), podState(p3, DENY, DENY)] };
    await e.apply(state);
    await lab.wire(p3);
    expect(await blocked(p0, p3)).toBe(true);
    expect(await blocked(p3, p0)).toBe(true);
    expect(await reaches(lab.node, p3)).toBe(true);
  });
});
