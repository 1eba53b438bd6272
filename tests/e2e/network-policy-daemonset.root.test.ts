/**
 * Network policy in daemonset mode (`up --mode daemonset --network-policy standard`): the
 * aws-node DaemonSet of deploy/k8s run by a one-node local deployment's kubelet, its
 * policy-agent container enforcing (--enable-network-policy=true), the policy controller run as
 * the pod of deploy/k8s/policy-controller.yaml's Deployment (the simulated control plane's
 * Deployment controller makes it, the kubelet runs it as the manifest says: uid 65532, read-only
 * root, probes), and no controller process in the root namespace. One policy: a server reachable
 * only from the labelled client, probed from inside the pods with `main.ts exec`; the
 * controller container's /debug, the agent container's /debug and the node's nftables table
 * show it.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type RunningDeployment } from "../../deploy/local/deployment.ts";
import { writeStack } from "../../deploy/local/stack.ts";
import { apply, getJson, kubectl, mainTs } from "./kubelet/kube.ts";
import { deploymentRemains, eventually, onNode, podContainerPid } from "./podman/node-state.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl", "mmdebstrap", "nft");

type PodJson = { status?: { phase?: string; podIP?: string } };
type OwnedJson = { metadata: { name: string; uid: string; ownerReferences?: Array<{ kind: string; name: string; uid: string; controller?: boolean }> } };

/** Pids of processes whose environment sets KUBECONFIG to `kubeconfig` (how processes mode runs the controller). */
function processesWithKubeconfig(kubeconfig: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(`KUBECONFIG=${kubeconfig}`)) found.push(Number(entry));
    } catch {
      // gone, or a kernel thread
    }
  }
  return found;
}

