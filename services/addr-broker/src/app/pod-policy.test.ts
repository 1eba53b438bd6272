// NETWORK_POLICY_ENFORCING_MODE in-process: addr-broker (app.request) with fake net-config and
// pool-manager, and the policy agent's own service (in-memory engine) on a real socket. What
// the agent holds, what addr-broker assigned and what net-config wired after each ADD and DEL.
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

const netns = new Set<string>();
const quiet = { info() {}, warn() {}, error() {} };

async function setup(mode: "none" | "standard" | "strict", agentServing = true) {
  const sock = (name: string) => h.path(`${name}${h.started}.sock`);
  const net = new FakeNetConfig("eni", (p) => netns.has(p));
  const pool = new FakePoolManager(testCapacity());
  await h.serve(net.serve(sock("net")), pool.serve(sock("pool")));
  const engine = new MemoryEngine();
  const agent = createPolicyAgentService({ engine, book: new MemoryPodBook(), mode: mode === "none" ? "standard" : mode, enabled: true, vethPrefix: "eni", log: quiet });
  agent.agent.setNodeIps(["10.0.0.10"]);
  const agentSocket = sock("policy-agent");
  if (agentServing) await h.serve(serveUnix(agent.frame.app, agentSocket));
  const settings = { ...DEFAULT_SETTINGS, missWaitMs: 0, capacityWaitMs: 200, netConfigSocket: sock("net"), networkPolicyMode: mode, policyAgentSocket: agentSocket };
  const svc = await h.start(settings, {
    store: new MemoryCheckpointStore(),
    kernel: noKernel,
    netConfig: netConfigClient(sock("net"), { kernel: noKernel, vethPrefix: "eni" }),
    pool: poolManagerClient(sock("pool")),
    netnsExists: (p) => netns.has(p),
    policyAgent: policyAgentClient(agentSocket, 2_000),
  });
  return { svc, net, engine, agent, agentSocket };
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
