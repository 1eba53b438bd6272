/**
 * The policy agent's robustness on one-node local deployments (processes mode, the node's
 * services restarted by the deployment's supervisor as the kubelet restarts a container):
 * - standard: the agent SIGKILLed and restarted while an allowed client connects back to back
 *   and a denied client keeps trying: no allowed connection fails, no denied one gets through,
 *   the server's chain is in the kernel at every sample, the new agent reconciles (/debug); a
 *   rule deleted by hand with nft is put back;
 * - standard: a pod denied ingress and allowed to a server is deleted; a new pod given the same
 *   address (a 1 s cooldown, pods made until the address comes back) follows its own policies
 *   only, in the agent's state and in traffic;
 * - standard with the agent unreachable (its socket moved away): an ADD still succeeds;
 * - strict: at the moment ADD answers, the pod's chains in the kernel deny both ways and probes
 *   both ways fail; the agent unreachable: ADD fails with CNI error 104, nothing stays assigned,
 *   and the pod starts once the agent is back.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type NetworkPolicyMode, type RunningDeployment } from "../../deploy/local/deployment.ts";
import { writeStack } from "../../deploy/local/stack.ts";
import { CniError } from "../../deploy/local/cni-runtime.ts";
import { PodRunner } from "../../deploy/local/demo/pods.ts";
import { leftovers } from "../local/up-process.ts";
import { apply, kubectl } from "./kubelet/kube.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { brokerDebug, eventually, onNode } from "./podman/node-state.ts";
import { agentDebug, chainText, KubePodProbe, loop, policy, ruleLines, TABLE, tcpExchange } from "./np-life/harness.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl", "nft");

function usingDeployment(tag: string, networkPolicy: NetworkPolicyMode, o: { kubelets: boolean; env?: Record<string, string> }) {
  const base = mkdtempSync(join(tmpdir(), `e2e-nplife-${tag}-${process.pid}-`));
  const dir = join(base, "deploy");
  const ctx = { dep: undefined as RunningDeployment | undefined, runner: undefined as PodRunner | undefined };
  beforeAll(async () => {
    ctx.dep = await startDeployment({ dir, nodes: 1, networkPolicy, kubelets: o.kubelets, ...(o.env ? { env: o.env } : {}) });
    await writeStack(dir, ctx.dep.stack);
    ctx.runner = new PodRunner(ctx.dep);
  }, 90_000);
  afterAll(async () => {
    const problems = (await ctx.runner?.close()) ?? [];
    if (ctx.dep) {
      if (o.kubelets) {
        await kubectl(ctx.dep.stack, ["delete", "networkpolicy", "--all", "--wait=true"]).catch(() => undefined);
        await kubectl(ctx.dep.stack, ["delete", "pod", "--all", "--wait=true", "--timeout=60s"]).catch(() => undefined);
      }
      await ctx.dep.stop();
    }
    const left = await leftovers(dir);
    rmSync(base, { recursive: true, force: true });
    expect({ problems, left }).toEqual({ problems: [], left: [] });
  }, 90_000);
  const dep = () => ctx.dep!;
  const node = () => ctx.dep!.stack.nodes[0]!;
  /** The agent's socket moved away (the agent unreachable for addr-broker) while `fn` runs. */
  async function agentUnreachable<T>(fn: () => Promise<T>): Promise<T> {
    const socket = join(node().runDir!, "policy-agent.sock");
    renameSync(socket, `${socket}.away`);
    try {
      return await fn();
    } finally {
      if (existsSync(`${socket}.away`)) renameSync(`${socket}.away`, socket);
    }
  }
  return { ctx, dep, node, runner: () => ctx.runner!, agentUnreachable };
}

