/**
 * The nftables engine against the real kernel. Assumptions: one node namespace, four pods
 * wired as the CNI wires them (test-support/policy-lab.ts), TCP and UDP echo on 8080 and
 * 9090, IPv4 and IPv6. Verdicts are read from real probes made inside the pods and the
 * node; every probe is also checked against explainFlow, so the kernel and /debug agree.
 * SCTP: this machine's kernel has no SCTP sockets (socket(…, IPPROTO_SCTP) fails with
 * EPROTONOSUPPORT), so no SCTP probe: pod1 carries SCTP rules that the kernel loads and
 * programmed() reads back, and the renderer and explain tests cover their semantics.
 */
import { expect } from "bun:test";
import pino from "pino";
import type { DirectionState, NodePolicyState, PodPolicyState } from "../../../../shared/contracts/policy.ts";
import { run } from "../../../net-config/test-support/namespaces.ts";
import { requires } from "../../../../tests/support/prerequisites.ts";
import { explainFlow } from "./explain.ts";
import { compileState, podDigest } from "./model.ts";
import { createNftEngine, type NftEngine } from "./nft-engine.ts";
import { NAMED_SET_MIN } from "./render.ts";
import { PolicyLab, type LabPod } from "./test-support/policy-lab.ts";

const PORTS = [8080, 9090];
const gate = requires("root", "ip", "nft");
const lab = new PolicyLab(PORTS);
let engine: NftEngine;
const log = pino({ level: "silent" });

gate.beforeAll(async () => {
  await lab.start(4);
  engine = createNftEngine({ netns: lab.node.ns, log, verifyIntervalMs: 0 }); // every apply reads back
}, 30_000);
gate.afterAll(() => lab.close());

const OPEN: DirectionState = { kind: "open" };
const DENY: DirectionState = { kind: "deny" };
const podState = (p: LabPod, ingress: DirectionState, egress: DirectionState): PodPolicyState => ({ namespace: "lab", name: p.name, hostVeth: p.hostVeth, addresses: [p.v4, p.v6], ingress, egress });
const nft = (...args: string[]) => run(["ip", "netns", "exec", lab.node.ns, "nft", ...args]);

interface Endpoint {
  ns: string;
  v4: string;
  v6: string;
  state?: PodPolicyState;
}

type Proto = "tcp" | "udp";
interface Probe {
  from: number;
  to: number;
  family: 4 | 6;
  proto: Proto;
  port: number;
  got: boolean;
  want: boolean;
}

/** Every endpoint (0 = node, 1.. = pods) to every other, both families, both protocols, both ports. */
async function matrix(state: NodePolicyState): Promise<Probe[]> {
  const eps: Endpoint[] = [lab.node, ...lab.pods.map((p, i) => ({ ...p, state: state.pods[i] }))];
  const probes: Array<Promise<Probe>> = [];
  eps.forEach((src, from) =>
    eps.forEach((dst, to) => {
      if (from === to) return;
      for (const family of [4, 6] as const)
        for (const proto of ["tcp", "udp"] as const)
          for (const port of PORTS) {
            const remoteOf = (e: Endpoint) => (family === 4 ? e.v4 : e.v6);
            const protocol = proto === "tcp" ? "TCP" : "UDP";
            const egress = src.state ? explainFlow(state, src.state, { direction: "egress", remote: remoteOf(dst), protocol, port }).allowed : true;
            const ingress = dst.state ? explainFlow(state, dst.state, { direction: "ingress", remote: remoteOf(src), protocol, port }).allowed : true;
            const want = egress && ingress;
            // A probe that should pass but timed out is tried once more with more time: on a loaded machine 160 probes at once can be slow; a denied flow never passes by retrying.
            const probe = async () => (await lab.probe(src.ns, remoteOf(dst), proto, port)) || (want && (await lab.probe(src.ns, remoteOf(dst), proto, port, 3000)));
            probes.push(probe().then((got) => ({ from, to, family, proto, port, got, want })));
          }
    }),
  );
  return Promise.all(probes);
}

