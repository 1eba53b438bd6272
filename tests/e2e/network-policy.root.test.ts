/**
 * NetworkPolicy enforced for real on a local deployment (processes mode, `up --network-policy`,
 * the kubelets running pods with podman): TCP probes from inside client pods to a server pod
 * before any policy, under a default-deny ingress policy, under a policy allowing one labelled
 * client on one port, and after the policies are deleted — with a client on the other node. A
 * strict-mode deployment: a new pod with no policy is cut off both ways until a policy selecting
 * it opens what it allows. Prints how long a policy takes from `kubectl apply` to the first probe
 * that shows it (p50 over the steps).
 */
import { afterAll, expect } from "bun:test";
import type { NetworkPolicyMode, RunningDeployment } from "../../deploy/local/deployment.ts";
import { usingKubeDeployment } from "./kube-deployment.ts";
import { apply, getJson, kubectl } from "./kubelet/kube.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { eventually, podContainerPid } from "./podman/node-state.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl");

type PodJson = { metadata: { uid: string }; status?: { podIP?: string } };
const PORTS = [8080, 9090] as const;
/** Each probe's connect timeout, seconds (a dropped SYN costs this long). */
const PROBE_TIMEOUT_S = 1;

/** Apply → first probe showing the change, milliseconds, per step (both describes). */
const latencies: Array<{ step: string; ms: number }> = [];

function usingDeployment(tag: string, nodes: number, networkPolicy: NetworkPolicyMode) {
  const deployment = usingKubeDeployment({ tag: `np-${tag}`, deployment: { nodes, networkPolicy }, deleteFirst: ["networkpolicy", "pod"], startTimeoutMs: 90_000 });
  const ctx = { pids: new Map<string, number>(), ips: new Map<string, string>() };

  const stack = () => deployment.dep().stack;

  /** A busybox pod answering "pong <line>" on both ports (the image's /www/reply). */
  const pod = (name: string, nodeIndex: number, labels: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels },
    spec: {
      nodeName: stack().nodes[nodeIndex]!.name,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "main", image: "busybox", command: ["sh", "-c", `${PORTS.map((p) => `nc -ll -p ${p} -e /bin/sh /www/reply &`).join(" ")} exec sleep 3600`] }],
    },
  });

  /** Starts the pods; records each one's address and the pid of its container (to enter its network namespace). */
  async function startPods(specs: Array<[string, number, Record<string, string>]>): Promise<void> {
    for (const [name, i, labels] of specs) await apply(stack(), pod(name, i, labels));
    for (const [name] of specs) {
      const p = await eventually(`${name} has an address`, 60_000, async () => {
        const j = await getJson<PodJson>(stack(), "pod", name);
        return j?.status?.podIP ? j : undefined;
      });
      ctx.ips.set(name, p.status!.podIP!);
      const pid = await podContainerPid(stack(), p.metadata.uid, name, 30_000);
      ctx.pids.set(name, pid);
    }
  }

  /** One TCP exchange from inside `from`'s network namespace to `to`:port; true when the reply came back. */
  async function reaches(from: string, to: string, port: number): Promise<boolean> {
    const proc = Bun.spawn(["nsenter", "-t", String(ctx.pids.get(from)!), "-n", "/bin/busybox", "nc", "-w", String(PROBE_TIMEOUT_S), ctx.ips.get(to)!, String(port)], {
      stdin: new TextEncoder().encode("hi\n"),
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), (PROBE_TIMEOUT_S + 2) * 1000);
    const out = await new Response(proc.stdout).text();
    await proc.exited;
    clearTimeout(timer);
    return out.includes("pong hi");
  }

  /** Which of these probes get through, as "from→to:port" → boolean. */
  async function matrix(probes: Array<[string, string, number]>): Promise<Record<string, boolean>> {
    const results = await Promise.all(probes.map(([f, t, p]) => reaches(f, t, p)));
    return Object.fromEntries(probes.map(([f, t, p], i) => [`${f}→${t}:${p}`, results[i]!]));
  }

  /**
   * Runs `change` (a kubectl apply or delete), then probes until the matrix is `want`; records
   * the time from the change to the first probe round that shows it.
   */
  async function afterChange(step: string, change: (() => Promise<void>) | undefined, want: Record<string, boolean>, timeoutMs = 20_000): Promise<void> {
    const probes = Object.keys(want).map((k) => {
      const m = /^(.+)→(.+):(\d+)$/.exec(k)!;
      return [m[1]!, m[2]!, Number(m[3])] as [string, string, number];
    });
    const t0 = performance.now();
    await change?.();
    let last: Record<string, boolean> = {};
    while (performance.now() - t0 < timeoutMs) {
      last = await matrix(probes);
      if (Object.entries(want).every(([k, v]) => last[k] === v)) {
        if (change) latencies.push({ step: `${tag}: ${step}`, ms: Math.round(performance.now() - t0) });
        return;
      }
    }
    expect({ step, probes: last }).toEqual({ step, probes: want });
  }

  return { ctx, stack, startPods, matrix, afterChange };
}