gate.describe("network policy in daemonset mode, standard (root)", () => {
  const base = mkdtempSync(join(tmpdir(), `e2e-np-ds-${process.pid}-`));
  const dir = join(base, "deploy");
  let dep: RunningDeployment | undefined;
  const stack = () => dep!.stack;
  const exec = (pod: string, argv: string[]) => mainTs(["exec", "--dir", dir, `default/${pod}`, "--", ...argv]);

  const pod = (name: string, labels: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels: { ...labels, e2e: "np-ds" } },
    spec: { nodeName: stack().nodes[0]!.name, terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "nc -ll -p 8080 -e /bin/sh /www/reply & exec sleep 3600"] }] },
  });

  async function runningIp(name: string): Promise<string> {
    return eventually(`pod ${name} Running with an address`, 90_000, async () => {
      const p = await getJson<PodJson>(stack(), "pod", name);
      return p?.status?.phase === "Running" && p.status.podIP ? p.status.podIP : undefined;
    });
  }

  /** One TCP exchange from inside `from` (1 s connect timeout). */
  async function reaches(from: string, ip: string): Promise<boolean> {
    const r = await exec(from, ["sh", "-c", `echo hi | nc -w 1 ${ip} 8080`]);
    return r.stdout.includes("pong hi");
  }

  beforeAll(async () => {
    dep = await startDeployment({ dir, nodes: 1, mode: "daemonset", networkPolicy: "standard", kubeletTuning: { restartBackoff: { baseMs: 1000, maxMs: 5000 }, setupBackoff: { baseMs: 500, maxMs: 3000 } } });
    await writeStack(dir, dep.stack); // what main.ts exec reads
  }, 30 * 60_000);

  afterAll(async () => {
    if (dep) {
      await kubectl(stack(), ["delete", "networkpolicy", "--all", "--wait=true"]).catch(() => undefined);
      await kubectl(stack(), ["delete", "pods", "-l", "e2e=np-ds", "--wait=true", "--timeout=60s"]).catch(() => undefined);
      await dep.stop();
    }
    const remains = await deploymentRemains(dir);
    rmSync(base, { recursive: true, force: true });
    expect(remains).toEqual({ netns: [], containers: "" });
  }, 180_000);

  gate.test("the policy-agent container enforces one policy: only the labelled client reaches the server", async () => {
    // the DaemonSet carries the agent's flag and the mode
    const ds = await kubectl(stack(), ["-n", "kube-system", "get", "ds", "aws-node", "-o", "json"]);
    const containers = (JSON.parse(ds.stdout) as { spec: { template: { spec: { containers: Array<{ name: string; args?: string[]; env?: Array<{ name: string; value?: string }> }> } } } }).spec.template.spec.containers;
    expect(containers.find((c) => c.name === "policy-agent")?.args).toContain("--enable-network-policy=true");
    expect(containers.find((c) => c.name === "aws-node")?.env?.find((e) => e.name === "NETWORK_POLICY_ENFORCING_MODE")?.value).toBe("standard");

    // the controller: the Deployment's pod, run as the manifest says, and no process of its own
    expect(dep!.policyController).toBeUndefined();
    expect(processesWithKubeconfig(stack().kube.kubeconfig)).toEqual([]);
    const deployment = await getJson<OwnedJson & { status?: { availableReplicas?: number } }>(stack(), "deployment", "policy-controller", "kube-system");
    expect(deployment?.status?.availableReplicas).toBe(1);
    const owned = JSON.parse((await kubectl(stack(), ["-n", "kube-system", "get", "pods", "-l", "app.kubernetes.io/name=policy-controller", "-o", "json"])).stdout) as { items: Array<OwnedJson & { status: { conditions?: Array<{ type: string; status: string }> } }> };
    expect(owned.items).toHaveLength(1);
    const controllerPod = owned.items[0]!;
    expect(controllerPod.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Deployment", name: "policy-controller", uid: deployment!.metadata.uid, controller: true })]);
    expect(controllerPod.status.conditions?.find((c) => c.type === "Ready")?.status).toBe("True"); // its readiness probe, run by the kubelet
    const pid = await podContainerPid(stack(), controllerPod.metadata.uid, "the policy controller", 30_000, "controller");
    const procStatus = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(procStatus).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    const rootMount = readFileSync(`/proc/${pid}/mounts`, "utf8").split("\n").find((line) => line.split(" ")[1] === "/");
    expect(rootMount?.split(" ")[3]?.split(",")).toContain("ro");
    const controllerDebug = async () => JSON.parse((await onNode(stack().nodes[0]!.netns, ["curl", "-sf", "--max-time", "5", "http://127.0.0.1:8080/debug"])).stdout) as { pid: number; enabled: boolean; policies: number; policyEndpoints: number };
    const nsPid = Number(/^NSpid:.*\s(\d+)$/m.exec(procStatus)?.[1]);
    expect(await controllerDebug()).toMatchObject({ pid: nsPid, enabled: true, policies: 0 });

    for (const [n, l] of [["server", { app: "server" }], ["allowed", { role: "allowed" }], ["other", { role: "other" }]] as const) await apply(stack(), pod(n, l));
    const server = await runningIp("server");
    await runningIp("allowed");
    await runningIp("other");
    expect({ allowed: await reaches("allowed", server), other: await reaches("other", server) }).toEqual({ allowed: true, other: true });

    await apply(stack(), {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "server-from-allowed", namespace: "default" },
      spec: { podSelector: { matchLabels: { app: "server" } }, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: { role: "allowed" } } }], ports: [{ protocol: "TCP", port: 8080 }] }] },
    });
    const seen = await eventually("the policy enforced", 30_000, async () => {
      const r = { allowed: await reaches("allowed", server), other: await reaches("other", server) };
      return r.allowed && !r.other ? r : undefined;
    });
    expect(seen).toEqual({ allowed: true, other: false });
    // written by the controller in that pod: its own count, and still no other controller
    expect(await controllerDebug()).toMatchObject({ pid: nsPid, policies: 1, policyEndpoints: 1 });
    expect(processesWithKubeconfig(stack().kube.kubeconfig)).toEqual([]);
    const endpoints = JSON.parse((await kubectl(stack(), ["get", "policyendpoints", "-o", "json"])).stdout) as { items: Array<{ spec: { policyRef: { name: string } } }> };
    expect(endpoints.items.map((pe) => pe.spec.policyRef.name)).toEqual(["server-from-allowed"]);

    // the agent in the aws-node pod: its /debug (the socket on the node's hostPath) and the node's nftables table
    const debug = (await (await fetch("http://localhost/debug", { unix: join(stack().nodes[0]!.runDir!, "policy-agent.sock"), signal: AbortSignal.timeout(5000) })).json()) as { enabled: boolean; mode: string; pods: Array<{ name: string }>; policyEndpoints: Array<{ policy: string }> };
    expect(debug).toMatchObject({ enabled: true, mode: "standard" });
    expect(debug.pods.map((p) => p.name).sort()).toEqual(["allowed", "other", "server"]);
    expect(debug.policyEndpoints.map((p) => p.policy)).toEqual(["default/server-from-allowed"]);
    const table = await onNode(stack().nodes[0]!.netns, ["nft", "list", "table", "inet", "aws-cni-np"]);
    expect(table.exitCode).toBe(0);
    expect(table.stdout).toContain("chain in-");

    await kubectl(stack(), ["delete", "networkpolicy", "server-from-allowed"]);
    const open = await eventually("open again once the policy is deleted", 30_000, async () => ((await reaches("other", server)) ? true : undefined));
    expect(open).toBe(true);
  }, 240_000);
});
