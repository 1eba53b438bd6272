// NETWORK_POLICY_ENFORCING_MODE through the compiled shim, addr-broker as its own process and the
// real net-config in a node namespace (root). Strict with the agent down: the ADD fails with the
// policy code naming the agent's socket and leaves no address assigned and nothing wired.
// Standard with the agent down: the ADD succeeds. With an agent serving the socket (the policy
// agent's service with the in-memory engine), the ADD answers after the agent programmed the pod
// on the veth net-config made, and DEL makes it forget the pod; DEL succeeds with the agent down.
// The agent is told beside the wiring: a slow agent that then fails, while the real wiring
// succeeded, fails a strict ADD and leaves no address, no veth and no pod in the agent's book.
import { afterAll, expect } from "bun:test";
import { join } from "node:path";
import { serveUnix } from "../../shared/ipc/server.ts";
import { MemoryEngine } from "../../services/policy-agent/test-support/memory-engine.ts";
import { MemoryPodBook } from "../../services/policy-agent/src/adapters/pod-book.ts";
import { createPolicyAgentService } from "../../services/policy-agent/src/app/app.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const gate = requires(...NAMESPACES, "iptables");
const started: CniHarness[] = [];
afterAll(async () => {
  for (const h of started) await h.stop();
});

async function harness(mode: "standard" | "strict"): Promise<CniHarness> {
  const h = new CniHarness({ netConfig: "real", brokerEnv: { NETWORK_POLICY_ENFORCING_MODE: mode } });
  started.push(h);
  await h.start();
  return h;
}

/** A strict policy agent on the in-memory engine, serving on the node's policy-agent socket. */
async function serveStrictAgent(h: CniHarness) {
  const engine = new MemoryEngine();
  const agent = createPolicyAgentService({ engine, book: new MemoryPodBook(), mode: "strict", enabled: true, vethPrefix: "eni", log: { info() {}, warn() {}, error() {} } });
  agent.agent.setNodeIps([h.pool.snapshot!.nodeIps?.ipv4 ?? h.pool.snapshot!.enis[0]!.primaryIp]);
  const server = await serveUnix(agent.frame.app, join(h.runDir, "policy-agent.sock"));
  return { engine, agent, server };
}

