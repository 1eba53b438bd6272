/**
 * What the e2e checks read, each from its owner: addr-broker's /debug and checkpoint, the
 * simulated EC2's control socket (GET /state), and the kernel of a node namespace.
 */
import { join, resolve } from "node:path";
import { LABEL, kubeletFiles } from "../../../deploy/local/kubelet/names.ts";
import { Podman } from "../../../deploy/local/kubelet/podman.ts";
import { stackNames } from "../../../deploy/local/vpc/names.ts";
import type { Stack, StackNode } from "../../../deploy/local/stack.ts";
import { assertNetnsName } from "../../../deploy/local/vpc/names.ts";
import { run } from "./runtime.ts";

export interface BrokerDebug {
  assignments: Array<{ containerId: string; address: string; hostVeth?: string; netns?: string; podName?: string; podNamespace?: string }>;
  cooling: Array<{ address: string; until: string }>;
  usage: { cidrs: Array<{ cidr: string; assigned: number; cooling: number }> };
}

function runDir(node: StackNode): string {
  if (!node.runDir) throw new Error(`node ${node.name}: stack.json has no runDir`);
  return node.runDir;
}

export async function brokerDebug(node: StackNode): Promise<BrokerDebug> {
  const res = await fetch("http://localhost/debug", { unix: join(runDir(node), "addr-broker.sock"), signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`addr-broker /debug on ${node.name}: ${res.status}`);
  return (await res.json()) as BrokerDebug;
}

/** Addresses the on-disk checkpoint (upstream's vpc-cni-ipam/1 format) holds as allocated. */
export async function checkpointAddresses(node: StackNode): Promise<string[]> {
  const ck = (await Bun.file(join(runDir(node), "ipam.json")).json()) as { allocations: Array<{ ipv4?: string; ipv6?: string }> };
  return ck.allocations.flatMap((a) => [a.ipv4, a.ipv6].filter((x): x is string => !!x));
}

interface Ec2Eni {
  id: string;
  primaryIp: string;
  secondaryIps: string[];
  ipv4Prefixes: string[];
  attachment: { instanceId: string } | null;
}

/** The ENI of `instanceId` (per the simulated EC2) that holds `address`, if any. */
export async function eniHolding(stack: Stack, instanceId: string, address: string): Promise<string | undefined> {
  const res = await fetch("http://localhost/state", { unix: stack.ec2.control, signal: AbortSignal.timeout(5000) });
  const state = (await res.json()) as { enis: Record<string, Ec2Eni> };
  for (const eni of Object.values(state.enis)) {
    if (eni.attachment?.instanceId !== instanceId) continue;
    if (eni.secondaryIps.includes(address) || eni.ipv4Prefixes.some((p) => inPrefix(address, p))) return eni.id;
  }
  return undefined;
}

function toInt(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

function inPrefix(address: string, cidr: string): boolean {
  const [base, len] = cidr.split("/");
  const size = 2 ** (32 - Number(len));
  const start = toInt(base!);
  const a = toInt(address);
  return a >= start && a < start + size;
}

export async function linkNames(ns: string): Promise<string[]> {
  const r = await run(["ip", "-n", assertNetnsName(ns), "-j", "link", "show"]);
  if (r.exitCode !== 0) throw new Error(`ip -n ${ns} link: ${r.stderr}`);
  return (JSON.parse(r.stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
}

/** `iptables-save -t nat` of a namespace (undefined: the root namespace). */
export async function natRules(ns: string | undefined): Promise<string> {
  const argv = ns === undefined ? ["iptables-save", "-t", "nat"] : ["ip", "netns", "exec", assertNetnsName(ns), "iptables-save", "-t", "nat"];
  const r = await run(argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Runs argv inside a node namespace (a client on the node itself, e.g. curl). */
export function onNode(ns: string, argv: readonly string[], timeoutMs = 15_000) {
  return run(["ip", "netns", "exec", assertNetnsName(ns), ...argv], {}, timeoutMs);
}

/** Polls `probe` until it returns a value or the deadline passes (then the last error). */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await Bun.sleep(100);
  }
}

/** Addresses of the node's capacity neither assigned nor cooling (IPv4), per addr-broker's usage. */
export function freeAddresses(debug: BrokerDebug): number {
  return debug.usage.cidrs.reduce((n, c) => n + 2 ** (32 - Number(c.cidr.split("/")[1])) - c.assigned - c.cooling, 0);
}

/**
 * The host pid of a kubelet pod's running container (to enter its namespaces with nsenter),
 * found by the pod's uid among the stack's podman containers once it runs.
 */
export async function podContainerPid(stack: Stack, uid: string, what: string, timeoutMs = 30_000, container = "main"): Promise<number> {
  const podman = new Podman(kubeletFiles(stack.dir).containersConf, resolve(stack.dir, "kubelet"));
  return eventually(`${what}'s container runs`, timeoutMs, async () => {
    const running = (await podman.list({ [LABEL.stack]: stackNames(stack.dir).prefix, [LABEL.uid]: uid, [LABEL.container]: container })).filter((c) => c.running);
    if (!running[0]) return undefined;
    const r = await podman.run(["inspect", "--format", "{{.State.Pid}}", running[0].id]);
    const n = Number(r.stdout.trim());
    return r.exitCode === 0 && n > 0 ? n : undefined;
  });
}

/** What a deployment in `dir` left behind once stopped: its network namespaces and its kubelets' containers (both empty when clean). */
export async function deploymentRemains(dir: string): Promise<{ netns: string[]; containers: string }> {
  const { prefix } = stackNames(dir);
  const netns = (await run(["ip", "netns", "list"])).stdout.split("\n").filter((l) => l.startsWith(`${prefix}-`));
  const containers = (await run(["podman", "ps", "-a", "--filter", `label=${LABEL.stack}=${prefix}`, "--format", "{{.Names}}"])).stdout.trim();
  return { netns, containers };
}