gate.describe("policy agent restarted, rules edited by hand, addresses reused (standard, root)", () => {
  // A 1 s cooldown kept until it ends: a deleted pod's address comes back to the next pods.
  const d = usingDeployment("std", "standard", { kubelets: true, env: { IP_COOLDOWN_PERIOD: "1", AWS_VPC_CNI_HOLD_COOLING_IPS: "true" } });
  const pods = new KubePodProbe(d.dep);
  let serverVeth = "";

  gate.test("SIGKILL of the agent under load: no allowed connection fails, no denied one passes, the rules stay; it reconciles", async () => {
    await pods.start("server", { app: "server" });
    await pods.start("allowed", { role: "allowed" });
    await pods.start("other", { role: "other" });
    await apply(d.dep().stack, policy("server-from-allowed", { podSelector: { matchLabels: { app: "server" } }, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: { role: "allowed" } } }], ports: [{ protocol: "TCP", port: 8080 }] }] }));
    await eventually("the policy enforced", 20_000, async () => ((await pods.reaches("allowed", "server")) && !(await pods.reaches("other", "server")) ? true : undefined));
    serverVeth = (await agentDebug(d.node())).pods.find((p) => p.name === "server")!.hostVeth;
    const before = ruleLines(await chainText(d.node(), `in-${serverVeth}`));
    expect(before.at(-1)).toBe("drop");

    const allowedLoad = loop(() => pods.reaches("allowed", "server"));
    const deniedLoad = loop(() => pods.reaches("other", "server"));
    // the kernel sampled all along: the server's chain exactly as before
    const samples = { taken: 0, changed: [] as string[][] };
    const sampler = loop(async () => {
      const now = ruleLines(await chainText(d.node(), `in-${serverVeth}`));
      samples.taken++;
      if (now.join("\n") !== before.join("\n")) samples.changed.push(now);
      await Bun.sleep(50);
      return true;
    });
    await Bun.sleep(1500);
    const services = d.dep().nodes[0]!.services;
    const oldPid = services.pid("policy-agent")!;
    const restartsBefore = services.restarts()["policy-agent"] ?? 0;
    process.kill(oldPid, "SIGKILL");
    const killedAt = Date.now();
    // the supervisor restarts it (1 s back-off); the new one lists PolicyEndpoints and reconciles
    const debug = await eventually("the restarted agent reconciled", 30_000, async () => {
      if ((services.restarts()["policy-agent"] ?? 0) <= restartsBefore || services.pid("policy-agent") === oldPid) return undefined;
      const dbg = await agentDebug(d.node());
      return dbg.policyEndpointsListed && dbg.lastApply && !dbg.lastApply.error && dbg.lastApply.at > killedAt ? dbg : undefined;
    });
    const reconciledMs = Date.now() - killedAt;
    await Bun.sleep(1500); // and a while after
    const [allowed, denied] = [await allowedLoad.stop(), await deniedLoad.stop()];
    await sampler.stop();
    console.log(`np-life: agent restart: reconciled ${reconciledMs} ms after SIGKILL; allowed ${allowed.ok} ok / ${allowed.failed} failed, denied ${denied.ok} passed / ${denied.failed} refused; ${samples.taken} kernel samples, ${samples.changed.length} differing`);
    expect(debug.pods.map((p) => p.name).sort()).toEqual(["allowed", "other", "server"]);
    expect(debug.policyEndpoints.map((p) => p.policy)).toEqual(["default/server-from-allowed"]);
    expect({ allowedFailed: allowed.failed, deniedPassed: denied.ok, kernelChanged: samples.changed }).toEqual({ allowedFailed: 0, deniedPassed: 0, kernelChanged: [] });
    expect(allowed.ok).toBeGreaterThan(10);
    expect(denied.failed).toBeGreaterThan(2);
    expect(samples.taken).toBeGreaterThan(20);
  }, 90_000);

  gate.test("a rule deleted by hand with nft is put back", async () => {
    const listed = (await chainText(d.node(), `in-${serverVeth}`, true))!;
    const handle = /^\s*drop # handle (\d+)$/m.exec(listed)?.[1];
    expect(handle).toMatch(/^\d+$/);
    const del = await onNode(d.node().netns, ["nft", "delete", "rule", "inet", TABLE, `in-${serverVeth}`, "handle", handle!]);
    expect(del.exitCode).toBe(0);
    expect(ruleLines(await chainText(d.node(), `in-${serverVeth}`))).not.toContain("drop");
    const t0 = Date.now();
    await eventually("the drop rule back", 30_000, async () => (ruleLines(await chainText(d.node(), `in-${serverVeth}`)).at(-1) === "drop" ? true : undefined));
    console.log(`np-life: hand-deleted rule repaired after ${Date.now() - t0} ms`);
    expect({ allowed: await pods.reaches("allowed", "server"), other: await pods.reaches("other", "server") }).toEqual({ allowed: true, other: false });
  }, 60_000);

  gate.test("a deleted pod's address reused by a new pod: the old pod's rules do not apply to it", async () => {
    // old: allowed to the server (role=allowed), and locked (no ingress at all)
    const oldIp = await pods.start("old", { role: "allowed", tier: "locked" });
    await apply(d.dep().stack, policy("locked", { podSelector: { matchLabels: { tier: "locked" } }, policyTypes: ["Ingress"] }));
    await eventually("old locked, and allowed to the server", 20_000, async () => ((await pods.reaches("old", "server")) && !(await pods.reaches("other", "old")) ? true : undefined));
    expect((await kubectl(d.dep().stack, ["delete", "pod", "old", "--wait=true", "--timeout=30s"])).exitCode).toBe(0);
    pods.forget("old");
    // new pods until one gets old's address back (it is handed out again once cooled)
    let reused: string | undefined;
    for (let i = 0; i < 6 && !reused; i++) {
      const ip = await pods.start(`new-${i}`, { role: "plain" });
      if (ip === oldIp) reused = `new-${i}`;
    }
    expect({ reused: reused !== undefined, oldIp }).toEqual({ reused: true, oldIp });
    const dbg = await agentDebug(d.node());
    expect(dbg.pods.filter((p) => p.addresses.includes(oldIp)).map((p) => p.name)).toEqual([reused!]);
    expect(dbg.pods.map((p) => p.name)).not.toContain("old");
    // the PolicyEndpoints list old's address no more (what the controller resolves)
    const pes = JSON.parse((await kubectl(d.dep().stack, ["get", "policyendpoints", "-o", "json"])).stdout) as { items: Array<{ spec: { podSelectorEndpoints?: Array<{ podIP: string; name: string }>; ingress?: Array<{ cidr?: string }> } }> };
    expect(pes.items.flatMap((pe) => [...(pe.spec.podSelectorEndpoints ?? []).filter((e) => e.podIP === oldIp).map((e) => e.name), ...(pe.spec.ingress ?? []).filter((e) => e.cidr?.startsWith(oldIp)).map((e) => e.cidr)])).toEqual([]);
    // traffic: reachable (not locked), not allowed to the server (not role=allowed)
    expect({ toNew: await pods.reaches("other", reused!), newToServer: await pods.reaches(reused!, "server"), control: await pods.reaches("allowed", "server") }).toEqual({ toNew: true, newToServer: false, control: true });
  }, 90_000);

  gate.test("standard: the agent unreachable, an ADD still succeeds", async () => {
    const pod = await d.agentUnreachable(() => d.runner().add(0, "unreachable-std"));
    expect(pod.address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect((await brokerDebug(d.node())).assignments.map((a) => a.address)).toContain(pod.address);
  }, 30_000);
});

