/**
 * Strict mode's start-up and restarts on a one-node local deployment (np-life/):
 * - the agent SIGKILLed under load (every pod selected: a policy isolating ingress of all pods,
 *   the server's allowing role=allowed): no allowed connection fails (a restarted agent that
 *   forgot the policies would deny every pod both ways), no denied one passes;
 * - at the moment ADD answers (the runtime's CNI call, as a kubelet makes it), the pod has no
 *   chain of its own, the base chains' catch-all for its veth's prefix denies it both ways, and
 *   nothing gets through either way;
 * - the agent unreachable: ADD fails with CNI error 104 leaving nothing assigned; a pod made
 *   with kubectl does not start until the agent is back, then it is denied until a policy
 *   selects it; a hostNetwork pod is exempt.
 */
import { expect } from "bun:test";
import { CniError } from "../../deploy/local/cni-runtime.ts";
import { apply, getJson, kubectl } from "./kubelet/kube.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { brokerDebug, eventually } from "./podman/node-state.ts";
import { vethPrefixOf } from "../../shared/naming.ts";
import { agentDebug, chainText, policy, ruleLines, tcpExchange } from "./np-life/harness.ts";
import { killAgentUnderLoad, SERVER_POLICY, usingDeployment } from "./np-life/scenarios.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl", "nft");

/** Every pod selected, ingress isolated with no rule (egress, not named, stays open). */
const ALL_INGRESS = policy("all-ingress", { podSelector: {}, policyTypes: ["Ingress"] });

