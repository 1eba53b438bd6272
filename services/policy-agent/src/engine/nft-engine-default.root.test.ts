/**
 * Pods in their mode's default state need nothing in the kernel, against the real kernel
 * (test-support/policy-lab.ts: one node namespace, four pods wired as the CNI wires them).
 * Standard: a pod open both ways leaves the table exactly as it was. Strict: base chains end
 * in a catch-all that drops traffic from/to the pods' veths, so a pod no policy selects is
 * denied both ways with no chain of its own. Verdicts come from real probes in the pods.
 */
import { afterEach, expect } from "bun:test";
import pino from "pino";
import type { DirectionState, NodePolicyState, PodPolicyState, PolicyEndpoint } from "../../../../shared/contracts/policy.ts";
import { run } from "../../../net-config/test-support/namespaces.ts";
import { requires } from "../../../../tests/support/prerequisites.ts";
import { createNftEngine } from "./nft-engine.ts";
import { BOOK_DELAY_MS, PolicyAgent } from "../app/agent.ts";
import { MemoryPodBook } from "../adapters/pod-book.ts";
import { PolicyLab, type LabPod } from "./test-support/policy-lab.ts";

const gate = requires("root", "ip", "nft");
const lab = new PolicyLab([8080]);
const log = pino({ level: "silent" });
const TABLE = "np-default-test";

gate.beforeAll(() => lab.start(4), 30_000);
gate.afterAll(() => lab.close());

const OPEN: DirectionState = { kind: "open" };
const DENY: DirectionState = { kind: "deny" };
const podState = (p: LabPod, ingress: DirectionState, egress: DirectionState): PodPolicyState => ({ namespace: "lab", name: p.name, hostVeth: p.hostVeth, addresses: [p.v4, p.v6], ingress, egress });
const nft = (...args: string[]) => run(["ip", "netns", "exec", lab.node.ns, "nft", ...args]);
const table = () => nft("-a", "list", "table", "inet", TABLE).out;
const pods = () => lab.pods as [LabPod, LabPod, LabPod, LabPod];
const engines: Array<{ close(): void; removeAll(): Promise<void> }> = [];
const engine = (denyVethPrefixes: string[] = []) => {
  const e = createNftEngine({ netns: lab.node.ns, table: TABLE, log, verifyIntervalMs: 0, denyVethPrefixes });
  engines.push(e);
  return e;
};
async function dropEngines(): Promise<void> {
  await engines[0]?.removeAll();
  for (const e of engines.splice(0)) e.close();
}

/**
 * Strict, with the catch-all covering pods 0, 1 and 3 (pod2's veth is named otherwise):
 * pod0 is selected for egress only (ingress open), pod1 by nothing, pod2 by nothing but
 * uncovered, pod3 isolated for ingress (TCP 8080 from the pods' /24) and open for egress.
 */
function strictState(): NodePolicyState {
  const [p0, p1, p2, p3] = pods();
  return {
    nodeAddresses: [lab.node.v4, lab.node.v6],
    pods: [podState(p0, OPEN, DENY), podState(p1, DENY, DENY), podState(p2, DENY, DENY), podState(p3, { kind: "rules", rules: [{ cidr: "10.99.1.0/24", except: [], ports: [{ protocol: "TCP", port: 8080 }] }] }, OPEN)],
  };
}
const strictPrefixes = () => [pods()[0].hostVeth, pods()[1].hostVeth, pods()[3].hostVeth];