function podEnv(h: CniHarness, id: string) {
  return { CNI_CONTAINERID: id, CNI_NETNS: h.netns(), CNI_IFNAME: "eth0", CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}` };
}

/** Host veths in the node namespace (pods' veths start with the default prefix "eni"). */
function nodeVeths(h: CniHarness): string[] {
  const out = Bun.spawnSync(["ip", "-n", h.node!.name, "-o", "link", "show"]).stdout.toString();
  return out
    .split("\n")
    .map((l) => /^\d+: ([^@:]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n && n.startsWith("eni"));
}

const assignedTo = async (h: CniHarness, id: string) => (await h.readCheckpoint()).allocations.filter((a) => a.containerID === id).map((a) => a.ipv4);

gate.test("strict, agent down: the ADD fails with code 104 naming the agent's socket; nothing assigned or wired", async () => {
  const h = await harness("strict");
  const id = `npa${process.pid}s`;
  const env = podEnv(h, id);
  const add = await h.exec({ ...env, CNI_COMMAND: "ADD" }, h.conf("1.0.0"));
  expect(add.code).not.toBe(0);
  expect(add.json.code).toBe(104);
  expect(add.json.msg).toContain(join(h.runDir, "policy-agent.sock"));
  expect(await assignedTo(h, id)).toEqual([]);
  expect(nodeVeths(h)).toEqual([]);
  // The pod's namespace got no address either.
  const inPod = Bun.spawnSync(["ip", "-n", h.netnsName(env.CNI_NETNS), "-o", "addr", "show", "scope", "global"]).stdout.toString();
  expect(inPod.trim()).toBe("");
  // DEL of the failed pod succeeds (the runtime cleans up after a failed ADD).
  expect((await h.exec({ ...env, CNI_COMMAND: "DEL" }, h.conf("1.0.0"))).code).toBe(0);
}, 60_000);

gate.test("standard, agent down: the ADD succeeds (logged), the pod is wired; DEL succeeds", async () => {
  const h = await harness("standard");
  const id = `npa${process.pid}d`;
  const env = podEnv(h, id);
  const add = await h.exec({ ...env, CNI_COMMAND: "ADD" }, h.conf("1.0.0"));
  expect(add.code).toBe(0);
  const address = add.json.ips[0].address.split("/")[0];
  expect(await assignedTo(h, id)).toEqual([address]);
  expect(nodeVeths(h)).toEqual([add.json.interfaces[0].name]);
  expect((await h.exec({ ...env, CNI_COMMAND: "DEL" }, h.conf("1.0.0"))).code).toBe(0);
  expect(await assignedTo(h, id)).toEqual([]);
}, 60_000);

gate.test("strict, agent serving: the pod is programmed on its real veth before the ADD answers; DEL removes it; DEL with the agent gone succeeds", async () => {
  const h = await harness("strict");
  const { engine, server } = await serveStrictAgent(h);
  try {
    const id = `npa${process.pid}r`;
    const env = podEnv(h, id);
    const add = await h.exec({ ...env, CNI_COMMAND: "ADD" }, h.conf("1.0.0"));
    expect(add.code).toBe(0);
    const hostVeth = add.json.interfaces[0].name;
    const address = add.json.ips[0].address.split("/")[0];
    expect(nodeVeths(h)).toEqual([hostVeth]);
    expect(await engine.programmed()).toEqual([{ namespace: "default", name: id, hostVeth, addresses: [address], ingress: { kind: "deny" }, egress: { kind: "deny" } }]);
    expect((await h.exec({ ...env, CNI_COMMAND: "DEL" }, h.conf("1.0.0"))).code).toBe(0);
    expect(await engine.programmed()).toEqual([]);

    const id2 = `npa${process.pid}q`;
    const env2 = podEnv(h, id2);
    expect((await h.exec({ ...env2, CNI_COMMAND: "ADD" }, h.conf("1.0.0"))).code).toBe(0);
    await server.stop();
    const del = await h.exec({ ...env2, CNI_COMMAND: "DEL" }, h.conf("1.0.0"));
    expect(del.code).toBe(0);
    expect(await assignedTo(h, id2)).toEqual([]);
  } finally {
    await server.stop();
  }
}, 60_000);

gate.test("strict, agent slow then failing while the real wiring succeeded: the ADD fails with 104; no address, no veth, the agent's book does not keep the pod", async () => {
  const h = await harness("strict");
  const { engine, agent, server } = await serveStrictAgent(h);
  let open = () => {};
  engine.gate = new Promise<void>((r) => (open = r));
  try {
    const id = `npa${process.pid}f`;
    const env = podEnv(h, id);
    let answered = false;
    const add = h.exec({ ...env, CNI_COMMAND: "ADD" }, h.conf("1.0.0")).finally(() => (answered = true));
    // the agent holds the pod's call while net-config wires the pod for real
    const end = Date.now() + 20_000;
    while (nodeVeths(h).length === 0 && Date.now() < end) await Bun.sleep(20);
    expect(nodeVeths(h)).toHaveLength(1);
    expect(agent.agent.pods.get("default", id)).toBeDefined();
    expect(answered).toBe(false);
    engine.failNext();
    open();
    const out = await add;
    expect(out.json.code).toBe(104);
    expect(await assignedTo(h, id)).toEqual([]);
    expect(nodeVeths(h)).toEqual([]);
    const inPod = Bun.spawnSync(["ip", "-n", h.netnsName(env.CNI_NETNS), "-o", "addr", "show", "scope", "global"]).stdout.toString();
    expect(inPod.trim()).toBe("");
    expect(agent.agent.pods.get("default", id)).toBeUndefined();
    expect(await engine.programmed()).toEqual([]);
  } finally {
    open();
    await server.stop();
  }
}, 60_000);