gate.describe("strict mode: start-up, the agent unreachable, the agent restarted (root)", () => {
  const d = usingDeployment("strict", "strict");
  const veth = async (address: string) => (await brokerDebug(d.node())).assignments.find((a) => a.address === address)!.hostVeth!;
  const chains = async (v: string) => ({ eg: ruleLines(await chainText(d.node(), `eg-${v}`)), in: ruleLines(await chainText(d.node(), `in-${v}`)) });
  /** A pod no policy selects: no chain of its own, and each base chain drops its veth's prefix after the dispatch map. */
  const deniedByDefault = async (v: string) => {
    const own = [await chainText(d.node(), `eg-${v}`), await chainText(d.node(), `in-${v}`), await chainText(d.node(), `id-${v}`)];
    const prefix = vethPrefixOf(v)!;
    const after = async (dir: "egress" | "ingress", rule: string) => {
      const lines = ruleLines(await chainText(d.node(), dir));
      const vmap = lines.findIndex((l) => l.includes(`vmap @${dir}-pods`));
      return vmap >= 0 && lines.indexOf(rule) > vmap;
    };
    return { own, egress: await after("egress", `meta iifkind "veth" iifname "${prefix}*" drop`), ingress: await after("ingress", `meta oifkind "veth" oifname "${prefix}*" drop`) };
  };
  const DENIED_BY_DEFAULT = { own: [undefined, undefined, undefined], egress: true, ingress: true };

  gate.test("SIGKILL of the agent under load: no allowed connection fails, no denied one passes, the rules stay", async () => {
    await killAgentUnderLoad(d, [ALL_INGRESS, SERVER_POLICY]);
  }, 90_000);

  gate.test("when ADD answers, the pod has no chain of its own, the catch-all denies it both ways and nothing gets through either way", async () => {
    const peer = await d.runner().add(0, "peer");
    const pod = await d.runner().add(0, "fresh");
    // read at once after the answer (no PolicyEndpoint names these pods: they stay so)
    expect(await deniedByDefault(await veth(pod.address))).toEqual(DENIED_BY_DEFAULT);
    const servers = [peer, pod].map((p) => d.runner().spawnIn(p.netns, ["/bin/busybox", "nc", "-ll", "-p", "8080", "-e", "/bin/echo", "pong", "hi"]));
    await Bun.sleep(200);
    const via = (ns: string) => ["ip", "netns", "exec", ns];
    expect({ out: await tcpExchange(via(pod.netns), peer.address), in: await tcpExchange(via(peer.netns), pod.address) }).toEqual({ out: false, in: false });
    // the servers answer where nothing is in between (each pod to itself)
    expect(await tcpExchange(via(pod.netns), pod.address)).toBe(true);
    for (const s of servers) await d.runner().stopProcess(s);
    expect((await agentDebug(d.node())).pods.map((p) => p.name)).toEqual(expect.arrayContaining(["fresh", "peer"]));
  }, 30_000);

  gate.test("the agent unreachable: ADD fails with 104 leaving nothing; a kubectl pod starts once it is back, denied until selected", async () => {
    const before = (await brokerDebug(d.node())).assignments.length;
    const late = { apiVersion: "v1", kind: "Pod", metadata: { name: "late", namespace: "default", labels: { app: "late" } }, spec: { nodeName: d.node().name, terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "exec sleep 3600"] }] } };
    const err = await d.agentUnreachable(async () => {
      const e = await d.runner().add(0, "blocked").then(() => undefined, (x: unknown) => x);
      // the kubelet's ADD fails the same way: the pod stays without an address
      await apply(d.dep().stack, late);
      await Bun.sleep(3000);
      const p = await getJson<{ status?: { phase?: string; podIP?: string } }>(d.dep().stack, "pod", "late");
      expect({ phase: p?.status?.phase, ip: p?.status?.podIP }).toEqual({ phase: "Pending", ip: undefined });
      // both failed ADDs (the runtime's and the kubelet's) left no assignment behind
      expect((await brokerDebug(d.node())).assignments.length).toBe(before);
      return e;
    });
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(104);
    const events = JSON.parse((await kubectl(d.dep().stack, ["get", "events", "--field-selector", "involvedObject.name=late", "-o", "json"])).stdout) as { items: Array<{ reason: string; message: string }> };
    expect(events.items.some((e) => e.reason === "FailedCreatePodSandBox")).toBe(true);
    // back: the runtime's ADD succeeds, the kubelet's retry starts the pod
    const pod = await d.runner().add(0, "blocked");
    expect(await deniedByDefault(await veth(pod.address))).toEqual(DENIED_BY_DEFAULT);
    // the kubelet may retry "late" at any moment now, so only the blocked pod's own assignment is checked here
    expect((await brokerDebug(d.node())).assignments.map((a) => a.address.split("/")[0])).toContain(pod.address);
    const ip = await eventually("late Running", 60_000, async () => {
      const p = await getJson<{ status?: { phase?: string; podIP?: string } }>(d.dep().stack, "pod", "late");
      return p?.status?.phase === "Running" ? p.status.podIP : undefined;
    });
    const lateVeth = await veth(ip!);
    // ALL_INGRESS selects every pod: once its PolicyEndpoint names late, egress opens, ingress stays denied
    const selected = await eventually("late selected", 20_000, async () => {
      const c = await chains(lateVeth);
      return c.eg.join() === "accept" ? c : undefined;
    });
    expect(selected).toEqual({ eg: ["accept"], in: ["drop"] });
  }, 90_000);

  gate.test("a hostNetwork pod is exempt: it runs with the node's address, unknown to the agent", async () => {
    await apply(d.dep().stack, { apiVersion: "v1", kind: "Pod", metadata: { name: "hostnet", namespace: "default" }, spec: { nodeName: d.node().name, hostNetwork: true, terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "exec sleep 3600"] }] } });
    const ip = await eventually("hostnet Running", 60_000, async () => {
      const p = await getJson<{ status?: { phase?: string; podIP?: string } }>(d.dep().stack, "pod", "hostnet");
      return p?.status?.phase === "Running" ? p.status.podIP : undefined;
    });
    expect(ip).toBe(d.node().primaryIp);
    expect((await agentDebug(d.node())).pods.map((p) => p.name)).not.toContain("hostnet");
    // from the node's namespace (what the hostNetwork pod shares) the server answers, though its ingress admits only role=allowed pods
    expect(await tcpExchange(["ip", "netns", "exec", d.node().netns], d.pods.ips.get("server")!)).toBe(true);
  }, 60_000);
});