const policy = (name: string, spec: Record<string, unknown>) => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name, namespace: "default" }, spec });
const deletePolicies = (s: () => RunningDeployment["stack"], names: string[]) => async () => {
  const r = await kubectl(s(), ["delete", "networkpolicy", ...names]);
  if (r.exitCode !== 0) throw new Error(`kubectl delete networkpolicy: ${r.stderr}`);
};

gate.describe("network policy enforced on a local deployment, standard mode (root)", () => {
  const d = usingDeployment("std", 2, "standard");

  gate.test("default deny, then one labelled client on one port, then open again; a client on the other node", async () => {
    // server and the unlabelled client on node 0, the allowed client on node 1
    await d.startPods([["server", 0, { app: "server" }], ["allowed", 1, { role: "allowed" }], ["other", 0, { role: "other" }]]);
    const all = (v: boolean) => ({ "allowed→server:8080": v, "allowed→server:9090": v, "other→server:8080": v, "other→server:9090": v });
    await d.afterChange("no policy: all reach", undefined, all(true));
    await d.afterChange("default-deny ingress", () => apply(d.stack(), policy("deny-all", { podSelector: { matchLabels: { app: "server" } }, policyTypes: ["Ingress"] })), all(false));
    await d.afterChange(
      "allow the labelled client on 8080",
      () => apply(d.stack(), policy("allow-8080", { podSelector: { matchLabels: { app: "server" } }, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: { role: "allowed" } } }], ports: [{ protocol: "TCP", port: 8080 }] }] })),
      { "allowed→server:8080": true, "allowed→server:9090": false, "other→server:8080": false, "other→server:9090": false },
    );
    // still so after a while (not a transient)
    expect(await d.matrix([["allowed", "server", 8080], ["allowed", "server", 9090], ["other", "server", 8080]])).toEqual({ "allowed→server:8080": true, "allowed→server:9090": false, "other→server:8080": false });
    // the server itself is not restricted outward (Ingress only)
    expect(await d.matrix([["server", "other", 8080]])).toEqual({ "server→other:8080": true });
    await d.afterChange("policies deleted: all reach", deletePolicies(d.stack, ["deny-all", "allow-8080"]), all(true));
  }, 90_000);
});

gate.describe("network policy enforced on a local deployment, strict mode (root)", () => {
  const d = usingDeployment("strict", 1, "strict");

  gate.test("a new pod with no policy is cut off both ways; a policy selecting it opens what it allows", async () => {
    await d.startPods([["lone", 0, { app: "lone" }], ["peer", 0, { app: "peer" }]]);
    const closed = { "peer→lone:8080": false, "lone→peer:8080": false };
    const got = await d.matrix([["peer", "lone", 8080], ["lone", "peer", 8080]]);
    expect(got).toEqual(closed);
    // lone: ingress from peer on 8080 and egress to peer on 8080; peer: egress to lone on 8080
    await d.afterChange(
      "strict: policies selecting the pods",
      async () => {
        await apply(d.stack(), policy("lone", { podSelector: { matchLabels: { app: "lone" } }, policyTypes: ["Ingress", "Egress"], ingress: [{ from: [{ podSelector: { matchLabels: { app: "peer" } } }], ports: [{ protocol: "TCP", port: 8080 }] }], egress: [{ to: [{ podSelector: { matchLabels: { app: "peer" } } }], ports: [{ protocol: "TCP", port: 8080 }] }] }));
        await apply(d.stack(), policy("peer", { podSelector: { matchLabels: { app: "peer" } }, policyTypes: ["Ingress", "Egress"], ingress: [{ from: [{ podSelector: { matchLabels: { app: "lone" } } }], ports: [{ protocol: "TCP", port: 8080 }] }], egress: [{ to: [{ podSelector: { matchLabels: { app: "lone" } } }], ports: [{ protocol: "TCP", port: 8080 }] }] }));
      },
      { "peer→lone:8080": true, "lone→peer:8080": true, "peer→lone:9090": false, "lone→peer:9090": false },
    );
  }, 90_000);
});

afterAll(() => {
  if (latencies.length === 0) return;
  const sorted = latencies.map((l) => l.ms).sort((a, b) => a - b);
  for (const l of latencies) console.log(`network policy: ${l.step}: ${l.ms} ms from the change to the first probe round showing it`);
  console.log(`network policy: p50 ${sorted[Math.floor((sorted.length - 1) / 2)]} ms over ${sorted.length} steps (probe timeout ${PROBE_TIMEOUT_S} s)`);
});