gate.describe("pods in their mode's default state (real kernel)", () => {
  afterEach(dropEngines);

  gate.test("standard: adding and deleting a pod open both ways leaves the table unchanged, and the pod is open", async () => {
    const [p0, p1, p2, p3] = pods();
    const e = engine();
    const base: NodePolicyState = { nodeAddresses: [lab.node.v4], pods: [podState(p0, { kind: "rules", rules: [{ cidr: `${p1.v4}/32`, except: [], ports: [] }] }, OPEN), podState(p1, OPEN, OPEN)] };
    await e.apply(base);
    const before = table();
    expect(before).toContain(`in-${p0.hostVeth}`);
    expect(before).not.toContain(p1.hostVeth); // open both ways from the first apply: no chain, no dispatch element
    const added = { ...base, pods: [...base.pods, podState(p2, OPEN, OPEN), podState(p3, OPEN, OPEN)] };
    expect(await e.apply(added)).toEqual({ changedPods: [], removedPods: [], durationMs: 0 });
    expect(table()).toBe(before);
    expect([await lab.probe(p2.ns, p3.v4, "tcp", 8080), await lab.probe(p3.ns, p2.v6, "tcp", 8080), await lab.probe(p2.ns, p0.v4, "tcp", 8080)]).toEqual([true, true, false]);
    expect(await e.apply(base)).toEqual({ changedPods: [], removedPods: [], durationMs: 0 });
    expect(table()).toBe(before);
    expect(await e.programmed([podState(p2, DENY, DENY)])).toContainEqual(podState(p2, OPEN, OPEN)); // absent from the kernel: what a miss gives
    // no table at all (or base chains edited): what a miss gives is unknown, absent pods are not reported
    nft("flush", "chain", "inet", TABLE, "ingress");
    expect((await e.programmed([podState(p2, DENY, DENY)])).map((p) => p.hostVeth)).toEqual([p0.hostVeth]);
    await e.removeAll();
    expect(await e.programmed([podState(p2, DENY, DENY)])).toEqual([]);
  }, 30_000);

  gate.test("only the directions that differ from a miss are dispatched, also when they change between read-backs", async () => {
    const [p0, p1] = pods();
    const e = createNftEngine({ netns: lab.node.ns, table: TABLE, log, verifyIntervalMs: 60_000 });
    engines.push(e);
    const elements = (map: string) => (JSON.parse(nft("-j", "list", "map", "inet", TABLE, map).out).nftables.find((i: any) => i.map)?.map.elem ?? []).map((x: any) => x[0]);
    const dispatched = () => ({ egress: elements("egress-pods"), ingress: elements("ingress-pods") });
    const fromPod1: DirectionState = { kind: "rules", rules: [{ cidr: `${p1.v4}/32`, except: [], ports: [] }] };
    const ingressOnly: NodePolicyState = { nodeAddresses: [lab.node.v4], pods: [podState(p0, fromPod1, OPEN), podState(p1, OPEN, OPEN)] };
    await e.apply(ingressOnly); // first apply: reads back, writes everything
    expect(dispatched()).toEqual({ egress: [], ingress: [p0.hostVeth] });
    await e.apply({ ...ingressOnly, pods: [podState(p0, fromPod1, DENY), podState(p1, OPEN, OPEN)] }); // between read-backs
    expect(dispatched()).toEqual({ egress: [p0.hostVeth], ingress: [p0.hostVeth] });
    expect([await lab.probe(p0.ns, p1.v4, "tcp", 8080), await lab.probe(p1.ns, p0.v4, "tcp", 8080)]).toEqual([false, true]);
    await e.apply(ingressOnly);
    expect(dispatched()).toEqual({ egress: [], ingress: [p0.hostVeth] });
    expect([await lab.probe(p0.ns, p1.v4, "tcp", 8080), await lab.probe(lab.pods[2]!.ns, p0.v4, "tcp", 8080)]).toEqual([true, false]);
    // a read-back finds the kernel exactly as a full write leaves it
    expect(await engine().apply(ingressOnly)).toEqual({ changedPods: [], removedPods: [], durationMs: 0 });
  }, 30_000);

  gate.test("strict: a pod no policy selects cannot send or receive and has no chain of its own; the node still reaches it", async () => {
    const [p0, p1, p2, p3] = pods();
    const e = engine(strictPrefixes());
    const state = strictState();
    const r = await e.apply(state);
    expect(r.changedPods.sort()).toEqual([p0.hostVeth, p2.hostVeth, p3.hostVeth].sort());
    const listing = table();
    expect(listing).not.toContain(`"${p1.hostVeth}" :`); // no dispatch element, and no chain named after pod1:
    expect(listing.match(new RegExp(`chain (eg|in|id)-${p1.hostVeth} `, "g"))).toBeNull();
    expect(listing).toContain(`chain in-${p2.hostVeth}`); // uncovered by the catch-all: denied by chains of its own
    const probes = {
      "pod1→pod3 (pod1 egress: catch-all)": await lab.probe(p1.ns, p3.v4, "tcp", 8080),
      "pod3→pod1 (pod1 ingress: catch-all)": await lab.probe(p3.ns, p1.v4, "tcp", 8080),
      "pod3→pod1 v6": await lab.probe(p3.ns, p1.v6, "tcp", 8080),
      "pod3→pod0 (both open)": await lab.probe(p3.ns, p0.v4, "tcp", 8080),
      "pod0→pod3 (pod0 egress denied)": await lab.probe(p0.ns, p3.v4, "tcp", 8080),
      "pod3→pod2 (pod2's own chains)": await lab.probe(p3.ns, p2.v4, "tcp", 8080),
      "node→pod1": await lab.probe(lab.node.ns, p1.v4, "tcp", 8080),
      "pod1→node": await lab.probe(p1.ns, lab.node.v6, "tcp", 8080),
    };
    expect(probes).toEqual({
      "pod1→pod3 (pod1 egress: catch-all)": false,
      "pod3→pod1 (pod1 ingress: catch-all)": false,
      "pod3→pod1 v6": false,
      "pod3→pod0 (both open)": true,
      "pod0→pod3 (pod0 egress denied)": false,
      "pod3→pod2 (pod2's own chains)": false,
      "node→pod1": true,
      "pod1→node": true,
    });
    // what the kernel holds, read back: pod1 denied both ways by the catch-all alone
    const back = await e.programmed(state.pods);
    expect(back.find((p) => p.hostVeth === p1.hostVeth)).toEqual(podState(p1, DENY, DENY));
    expect(back.find((p) => p.hostVeth === p0.hostVeth)).toEqual(podState(p0, OPEN, DENY));
    // a second strict pod with no policy: nothing to write
    const before = table();
    expect(await e.apply({ ...state, pods: state.pods.filter((p) => p.hostVeth !== p1.hostVeth) })).toEqual({ changedPods: [], removedPods: [], durationMs: 0 });
    expect(table()).toBe(before);
  }, 30_000);

  gate.test("strict: a catch-all edited or deleted by hand is repaired by the next read-back", async () => {
    const [, p1, , p3] = pods();
    const e = engine(strictPrefixes());
    const state = strictState();
    await e.apply(state);
    const egress = JSON.parse(nft("-a", "-j", "list", "chain", "inet", TABLE, "egress").out).nftables.filter((i: any) => i.rule && JSON.stringify(i.rule.expr).includes(p1.hostVeth));
    expect(egress.length).toBe(1);
    nft("delete", "rule", "inet", TABLE, "egress", "handle", String(egress[0].rule.handle));
    expect(await lab.probe(p1.ns, p3.v4, "tcp", 8080)).toBe(true); // pod1 escapes while the catch-all is gone
    expect((await e.apply(state)).changedPods).toEqual([]);
    expect(await lab.probe(p1.ns, p3.v4, "tcp", 8080)).toBe(false);
    // a catch-all rewritten to another prefix (same count of rules) is found too
    const ingress = JSON.parse(nft("-a", "-j", "list", "chain", "inet", TABLE, "ingress").out).nftables.find((i: any) => i.rule && JSON.stringify(i.rule.expr).includes(p1.hostVeth));
    nft("replace", "rule", "inet", TABLE, "ingress", "handle", String(ingress.rule.handle), "meta", "oifkind", "veth", "oifname", "nomatch*", "drop");
    expect(await lab.probe(p3.ns, p1.v4, "tcp", 8080)).toBe(true);
    await e.apply(state);
    expect(await lab.probe(p3.ns, p1.v4, "tcp", 8080)).toBe(false);
  }, 30_000);

  gate.test("mode changes across restarts: strict → standard → strict leave the right kernel state, and read back what a restarted agent keeps", async () => {
    const [p0, p1, , p3] = pods();
    const strict = engine(strictPrefixes());
    await strict.apply(strictState());
    // restarted in standard: before its first list the agent asks what the kernel holds; pod1 (no chain) is denied by the catch-all
    const standard = engine();
    expect((await standard.programmed([podState(p1, OPEN, OPEN)])).find((p) => p.hostVeth === p1.hostVeth)).toEqual(podState(p1, DENY, DENY));
    // standard keeps it denied until the list (now with chains of its own, since deny is not standard's default), then opens it
    await standard.apply(strictState());
    expect(table()).not.toContain("iifkind");
    expect(table()).toContain(`chain in-${p1.hostVeth}`);
    expect(await lab.probe(p3.ns, p1.v4, "tcp", 8080)).toBe(false);
    const open: NodePolicyState = { nodeAddresses: [lab.node.v4], pods: pods().map((p) => podState(p, OPEN, OPEN)) };
    await standard.apply(open);
    expect(table()).not.toContain(p1.hostVeth);
    expect(await lab.probe(p3.ns, p1.v4, "tcp", 8080)).toBe(true);
    // restarted in strict: pods absent from a standard table are open (no catch-all); the strict state then denies pod1 with no chain
    const again = engine(strictPrefixes());
    expect((await again.programmed([podState(p1, DENY, DENY)])).find((p) => p.hostVeth === p1.hostVeth)).toEqual(podState(p1, OPEN, OPEN));
    await again.apply(strictState());
    expect(table()).toContain("iifkind");
    expect(table().match(new RegExp(`chain (eg|in|id)-${p1.hostVeth} `, "g"))).toBeNull();
    expect([await lab.probe(p3.ns, p1.v4, "tcp", 8080), await lab.probe(p3.ns, p0.v4, "tcp", 8080)]).toEqual([false, true]);
  }, 30_000);

  gate.test("the agent, strict: ADD and DEL of a pod no policy selects leave the table as it was; a pod taking a deleted pod's veth and address does not inherit its rules", async () => {
    const [p0, p1, , p3] = pods();
    const book = new MemoryPodBook();
    const agent = new PolicyAgent({ engine: engine(["npv"]), book, mode: "strict", enabled: true, vethPrefix: "npv", log: { info() {}, warn() {}, error() {} } });
    agent.setNodeIps([lab.node.v4]);
    const pe: PolicyEndpoint = {
      metadata: { name: "web-abcde", namespace: "lab" },
      spec: { policyRef: { name: "web", namespace: "lab" }, podIsolation: ["Ingress"], podSelectorEndpoints: [{ hostIP: lab.node.v4, podIP: p0.v4, name: p0.name, namespace: "lab" }], ingress: [{ cidr: p3.v4, ports: [{ protocol: "TCP", port: 8080 }] }] },
    };
    agent.replaceEndpoints([pe]);
    const add = (p: LabPod, name = p.name) => agent.enforcePod({ podNamespace: "lab", podName: name, hostVeth: p.hostVeth, addresses: [p.v4, p.v6] });
    expect(await add(p0)).toEqual({ success: true, state: { ingress: "rules", egress: "open" } });
    expect(await add(p3)).toEqual({ success: true, state: { ingress: "deny", egress: "deny" } });
    const before = table();
    expect(before).toContain(`chain in-${p0.hostVeth}`);
    expect(await add(p1)).toEqual({ success: true, state: { ingress: "deny", egress: "deny" } });
    expect(table()).toBe(before);
    await Bun.sleep(BOOK_DELAY_MS + 20); // its record is written just after the ADD's answer
    expect(book.load().map((p) => p.name).sort()).toEqual([p0.name, p1.name, p3.name].sort());
    expect([await lab.probe(p1.ns, p0.v4, "tcp", 8080), await lab.probe(p0.ns, p1.v4, "tcp", 8080), await lab.probe(p1.ns, lab.node.v4, "tcp", 8080)]).toEqual([false, false, true]);
    expect(await agent.deletePod({ podNamespace: "lab", podName: p1.name })).toEqual({ success: true });
    expect(table()).toBe(before);
    // pod0 deleted (its rules go), then another pod gets its veth and addresses: denied, as any new pod
    expect(await agent.deletePod({ podNamespace: "lab", podName: p0.name })).toEqual({ success: true });
    expect(table()).not.toContain(`chain in-${p0.hostVeth}`);
    expect(await add(p0, "successor")).toEqual({ success: true, state: { ingress: "deny", egress: "deny" } });
    expect(table()).not.toContain(`chain in-${p0.hostVeth}`);
    expect(await lab.probe(p3.ns, p0.v4, "tcp", 8080)).toBe(false);
    // a pod recreated under a name its policy lists: programmed before the ADD answers
    expect(await agent.deletePod({ podNamespace: "lab", podName: "successor" })).toEqual({ success: true });
    expect(await add(p0)).toEqual({ success: true, state: { ingress: "rules", egress: "open" } });
    expect(table()).toContain(`chain in-${p0.hostVeth}`);
  }, 30_000);

  gate.test("a veth prefix that could reach a command is refused, naming the field", () => {
    expect(() => createNftEngine({ netns: lab.node.ns, table: TABLE, log, denyVethPrefixes: ["eni", 'x" drop'] })).toThrow("denyVethPrefixes.1");
  });
});
