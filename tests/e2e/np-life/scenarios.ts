/**
 * The policy agent's robustness tests' one-node deployment (processes mode, the node's
 * services restarted by the deployment's supervisor as the kubelet restarts a container) and
 * the scenario both modes run: the agent SIGKILLed while an allowed client connects back to
 * back and a denied client keeps trying.
 */
import { expect } from "bun:test";
import { existsSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { NetworkPolicyMode } from "../../../deploy/local/deployment.ts";
import { PodRunner } from "../../../deploy/local/demo/pods.ts";
import { usingKubeDeployment } from "../kube-deployment.ts";
import { apply, kubectl } from "../kubelet/kube.ts";
import { eventually } from "../podman/node-state.ts";
import { agentDebug, chainText, KubePodProbe, loop, policy, ruleLines } from "./harness.ts";

export function usingDeployment(tag: string, networkPolicy: NetworkPolicyMode, env?: Record<string, string>) {
  let runner: PodRunner | undefined;
  const deployment = usingKubeDeployment({
    tag: `nplife-${tag}`,
    deployment: { nodes: 1, networkPolicy, ...(env ? { env } : {}) },
    deleteFirst: ["networkpolicy", "pod"],
    startTimeoutMs: 90_000,
    started: (d) => {
      runner = new PodRunner(d);
    },
    closing: async () => (await runner?.close()) ?? [],
  });
  const dep = deployment.dep;
  const node = () => dep().stack.nodes[0]!;
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
  return { dep, node, runner: () => runner!, pods: new KubePodProbe(dep), agentUnreachable };
}

export type Fixture = ReturnType<typeof usingDeployment>;

/** The server takes ingress on 8080 only from role=allowed. */
export const SERVER_POLICY = policy("server-from-allowed", { podSelector: { matchLabels: { app: "server" } }, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: { role: "allowed" } } }], ports: [{ protocol: "TCP", port: 8080 }] }] });

/**
 * server, allowed and other pods, `policies` applied; the agent SIGKILLed under load and
 * restarted by the supervisor. Checks: no allowed connection failed, no denied one passed,
 * the server's ingress chain unchanged at every sample, the new agent listed and reconciled.
 * Returns the server's host veth.
 */
export async function killAgentUnderLoad(d: Fixture, policies: unknown[]): Promise<string> {
  const { pods } = d;
  await pods.start("server", { app: "server" });
  await pods.start("allowed", { role: "allowed" });
  await pods.start("other", { role: "other" });
  for (const p of policies) await apply(d.dep().stack, p);
  await eventually("the policies enforced", 20_000, async () => ((await pods.reaches("allowed", "server")) && !(await pods.reaches("other", "server")) ? true : undefined));
  const serverVeth = (await agentDebug(d.node())).pods.find((p) => p.name === "server")!.hostVeth;
  const before = ruleLines(await chainText(d.node(), `in-${serverVeth}`));
  expect(before.at(-1)).toBe("drop");

  const allowedLoad = loop(() => pods.reaches("allowed", "server"));
  const deniedLoad = loop(() => pods.reaches("other", "server"));
  const samples = { taken: 0, at: [] as number[], changed: [] as string[][] };
  const sampler = loop(async () => {
    const now = ruleLines(await chainText(d.node(), `in-${serverVeth}`));
    samples.taken++;
    samples.at.push(Date.now());
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
  console.log(`np-life (${debug.mode}): agent restart: reconciled ${reconciledMs} ms after SIGKILL; allowed ${allowed.ok} ok / ${allowed.failed} failed, denied ${denied.ok} passed / ${denied.failed} refused; ${samples.taken} kernel samples (${samples.at.filter((t) => t > killedAt && t < killedAt + reconciledMs).length} until reconciled), ${samples.changed.length} differing`);
  expect(debug.pods.map((p) => p.name).sort()).toEqual(["allowed", "other", "server"]);
  expect(debug.policyEndpoints.map((p) => p.policy).sort()).toEqual(policies.map((p) => `default/${(p as { metadata: { name: string } }).metadata.name}`).sort());
  expect({ allowedFailed: allowed.failed, deniedPassed: denied.ok, kernelChanged: samples.changed }).toEqual({ allowedFailed: 0, deniedPassed: 0, kernelChanged: [] });
  expect(allowed.ok).toBeGreaterThan(10);
  expect(denied.failed).toBeGreaterThan(2);
  // the kernel was read while the agent was down or starting, not only before and after
  expect(samples.at.filter((t) => t > killedAt && t < killedAt + reconciledMs).length).toBeGreaterThan(2);
  return serverVeth;
}
