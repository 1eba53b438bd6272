// NETWORK_POLICY_ENFORCING_MODE in-process: addr-broker (app.request) with fake net-config and
// pool-manager, and the policy agent's own service (in-memory engine) on a real socket. What
// the agent holds, what addr-broker assigned and what net-config wired after each ADD and DEL,
// also with the agent or net-config held (slow), failing or unreachable: the agent is told
// beside the wiring (and the unwire), and every outcome is as when it was told after.
import { expect, test } from "bun:test";
import { serveUnix } from "../../../../shared/ipc/server.ts";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../../test-support/fakes.ts";
import { MemoryCheckpointStore } from "../adapters/checkpoint-store.ts";
import { netConfigClient, policyAgentClient, poolManagerClient } from "../adapters/peers.ts";
import type { AddrBroker } from "./app.ts";
import { AppHarness, noKernel } from "../../test-support/app-harness.ts";
import { DEFAULT_SETTINGS } from "./settings-from-config.ts";
import { MemoryEngine } from "../../../policy-agent/test-support/memory-engine.ts";
import { MemoryPodBook } from "../../../policy-agent/src/adapters/pod-book.ts";
import { createPolicyAgentService } from "../../../policy-agent/src/app/app.ts";

const h = new AppHarness("abpolicy-");

/** A held gate and the function that opens it. */
function held(): { gate: Promise<void>; open: () => void } {
  let open = () => {};
  const gate = new Promise<void>((r) => (open = r));
  return { gate, open };
}

/** Whether `p` has settled, after letting pending work run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await Bun.sleep(20);
  return done;
}

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 3_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

const netns = new Set<string>();
const quiet = { info() {}, warn() {}, error() {} };

/** `netVethPrefix`: the prefix the fake net-config names veths with (addr-broker's is "eni"). */
async function setup(mode: "none" | "standard" | "strict", agentServing = true, netVethPrefix = "eni") {
  const sock = (name: string) => h.path(`${name}${h.started}.sock`);
  const net = new FakeNetConfig(netVethPrefix, (p) => netns.has(p));
  const pool = new FakePoolManager(testCapacity());
  await h.serve(net.serve(sock("net")), pool.serve(sock("pool")));
  const engine = new MemoryEngine();
  const agent = createPolicyAgentService({ engine, book: new MemoryPodBook(), mode: mode === "none" ? "standard" : mode, enabled: true, vethPrefix: "eni", log: quiet });
  agent.agent.setNodeIps(["10.0.0.10"]);
  const agentSocket = sock("policy-agent");
  if (agentServing) await h.serve(serveUnix(agent.frame.app, agentSocket));
  const settings = { ...DEFAULT_SETTINGS, missWaitMs: 0, capacityWaitMs: 200, netConfigSocket: sock("net"), networkPolicyMode: mode, policyAgentSocket: agentSocket };
  const store = new MemoryCheckpointStore();
  const svc = await h.start(settings, {
    store,
    kernel: noKernel,
    netConfig: netConfigClient(sock("net"), { kernel: noKernel, vethPrefix: "eni" }),
    pool: poolManagerClient(sock("pool")),
    netnsExists: (p) => netns.has(p),
    policyAgent: policyAgentClient(agentSocket, 2_000),
  });
  return { svc, net, engine, agent, agentSocket, store };
}

/** After a failed ADD: no address assigned, nothing wired, the agent neither holds the pod nor has rules for it. */
async function expectNothingLeft(n: Pick<Awaited<ReturnType<typeof setup>>, "svc" | "net" | "engine" | "agent">): Promise<void> {
  expect(n.svc.broker.allocations()).toEqual([]);
  expect(n.net.pods.size).toBe(0);
  expect(n.agent.agent.pods.size).toBe(0);
  expect(await n.engine.programmed()).toEqual([]);
}