const label = (p: Omit<Probe, "got" | "want">) => `${p.from === 0 ? "node" : `pod${p.from - 1}`}→${p.to === 0 ? "node" : `pod${p.to - 1}`} v${p.family} ${p.proto}/${p.port}`;
function verdicts(probes: Probe[]) {
  const at = (from: number, to: number, family: 4 | 6, proto: Proto, port: number) => probes.find((p) => p.from === from && p.to === to && p.family === family && p.proto === proto && p.port === port)!.got;
  const disagree = probes.filter((p) => p.got !== p.want).map((p) => `${label(p)}: kernel ${p.got ? "allowed" : "denied"}, explain ${p.want ? "allowed" : "denied"}`);
  return { at, disagree };
}

/** Node = 0, pods 1..4 in the matrix. Pod0 egress: ranges, except and the upstream #326 shape; pod1 ingress: rules; pod2 denied both ways; pod3 ingress denied. */
function mixedState(): NodePolicyState {
  const [p0, p1, p2, p3] = lab.pods as [LabPod, LabPod, LabPod, LabPod];
  return {
    nodeAddresses: [lab.node.v4, lab.node.v6],
    pods: [
      podState(p0, OPEN, {
        kind: "rules",
        rules: [
          { cidr: "10.99.1.0/24", except: [`${p2.v4}/32`], ports: [{ protocol: "TCP", port: 8000, endPort: 8100 }] },
          { cidr: "fd99:1::/64", except: [], ports: [{ protocol: "UDP", port: 9090 }] },
          { cidr: "0.0.0.0/0", except: [], ports: [{ protocol: "UDP", port: 8080 }] },
          { cidr: "0.0.0.0/0", except: ["10.99.0.0/16"], ports: [] },
        ],
      }),
      podState(p1, { kind: "rules", rules: [{ cidr: `${p0.v4}/32`, except: [], ports: [{ protocol: "TCP", port: 8080 }, { protocol: "UDP", port: 8080 }] }, { cidr: "fd99:1::/64", except: [`${p2.v6}/128`], ports: [] }, { cidr: "10.99.2.0/24", except: [], ports: [{ protocol: "SCTP", port: 9999 }, { protocol: "SCTP", port: 38412, endPort: 38420 }] }] }, OPEN),
      podState(p2, DENY, DENY),
      podState(p3, DENY, OPEN),
    ],
  };
}

