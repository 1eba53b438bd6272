/**
 * What the policy agent's robustness tests (network-policy-life.root.test.ts) share: kubelet
 * pods with labels serving "pong" on 8080, one TCP exchange from inside a pod's network
 * namespace, the agent's /debug, and its nftables table in the node's namespace.
 */
import { join, resolve } from "node:path";
import type { RunningDeployment } from "../../../deploy/local/deployment.ts";
import { Podman } from "../../../deploy/local/kubelet/podman.ts";
import { LABEL, kubeletFiles } from "../../../deploy/local/kubelet/names.ts";
import type { StackNode } from "../../../deploy/local/stack.ts";
import { stackNames } from "../../../deploy/local/vpc/names.ts";
import { apply, getJson } from "../kubelet/kube.ts";
import { eventually, onNode } from "../podman/node-state.ts";

export const PORT = 8080;
export const TABLE = "aws-cni-np";

export interface AgentDebug {
  enabled: boolean;
  mode: string;
  policyEndpointsListed?: boolean;
  pods: Array<{ namespace: string; name: string; hostVeth: string; addresses: string[] }>;
  policyEndpoints: Array<{ name: string; policy: string }>;
  lastApply?: { at: number; error?: string };
}

export async function agentDebug(node: StackNode): Promise<AgentDebug> {
  const res = await fetch("http://localhost/debug", { unix: join(node.runDir!, "policy-agent.sock"), signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`policy-agent /debug on ${node.name}: ${res.status}`);
  return (await res.json()) as AgentDebug;
}

/** `nft list chain` of one of the agent's chains in the node's namespace; undefined when it is not there. */
export async function chainText(node: StackNode, chain: string, handles = false): Promise<string | undefined> {
  const r = await onNode(node.netns, ["nft", ...(handles ? ["-a"] : []), "list", "chain", "inet", TABLE, chain]);
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** The rule lines of a chain (without the chain's header and braces). */
export function ruleLines(text: string | undefined): string[] {
  return (text ?? "").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("table ") && !l.startsWith("chain ") && l !== "}");
}

export const policy = (name: string, spec: Record<string, unknown>) => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name, namespace: "default" }, spec });

/** Pods run by the node's kubelet, each entered by the pid of its container. */
export class KubePodProbe {
  readonly ips = new Map<string, string>();
  private readonly pids = new Map<string, number>();

  constructor(private readonly dep: () => RunningDeployment) {}

  /** A busybox pod answering "pong <line>" on PORT; waits for its address and container. */
  async start(name: string, labels: Record<string, string>, nodeIndex = 0): Promise<string> {
    const stack = this.dep().stack;
    await apply(stack, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default", labels },
      spec: { nodeName: stack.nodes[nodeIndex]!.name, terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sh", "-c", `nc -ll -p ${PORT} -e /bin/sh /www/reply & exec sleep 3600`] }] },
    });
    const p = await eventually(`${name} has an address`, 60_000, async () => {
      const j = await getJson<{ metadata: { uid: string }; status?: { podIP?: string } }>(stack, "pod", name);
      return j?.status?.podIP ? j : undefined;
    });
    const podman = new Podman(kubeletFiles(stack.dir).containersConf, resolve(stack.dir, "kubelet"));
    const pid = await eventually(`${name}'s container runs`, 30_000, async () => {
      const running = (await podman.list({ [LABEL.stack]: stackNames(stack.dir).prefix, [LABEL.uid]: p.metadata.uid, [LABEL.container]: "main" })).filter((c) => c.running);
      if (!running[0]) return undefined;
      const r = await podman.run(["inspect", "--format", "{{.State.Pid}}", running[0].id]);
      const n = Number(r.stdout.trim());
      return r.exitCode === 0 && n > 0 ? n : undefined;
    });
    this.ips.set(name, p.status!.podIP!);
    this.pids.set(name, pid);
    return p.status!.podIP!;
  }

  forget(name: string): void {
    this.ips.delete(name);
    this.pids.delete(name);
  }

  /** One TCP exchange from inside `from` to `to`:PORT (1 s connect timeout); true when the reply came back. */
  async reaches(from: string, to: string): Promise<boolean> {
    return tcpExchange(["nsenter", "-t", String(this.pids.get(from)!), "-n"], this.ips.get(to)!);
  }
}

/** `prefix` (nsenter … or ip netns exec …) busybox nc to ip:PORT; true when "pong hi" came back. */
export async function tcpExchange(prefix: string[], ip: string): Promise<boolean> {
  const proc = Bun.spawn([...prefix, "/bin/busybox", "nc", "-w", "1", ip, String(PORT)], { stdin: new TextEncoder().encode("hi\n"), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  clearTimeout(timer);
  return out.includes("pong hi");
}

/** Runs `probe` back to back until stop(); counts outcomes. */
export function loop(probe: () => Promise<boolean>): { stop(): Promise<{ ok: number; failed: number }> } {
  let running = true;
  const counts = { ok: 0, failed: 0 };
  const done = (async () => {
    while (running) {
      if (await probe()) counts.ok++;
      else counts.failed++;
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return counts;
    },
  };
}