async function cni(svc: AddrBroker, command: "ADD" | "DEL", id: string) {
  const ns = `/run/netns/t-${id}`;
  netns.add(ns);
  const env = { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: "eth0", CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}` };
  const res = await svc.frame.app.request("/v1/cni", { method: "POST", body: JSON.stringify({ env, stdin: JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni" }) }) });
  const out = (await res.json()) as { exitCode: number; stdout: string };
  return { exitCode: out.exitCode, json: out.stdout ? JSON.parse(out.stdout) : undefined };
}

test("none: the agent is never told (it knows no pod), the ADD answers", async () => {
  const { svc, agent } = await setup("none");
  expect((await cni(svc, "ADD", "n1")).exitCode).toBe(0);
  expect(agent.agent.pods.size).toBe(0);
});

test("strict: the pod is programmed denied on the veth net-config made before the ADD answers; DEL removes it", async () => {
  const { svc, net, engine } = await setup("strict");
  const add = await cni(svc, "ADD", "s1");
  expect(add.exitCode).toBe(0);
  const hostVeth = net.pods.get("s1/eth0")!.hostVeth;
  expect(await engine.programmed()).toEqual([
    { namespace: "default", name: "s1", hostVeth, addresses: [add.json.ips[0].address.split("/")[0]], ingress: { kind: "deny" }, egress: { kind: "deny" } },
  ]);
  expect((await cni(svc, "DEL", "s1")).exitCode).toBe(0);
  expect(await engine.programmed()).toEqual([]);
});

test("strict: an agent that answers success=false fails the ADD with 104; the address is released and the wiring undone", async () => {
  const { svc, net, engine, agentSocket } = await setup("strict");
  engine.failNext();
  const add = await cni(svc, "ADD", "s2");
  expect(add.exitCode).not.toBe(0);
  expect(add.json.code).toBe(104);
  expect(add.json.msg).toContain(agentSocket);
  expect(svc.broker.allocations()).toEqual([]);
  expect(net.pods.size).toBe(0);
});

test("standard: the same failure is logged and the ADD answers; an unreachable agent too", async () => {
  const { svc, engine } = await setup("standard");
  engine.failNext();
  expect((await cni(svc, "ADD", "d1")).exitCode).toBe(0);
  const down = await setup("standard", false);
  expect((await cni(down.svc, "ADD", "d2")).exitCode).toBe(0);
  expect(down.svc.broker.allocations().map((a) => a.containerId)).toEqual(["d2"]);
});

test("strict: DEL with the agent unreachable succeeds and releases the address", async () => {
  const { svc } = await setup("strict", false);
  // No agent: the ADD fails, nothing stays; the DEL the runtime sends next succeeds.
  expect((await cni(svc, "ADD", "s3")).exitCode).not.toBe(0);
  expect((await cni(svc, "DEL", "s3")).exitCode).toBe(0);
  expect(svc.broker.allocations()).toEqual([]);
});

test("strict: the agent is told beside the wiring: with net-config held, the pod is already denied on the veth to be made; the ADD answers once the wiring is done", async () => {
  const { svc, net, engine, agent } = await setup("strict");
  const wiring = held();
  net.wireGate = wiring.gate;
  const add = cni(svc, "ADD", "o1");
  await until("the agent to program the pod", async () => (await engine.programmed()).length === 1);
  const [pod] = await engine.programmed();
  expect(pod).toMatchObject({ name: "o1", ingress: { kind: "deny" }, egress: { kind: "deny" } });
  expect(net.pods.size).toBe(0); // no veth yet
  expect(await settled(add)).toBe(false);
  wiring.open();
  const out = await add;
  expect(out.exitCode).toBe(0);
  expect(net.pods.get("o1/eth0")!.hostVeth).toBe(pod!.hostVeth);
  expect(pod!.addresses).toEqual([out.json.ips[0].address.split("/")[0]]);
  expect(agent.agent.pods.get("default", "o1")?.hostVeth).toBe(pod!.hostVeth);
});

test("standard and strict: a slow agent holds the ADD's answer after the wiring is done", async () => {
  for (const mode of ["standard", "strict"] as const) {
    const { svc, net, engine } = await setup(mode);
    const agentCall = held();
    engine.gate = agentCall.gate;
    const add = cni(svc, "ADD", `w-${mode}`);
    await until("the wiring", () => net.pods.has(`w-${mode}/eth0`));
    expect(await settled(add)).toBe(false);
    agentCall.open();
    expect((await add).exitCode).toBe(0);
    expect((await engine.programmed()).map((p) => p.name)).toEqual([`w-${mode}`]);
  }
});

test("strict: the agent failing after the wiring succeeded fails the ADD with 104; no address, no veth, and the agent's book does not keep the pod", async () => {
  const { svc, net, engine, agent } = await setup("strict");
  const agentCall = held();
  engine.gate = agentCall.gate;
  engine.failNext();
  const add = cni(svc, "ADD", "f1");
  await until("the wiring", () => net.pods.has("f1/eth0"));
  agentCall.open();
  const out = await add;
  expect(out.json.code).toBe(104);
  await expectNothingLeft({ svc, net, engine, agent });
  // the runtime's retry gets a pod the agent holds, on a veth that exists
  const retry = await cni(svc, "ADD", "f1");
  expect(retry.exitCode).toBe(0);
  expect((await engine.programmed()).map((p) => p.hostVeth)).toEqual([net.pods.get("f1/eth0")!.hostVeth]);
});

test("standard and strict: the wiring failing after the agent was told fails the ADD; the agent has forgotten the pod and the address is free", async () => {
  for (const mode of ["standard", "strict"] as const) {
    const { svc, net, engine, agent } = await setup(mode);
    net.failWires = 1;
    const out = await cni(svc, "ADD", `x-${mode}`);
    expect(out.exitCode).not.toBe(0);
    expect(out.json.msg).toContain("net-config could not wire the pod");
    await expectNothingLeft({ svc, net, engine, agent });
  }
});

test("strict: the wiring failing while the agent is still at work: the agent's late answer does not leave the pod in its book", async () => {
  const { svc, net, engine, agent } = await setup("strict");
  const agentCall = held();
  engine.gate = agentCall.gate;
  net.failWires = 1;
  const add = cni(svc, "ADD", "x2");
  await until("the agent to have the pod", () => agent.agent.pods.size === 1);
  expect(await settled(add)).toBe(false);
  agentCall.open();
  expect((await add).exitCode).not.toBe(0);
  expect(agent.agent.pods.size).toBe(0);
  expect(await engine.programmed()).toEqual([]);
  expect(svc.broker.allocations()).toEqual([]);
});

test("strict: the checkpoint write failing after the agent was told: no address, no veth, the agent has forgotten the pod", async () => {
  const { svc, net, engine, agent, store } = await setup("strict");
  store.failWrites = 1;
  const out = await cni(svc, "ADD", "c1");
  expect(out.exitCode).not.toBe(0);
  expect(out.json.msg).toContain("checkpoint");
  await expectNothingLeft({ svc, net, engine, agent });
});

test("strict: an unreachable agent fails the ADD with 104 and leaves no address and no veth", async () => {
  const { svc, net, agentSocket } = await setup("strict", false);
  const out = await cni(svc, "ADD", "u1");
  expect(out.json.code).toBe(104);
  expect(out.json.msg).toContain(agentSocket);
  expect(svc.broker.allocations()).toEqual([]);
  expect(net.pods.size).toBe(0);
});

test("strict: a retried ADD the agent refuses fails, and the pod keeps its address, its veth and its place in the agent's book", async () => {
  const { svc, net, engine, agent } = await setup("strict");
  const first = await cni(svc, "ADD", "r1");
  expect(first.exitCode).toBe(0);
  engine.failNext();
  expect((await cni(svc, "ADD", "r1")).json.code).toBe(104);
  expect(svc.broker.allocations().map((a) => a.address)).toEqual([first.json.ips[0].address.split("/")[0]]);
  expect(net.pods.has("r1/eth0")).toBe(true);
  expect(agent.agent.pods.get("default", "r1")?.hostVeth).toBe(net.pods.get("r1/eth0")!.hostVeth);
});

test("strict: DEL tells the agent beside the unwire: with net-config's unwire held the agent has already forgotten the pod; DEL answers after the unwire", async () => {
  const { svc, net, engine, agent } = await setup("strict");
  expect((await cni(svc, "ADD", "d3")).exitCode).toBe(0);
  const unwiring = held();
  net.unwireGate = unwiring.gate;
  const del = cni(svc, "DEL", "d3");
  await until("the agent to forget the pod", () => agent.agent.pods.size === 0);
  expect(await engine.programmed()).toEqual([]);
  expect(await settled(del)).toBe(false);
  unwiring.open();
  expect((await del).exitCode).toBe(0);
  expect(net.pods.size).toBe(0);
  expect(svc.broker.allocations()).toEqual([]);
});

test("standard and strict: DEL with the agent failing or slow succeeds and releases the address", async () => {
  for (const mode of ["standard", "strict"] as const) {
    const { svc, net, engine, agent } = await setup(mode);
    expect((await cni(svc, "ADD", `e-${mode}`)).exitCode).toBe(0);
    engine.failNext();
    expect((await cni(svc, "DEL", `e-${mode}`)).exitCode).toBe(0);
    expect(svc.broker.allocations()).toEqual([]);
    expect(net.pods.size).toBe(0);
    expect(agent.agent.pods.size).toBe(0); // forgotten by name even though its apply failed
    expect((await cni(svc, "ADD", `s-${mode}`)).exitCode).toBe(0);
    const agentCall = held();
    engine.gate = agentCall.gate;
    const del = cni(svc, "DEL", `s-${mode}`);
    await until("the unwire", () => net.pods.size === 0);
    expect(await settled(del)).toBe(false);
    agentCall.open();
    expect((await del).exitCode).toBe(0);
    expect(svc.broker.allocations()).toEqual([]);
    expect(await engine.programmed()).toEqual([]);
  }
});

test("strict: when net-config names the veth otherwise than addr-broker expected, the agent ends up holding the pod on the veth that exists", async () => {
  const { svc, net, engine, agent } = await setup("strict", true, "vth");
  const add = await cni(svc, "ADD", "n2");
  expect(add.exitCode).toBe(0);
  const hostVeth = net.pods.get("n2/eth0")!.hostVeth;
  expect(hostVeth.startsWith("vth")).toBe(true);
  expect(add.json.interfaces[0].name).toBe(hostVeth);
  expect((await engine.programmed()).map((p) => p.hostVeth)).toEqual([hostVeth]);
  expect(agent.agent.pods.list().map((p) => p.hostVeth)).toEqual([hostVeth]);
});