gate.describe("strict mode's start-up (root)", () => {
  const d = usingDeployment("strict", "strict", { kubelets: false });

  gate.test("when ADD answers, the pod's chains deny both ways and nothing gets through either way", async () => {
    const peer = await d.runner().add(0, "peer");
    const pod = await d.runner().add(0, "fresh");
    // read at once after the answer: no apply can have run since
    const veth = (await brokerDebug(d.node())).assignments.find((a) => a.address === pod.address)!.hostVeth!;
    const [eg, inn] = [ruleLines(await chainText(d.node(), `eg-${veth}`)), ruleLines(await chainText(d.node(), `in-${veth}`))];
    expect({ eg, inn }).toEqual({ eg: ["drop"], inn: ["drop"] });
    const serving = d.runner().spawnIn(peer.netns, ["/bin/busybox", "nc", "-ll", "-p", "8080", "-e", "/bin/echo", "pong", "hi"]);
    const serving2 = d.runner().spawnIn(pod.netns, ["/bin/busybox", "nc", "-ll", "-p", "8080", "-e", "/bin/echo", "pong", "hi"]);
    await Bun.sleep(200);
    const via = (ns: string) => ["ip", "netns", "exec", ns];
    expect({ out: await tcpExchange(via(pod.netns), peer.address), in: await tcpExchange(via(peer.netns), pod.address) }).toEqual({ out: false, in: false });
    await d.runner().stopProcess(serving);
    await d.runner().stopProcess(serving2);
    const dbg = await agentDebug(d.node());
    expect(dbg.mode).toBe("strict");
    expect(dbg.pods.map((p) => p.name).sort()).toEqual(["fresh", "peer"]);
  }, 30_000);

  gate.test("the agent unreachable: ADD fails with CNI error 104 and nothing stays assigned; once it is back the pod starts", async () => {
    const before = (await brokerDebug(d.node())).assignments.length;
    const err = await d.agentUnreachable(() => d.runner().add(0, "blocked").then(() => undefined, (e: unknown) => e));
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(104);
    expect((await brokerDebug(d.node())).assignments.length).toBe(before);
    const pod = await d.runner().add(0, "blocked");
    expect((await brokerDebug(d.node())).assignments.find((a) => a.address === pod.address)).toBeDefined();
    expect(ruleLines(await chainText(d.node(), `in-${(await brokerDebug(d.node())).assignments.find((a) => a.address === pod.address)!.hostVeth}`))).toEqual(["drop"]);
  }, 30_000);
});