gate.describe("nftables policy engine (real kernel)", () => {
  gate.test("open, deny and rules per direction, except, port ranges, both families, node always allowed", async () => {
    const state = mixedState();
    const report = await engine.apply(state);
    expect(report.changedPods.sort()).toEqual(lab.pods.map((p) => p.hostVeth).sort());
    const { at, disagree } = verdicts(await matrix(state));
    expect(disagree).toEqual([]);
    // pod0 egress to pod1: TCP in 8000-8100 only, UDP 8080 through the port-only rule although another rule excepts 10.99/16 (#326)
    expect([at(1, 2, 4, "tcp", 8080), at(1, 2, 4, "tcp", 9090), at(1, 2, 4, "udp", 8080), at(1, 2, 4, "udp", 9090)]).toEqual([true, false, true, false]);
    expect([at(1, 2, 6, "udp", 9090), at(1, 2, 6, "tcp", 8080)]).toEqual([true, false]);
    // pod2 is excepted from pod0's range and denied both ways, but the node reaches it and it reaches the node
    expect(at(1, 3, 4, "tcp", 8080)).toBe(false);
    expect([at(0, 3, 4, "tcp", 8080), at(0, 3, 6, "udp", 9090), at(3, 0, 4, "udp", 8080), at(3, 0, 6, "tcp", 9090)]).toEqual([true, true, true, true]);
    expect(at(3, 1, 4, "tcp", 8080)).toBe(false);
    // pod1's ingress: fd99:1::/64 except pod2 — pod3 gets in over IPv6, pod2 does not
    expect([at(4, 2, 6, "tcp", 9090), at(3, 2, 6, "tcp", 9090), at(4, 2, 4, "tcp", 8080)]).toEqual([true, false, false]);
    // pod3 (ingress denied) opens flows to pod0 and gets the replies; pod0 cannot open flows to pod3
    expect([at(4, 1, 4, "tcp", 8080), at(4, 1, 6, "udp", 9090), at(1, 4, 4, "tcp", 8080), at(1, 4, 6, "tcp", 8080)]).toEqual([true, true, false, false]);
  }, 30_000);

  gate.test("apply is idempotent and incremental; programmed() reads back the same policy", async () => {
    const state = mixedState();
    expect((await engine.apply(state)).changedPods).toEqual([]);
    const back = await engine.programmed();
    const want = compileState(state).pods.map((p) => [p.hostVeth, podDigest(p)]);
    const got = compileState({ nodeAddresses: [], pods: back }).pods.map((p) => [p.hostVeth, podDigest(p)]);
    expect(got.sort()).toEqual(want.sort());
    // an agent restarted: a new engine finds the rules in force and leaves them alone, then works from memory
    const restarted = createNftEngine({ netns: lab.node.ns, log, verifyIntervalMs: 60_000 });
    expect(await restarted.apply(state)).toMatchObject({ changedPods: [], removedPods: [], durationMs: 0 });
    expect(await restarted.apply(state)).toMatchObject({ changedPods: [], durationMs: 0 });
    restarted.close();
    // open both ways is standard's default: the pod's chains go, and a miss in the dispatch maps lets it through
    state.pods[3] = podState(lab.pods[3]!, OPEN, OPEN);
    const r = await engine.apply(state);
    expect(r).toMatchObject({ changedPods: [], removedPods: [lab.pods[3]!.hostVeth] });
    expect(await lab.probe(lab.pods[0]!.ns, lab.pods[3]!.v4, "tcp", 8080)).toBe(true);
    expect(nft("list", "table", "inet", engine.table).out).not.toContain(lab.pods[3]!.hostVeth);
    expect((await engine.programmed([state.pods[3]!])).find((p) => p.hostVeth === lab.pods[3]!.hostVeth)).toEqual(state.pods[3]);
  }, 20_000);

  gate.test("a change that denies a flow stops its established TCP connection within a second", async () => {
    const [p0, p1, , p3] = lab.pods as [LabPod, LabPod, LabPod, LabPod];
    const open: NodePolicyState = { nodeAddresses: [lab.node.v4], pods: lab.pods.map((p) => podState(p, OPEN, OPEN)) };
    await engine.apply(open);
    expect(await lab.watch(p0.ns, p1.v4, 8080, "cut")).toBe(true);
    await Bun.sleep(300);
    const denying = structuredClone(open);
    denying.pods[1] = podState(p1, { kind: "rules", rules: [{ cidr: `${p3.v4}/32`, except: [], ports: [] }] }, OPEN);
    // Echoes are counted and timed inside the client pod's agent: its clock is compared only with itself.
    const before = await lab.peek(p0.ns, "cut");
    const t0 = performance.now();
    await engine.apply(denying);
    const applyMs = performance.now() - t0;
    const applied = await lab.peek(p0.ns, "cut");
    await Bun.sleep(1000);
    const after = await lab.report(p0.ns, "cut");
    expect(before.echoes).toBeGreaterThan(5); // the connection was carrying echoes (one every 10 ms)
    const sinceApplied = after.lastEchoAt - applied.at;
    console.log(`established connection: ${after.echoes - applied.echoes} echoes after the apply (${applyMs.toFixed(1)} ms) was done; last echo ${sinceApplied.toFixed(1)} ms after it`);
    // At most one echo already in flight when the transaction went in; none in the second after.
    expect(after.echoes - applied.echoes).toBeLessThanOrEqual(1);
    expect(sinceApplied).toBeLessThan(1000);
    expect(await lab.probe(p0.ns, p1.v4, "tcp", 8080)).toBe(false);
  }, 20_000);

  gate.test("hand edits are repaired by the next apply: a deleted rule, a flushed base chain, a stray chain", async () => {
    const state = mixedState();
    await engine.apply(state);
    const [p0, p1, p2] = lab.pods as [LabPod, LabPod, LabPod];
    const chain = `in-${p1.hostVeth}`;
    const listing = JSON.parse(nft("-a", "-j", "list", "chain", "inet", engine.table, chain).out);
    const handle = listing.nftables.find((i: any) => i.rule && JSON.stringify(i.rule.expr).includes(p0.v4))?.rule.handle;
    nft("delete", "rule", "inet", engine.table, chain, "handle", String(handle));
    nft("flush", "chain", "inet", engine.table, "egress");
    nft("add", "chain", "inet", engine.table, "eg-stray");
    expect(await lab.probe(p0.ns, p1.v4, "tcp", 8080)).toBe(false); // the deleted rule allowed it
    expect(await lab.probe(p2.ns, p0.v4, "tcp", 8080)).toBe(true); // egress dispatch gone: pod2 escapes
    const r = await engine.apply(state);
    expect(r.changedPods).toEqual([p1.hostVeth]);
    expect(r.removedPods).toEqual(["stray"]);
    expect(await lab.probe(p0.ns, p1.v4, "tcp", 8080)).toBe(true);
    expect(await lab.probe(p2.ns, p0.v4, "tcp", 8080)).toBe(false);
    expect(nft("list", "table", "inet", engine.table).out).not.toContain("eg-stray");
    // the skeleton alone: no pod changed, the read-back still finds the base chain emptied
    nft("flush", "chain", "inet", engine.table, "egress");
    expect(await lab.probe(p2.ns, p0.v4, "tcp", 8080)).toBe(true);
    expect((await engine.apply(state)).changedPods).toEqual([]);
    expect(await lab.probe(p2.ns, p0.v4, "tcp", 8080)).toBe(false);
  }, 20_000);

  gate.test("between read-backs apply trusts its own writes, and a table removed behind its back is rebuilt", async () => {
    const trusting = createNftEngine({ netns: lab.node.ns, log, verifyIntervalMs: 60_000 });
    const state = mixedState();
    await trusting.apply(state); // first apply: reads back
    state.pods[2] = podState(lab.pods[2]!, OPEN, OPEN); // standard's default: its chains go
    expect(await trusting.apply(state)).toMatchObject({ changedPods: [], removedPods: [lab.pods[2]!.hostVeth] });
    expect(await lab.probe(lab.pods[2]!.ns, lab.pods[0]!.v4, "tcp", 8080)).toBe(true);
    nft("delete", "table", "inet", trusting.table);
    const fewer = { ...state, pods: state.pods.slice(0, 3) }; // removing pod3 names chains that are gone: the transaction fails, apply reads back and retries
    const r = await trusting.apply(fewer);
    expect(r.changedPods.sort()).toEqual(lab.pods.slice(0, 2).map((p) => p.hostVeth).sort());
    expect(await lab.probe(lab.pods[1]!.ns, lab.pods[2]!.v4, "tcp", 8080)).toBe(true);
    expect(await lab.probe(lab.pods[2]!.ns, lab.pods[1]!.v4, "tcp", 9090)).toBe(false); // pod1's ingress rules are back
    expect((await trusting.programmed()).map((p) => p.hostVeth).sort()).toEqual(lab.pods.slice(0, 2).map((p) => p.hostVeth).sort());
    trusting.close();
  }, 20_000);

  gate.test("between read-backs a pod removed or added is written alone, and the kernel ends as a full write leaves it", async () => {
    const trusting = createNftEngine({ netns: lab.node.ns, log, verifyIntervalMs: 60_000 });
    const state = mixedState();
    await trusting.apply(state); // first apply: reads back
    const [, , p2, p3] = lab.pods as [LabPod, LabPod, LabPod, LabPod];
    const without = { ...state, pods: state.pods.filter((p) => p.hostVeth !== p2.hostVeth) };
    expect(await trusting.apply(without)).toMatchObject({ changedPods: [], removedPods: [p2.hostVeth] });
    expect(await lab.probe(p3.ns, p2.v4, "tcp", 8080)).toBe(true); // pod2 no longer isolated
    expect(run(["ip", "netns", "exec", lab.node.ns, "nft", "list", "chain", "inet", trusting.table, `in-${p2.hostVeth}`], true).code).not.toBe(0); // its chains are gone
    expect((await trusting.apply(state)).changedPods).toEqual([p2.hostVeth]);
    expect(await lab.probe(p3.ns, p2.v4, "tcp", 8080)).toBe(false); // denied both ways again
    // a read-back finds nothing to repair: the skeleton and the dispatch maps are exactly as a full write leaves them
    expect(await engine.apply(state)).toMatchObject({ changedPods: [], removedPods: [], durationMs: 0 });
    trusting.close();
  }, 20_000);

  gate.test("the background read-back repairs a hand edit without any apply", async () => {
    const watching = createNftEngine({ netns: lab.node.ns, log, verifyIntervalMs: 300 });
    try {
      const state = mixedState();
      await watching.apply(state);
      const [p0, p1] = lab.pods as [LabPod, LabPod];
      nft("flush", "chain", "inet", watching.table, `in-${p1.hostVeth}`); // pod1's ingress: no rule, no drop
      expect(await lab.probe(lab.pods[3]!.ns, p1.v4, "tcp", 9090)).toBe(true); // let through while edited
      const deadline = performance.now() + 5000;
      while (performance.now() < deadline && (await lab.probe(lab.pods[3]!.ns, p1.v4, "tcp", 9090, 200))) await Bun.sleep(100);
      expect(await lab.probe(lab.pods[3]!.ns, p1.v4, "tcp", 9090)).toBe(false);
      expect(await lab.probe(p0.ns, p1.v4, "tcp", 8080)).toBe(true);
    } finally {
      watching.close();
    }
  }, 20_000);

  gate.test("pods selected alike share one named address set: repaired when edited by hand, removed when no pod refers to it; a list of one pod stays anonymous", async () => {
    const [p0, p1, p2, p3] = lab.pods as [LabPod, LabPod, LabPod, LabPod];
    // pod0 and NAMED_SET_MIN - 1 addresses that are not adjacent (one span each): a named set, which pod2 and pod3 both allow in
    const far = Array.from({ length: NAMED_SET_MIN - 1 }, (_, i) => `10.99.7.${2 * i + 1}`);
    const peers: DirectionState = { kind: "rules", rules: [p0.v4, ...far].map((a) => ({ cidr: `${a}/32`, except: [], ports: [{ protocol: "TCP", port: 8080 }] })) };
    const state: NodePolicyState = { nodeAddresses: [lab.node.v4], pods: [podState(p0, OPEN, OPEN), podState(p1, OPEN, OPEN), podState(p2, peers, OPEN), podState(p3, peers, OPEN)] };
    await engine.apply(state);
    const sets = () => (JSON.parse(nft("-j", "list", "sets", "inet").out).nftables as any[]).filter((i) => i.set?.table === engine.table && /^a[46]-/.test(i.set.name)).map((i) => i.set);
    const [set, ...others] = sets();
    expect(others).toEqual([]);
    expect(set.elem.sort()).toEqual([p0.v4, ...far].sort());
    for (const p of [p2, p3]) expect(nft("list", "chain", "inet", engine.table, `in-${p.hostVeth}`).out).toContain(`ip saddr @${set.name} tcp dport 8080 accept`);
    expect([await lab.probe(p0.ns, p2.v4, "tcp", 8080), await lab.probe(p0.ns, p3.v4, "tcp", 8080), await lab.probe(p1.ns, p2.v4, "tcp", 8080)]).toEqual([true, true, false]);
    // an element deleted by hand: both pods lose the peer, and the next apply (a read-back) rewrites the set and both pods
    nft("delete", "element", "inet", engine.table, set.name, `{ ${p0.v4} }`);
    expect(await lab.probe(p0.ns, p3.v4, "tcp", 8080)).toBe(false);
    expect((await engine.apply(state)).changedPods.sort()).toEqual([p2.hostVeth, p3.hostVeth].sort());
    expect([await lab.probe(p0.ns, p2.v4, "tcp", 8080), await lab.probe(p0.ns, p3.v4, "tcp", 8080)]).toEqual([true, true]);
    expect(await engine.apply(state)).toMatchObject({ changedPods: [], removedPods: [], durationMs: 0 });
    // an agent restarted finds the pods and their set as written and leaves them alone
    const restarted = createNftEngine({ netns: lab.node.ns, log, verifyIntervalMs: 60_000 });
    expect(await restarted.apply(state)).toMatchObject({ changedPods: [], removedPods: [], durationMs: 0 });
    // between read-backs: pod1 joins the set's users, then leaves (the set stays for pod2 and pod3)
    const joined = { ...state, pods: state.pods.map((p, i) => (i === 1 ? podState(p1, peers, OPEN) : p)) };
    expect((await restarted.apply(joined)).changedPods).toEqual([p1.hostVeth]);
    expect([await lab.probe(p0.ns, p1.v4, "tcp", 8080), await lab.probe(p2.ns, p1.v4, "tcp", 8080)]).toEqual([true, false]);
    expect((await restarted.apply(state)).removedPods).toEqual([p1.hostVeth]);
    expect(sets().map((x) => x.name)).toEqual([set.name]);
    expect(await lab.probe(p0.ns, p3.v4, "tcp", 8080)).toBe(true);
    restarted.close();
    // a long list only one pod refers to stays an anonymous set: pod2 alone with other peers, pod3 open; the shared set goes
    const alone: DirectionState = { kind: "rules", rules: [p0.v4, ...far.slice(1), "10.99.9.9"].map((a) => ({ cidr: `${a}/32`, except: [], ports: [{ protocol: "TCP", port: 8080 }] })) };
    state.pods = [podState(p0, OPEN, OPEN), podState(p1, OPEN, OPEN), podState(p2, alone, OPEN), podState(p3, OPEN, OPEN)];
    expect(await engine.apply(state)).toMatchObject({ changedPods: [p2.hostVeth], removedPods: [p3.hostVeth] });
    expect(sets()).toEqual([]);
    expect(nft("list", "chain", "inet", engine.table, `in-${p2.hostVeth}`).out).toContain("ip saddr { ");
    expect([await lab.probe(p0.ns, p2.v4, "tcp", 8080), await lab.probe(p1.ns, p2.v4, "tcp", 8080), await lab.probe(p1.ns, p3.v4, "tcp", 8080)]).toEqual([true, false, true]);
    // pod2 open too (standard's default): its chains go
    state.pods = state.pods.map((p) => ({ ...p, ingress: OPEN }));
    expect((await engine.apply(state)).removedPods).toEqual([p2.hostVeth]);
    expect(await lab.probe(p1.ns, p2.v4, "tcp", 8080)).toBe(true);
  }, 20_000);

  gate.test("bad input names the field and changes nothing", async () => {
    const before = nft("list", "table", "inet", engine.table).out;
    const state = mixedState();
    state.pods[1] = { ...state.pods[1]!, hostVeth: "bad name" };
    let error: any;
    await engine.apply(state).catch((e) => (error = e));
    expect(error?.code).toBe("POLICY_STATE_INVALID");
    expect(error?.field).toBe("pods.1.hostVeth");
    expect(nft("list", "table", "inet", engine.table).out).toBe(before);
  });

  gate.test("removeAll leaves nothing and traffic flows again", async () => {
    await engine.apply(mixedState());
    await engine.removeAll();
    expect(nft("list", "tables").out).not.toContain(engine.table);
    expect(await lab.probe(lab.pods[0]!.ns, lab.pods[2]!.v4, "tcp", 8080)).toBe(true);
    await engine.removeAll(); // nothing left to remove is not an error
    expect(await engine.programmed()).toEqual([]);
  });
});
