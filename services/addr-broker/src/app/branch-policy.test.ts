// Branch-ENI pods (security groups for pods) under NETWORK_POLICY_ENFORCING_MODE, in process:
// addr-broker (app.request) with fake pool-manager, a fake net-config branch port, a fake pod
// reader serving annotated pods, and the policy agent's own service (in-memory engine) on a real
// socket. What the agent holds and programs, what the branch record and the fake kernel keep,
// after each ADD and DEL, and when the agent refuses in strict.
import { expect, test } from "bun:test";
import type { BranchUnwiring, BranchWiring } from "../../../../shared/contracts/branch.ts";
import { serveUnix } from "../../../../shared/ipc/server.ts";
import { hostVethName } from "../../../../shared/naming.ts";
import { FakeNetConfig, FakePoolManager, testCapacity } from "../../test-support/fakes.ts";
import { MemoryCheckpointStore } from "../adapters/checkpoint-store.ts";
import { netConfigClient, policyAgentClient, poolManagerClient } from "../adapters/peers.ts";
import type { PodReaderPort } from "../adapters/pod-reader.ts";
import type { PodView } from "../core/pod-eni.ts";
import { AppHarness, cniCall, noKernel } from "../../test-support/app-harness.ts";
import { BranchBook, type BranchNetPort } from "./branch-pods.ts";
import { DEFAULT_SETTINGS } from "./settings-from-config.ts";
import { MemoryEngine } from "../../../policy-agent/test-support/memory-engine.ts";
import { MemoryPodBook } from "../../../policy-agent/src/adapters/pod-book.ts";
import { createPolicyAgentService } from "../../../policy-agent/src/app/app.ts";
import { assignedPods } from "../../../policy-agent/src/app/assigned-pods.ts";

const h = new AppHarness("abbranchnp-");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const TRUNK_MAC = "02:00:00:00:00:7e";

/** net-config's branch routes over a map standing for the kernel: one host veth per wired pod. */
class FakeBranchNet implements BranchNetPort {
  readonly veths = new Map<string, string>();
  async wire(w: BranchWiring) {
    const prefix = w.enforcingMode === "strict" ? "vlan" : (w.vethPrefix ?? "eni");
    const hostVeth = hostVethName(prefix, { namespace: w.podNamespace, name: w.podName, containerId: w.containerId, ifName: w.ifName });
    this.veths.set(`${w.containerId}/${w.ifName}`, hostVeth);
    return { hostVeth, hostMac: "0a:00:00:00:00:01", podMac: "0a:00:00:00:00:02", podIfIndex: 3 };
  }
  async unwire(w: BranchUnwiring) {
    const k = `${w.containerId}/${w.ifName}`;
    const had = this.veths.get(k);
    this.veths.delete(k);
    return { removed: had ? [had] : [] };
  }
  async check() {
    return { ok: true, problems: [] };
  }
}

function annotatedPod(name: string, vlanId: number): PodView {
  const eni = { eniId: `eni-0b${vlanId}`, ifAddress: `0a:00:00:00:01:${vlanId.toString(16).padStart(2, "0")}`, privateIp: `10.1.0.${100 + vlanId}`, ipv6Addr: "", vlanId, subnetCidr: "10.1.0.0/24", subnetV6Cidr: "", associationID: `a-${vlanId}` };
  return { uid: `uid-${name}`, annotations: { "vpc.amazonaws.com/pod-eni": JSON.stringify([eni]) }, firstContainer: { requests: { "vpc.amazonaws.com/pod-eni": "1" } } };
}

