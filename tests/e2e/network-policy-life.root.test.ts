/**
 * The policy agent's robustness in standard mode on a one-node local deployment (np-life/):
 * - the agent SIGKILLed and restarted by the deployment's supervisor while an allowed client
 *   connects back to back and a denied client keeps trying: no allowed connection fails, no
 *   denied one gets through, the server's chain is unchanged at every sample, the new agent
 *   reconciles (/debug); a rule deleted by hand with nft is put back;
 * - a pod denied ingress and allowed to a server is deleted; a new pod given the same address
 *   (a 1 s cooldown, pods made until the address comes back) follows its own policies only, in
 *   the agent's state, the PolicyEndpoints and traffic;
 * - the agent unreachable (its socket moved away): an ADD still succeeds.
 * Strict mode: network-policy-strict.root.test.ts.
 */
import { expect } from "bun:test";
import { apply, kubectl } from "./kubelet/kube.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { brokerDebug, eventually, onNode } from "./podman/node-state.ts";
import { agentDebug, chainText, policy, ruleLines, TABLE } from "./np-life/harness.ts";
import { killAgentUnderLoad, SERVER_POLICY, usingDeployment } from "./np-life/scenarios.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl", "nft");

gate.describe("policy agent restarted, rules edited by hand, addresses reused (standard, root)", () => {
  // A 1 s cooldown kept until it ends: a deleted pod's address comes back to the next pods.
  const d = usingDeployment("std", "standard", { IP_COOLDOWN_PERIOD: "1", AWS_VPC_CNI_HOLD_COOLING_IPS: "true" });
  const pods = d.pods;
  let serverVeth = "";

  gate.test("SIGKILL of the agent under load: no allowed connection fails, no denied one passes, the rules stay; it reconciles", async () => {
    serverVeth = await killAgentUnderLoad(d, [SERVER_POLICY]);
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