async function setup(mode: "standard" | "strict", sgMode: "standard" | "strict") {
  const sock = (name: string) => h.path(`${name}${h.started}.sock`);
  const capacity = testCapacity();
  const primary = capacity.enis[0]!;
  capacity.enis.push({ ...primary, id: "eni-0f7", deviceNumber: 2, routeTable: 3, mac: TRUNK_MAC, primaryIp: "10.0.0.12", primary: false, usable: false, trunk: true, cidrs: [] });
  const net = new FakeNetConfig("eni", () => true);
  const pool = new FakePoolManager(capacity);
  await h.serve(net.serve(sock("net")), pool.serve(sock("pool")));
  const engine = new MemoryEngine();
  const agent = createPolicyAgentService({ engine, book: new MemoryPodBook(), mode, enabled: true, vethPrefix: "eni", log: quiet });
  agent.agent.setNodeIps(["10.0.0.10"]);
  const agentSocket = sock("policy-agent");
  await h.serve(serveUnix(agent.frame.app, agentSocket));
  const branchNet = new FakeBranchNet();
  const pods = new Map<string, PodView>([["default/p7", annotatedPod("p7", 7)]]);
  const reader: PodReaderPort = { get: async (ns, name) => pods.get(`${ns}/${name}`), waitFor: async (ns, name) => pods.get(`${ns}/${name}`) };
  const book = new BranchBook(new MemoryCheckpointStore(), quiet);
  const settings = { ...DEFAULT_SETTINGS, missWaitMs: 0, capacityWaitMs: 200, netConfigSocket: sock("net"), networkPolicyMode: mode, policyAgentSocket: agentSocket, podSgEnforcingMode: sgMode };
  const svc = await h.start(settings, {
    store: new MemoryCheckpointStore(),
    kernel: noKernel,
    netConfig: netConfigClient(sock("net"), { kernel: noKernel, vethPrefix: "eni" }),
    pool: poolManagerClient(sock("pool")),
    netnsExists: () => true,
    policyAgent: policyAgentClient(agentSocket, 2_000),
    branch: { book, pods: reader, net: branchNet },
  });
  return { svc, engine, agent, branchNet, book };
}

const env = (command: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: "c7", CNI_NETNS: "/run/netns/t-c7", CNI_IFNAME: "eth0", CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p7" });
const CONF = JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni" });

for (const sgMode of ["strict", "standard"] as const) {
  test(`network policy strict, branch pod in SG mode ${sgMode}: the agent programs it on its host veth before the ADD answers; DEL has it forgotten`, async () => {
    const { svc, engine, agent, branchNet } = await setup("strict", sgMode);
    const add = await cniCall(svc, env("ADD"), CONF);
    expect(add.exitCode).toBe(0);
    const hostVeth = hostVethName(sgMode === "strict" ? "vlan" : "eni", { namespace: "default", name: "p7", containerId: "c7", ifName: "eth0" });
    expect(add.json.interfaces[0].name).toBe(hostVeth);
    expect(await engine.programmed()).toEqual([{ namespace: "default", name: "p7", hostVeth, addresses: ["10.1.0.107"], ingress: { kind: "deny" }, egress: { kind: "deny" } }]);
    // addr-broker's list, as the agent's reconcile reads it, names the pod on the same veth: a reconcile keeps it.
    const listed = (await (await svc.frame.app.request("/v1/assignments")).json()) as Parameters<typeof assignedPods>[0];
    const learned = assignedPods(listed).map((a) => hostVethName(a.vethPrefix ?? "eni", { namespace: a.podNamespace, name: a.podName, containerId: a.containerId, ifName: a.ifName }));
    expect(learned).toEqual([hostVeth]);
    expect((await cniCall(svc, env("DEL"), CONF)).exitCode).toBe(0);
    expect(branchNet.veths.size).toBe(0);
    expect(agent.agent.pods.size).toBe(0);
    expect(await engine.programmed()).toEqual([]);
  });
}

test("network policy strict, the agent refusing a branch pod: the ADD fails with 104; the branch pod is torn down and forgotten, the agent keeps nothing", async () => {
  const { svc, engine, agent, branchNet, book } = await setup("strict", "strict");
  engine.failNext();
  const add = await cniCall(svc, env("ADD"), CONF);
  expect(add.exitCode).not.toBe(0);
  expect(add.json.code).toBe(104);
  expect(branchNet.veths.size).toBe(0);
  expect(book.state.pods.size).toBe(0);
  expect(agent.agent.pods.size).toBe(0);
  expect(await engine.programmed()).toEqual([]);
  // the runtime's retry sets the pod up
  expect((await cniCall(svc, env("ADD"), CONF)).exitCode).toBe(0);
  expect((await engine.programmed()).map((p) => p.hostVeth)).toEqual([...branchNet.veths.values()]);
});

test("network policy standard, the agent refusing a branch pod: logged, the ADD answers and the pod stays wired", async () => {
  const { svc, engine, branchNet, book } = await setup("standard", "strict");
  engine.failNext();
  expect((await cniCall(svc, env("ADD"), CONF)).exitCode).toBe(0);
  expect(branchNet.veths.size).toBe(1);
  expect(book.state.pods.size).toBe(1);
});
