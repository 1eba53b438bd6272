// A local deployment with security groups for pods (`up --pod-eni MODE`, processes mode, the
// kubelets running busybox pods with podman) for tests/e2e/sg-pods.root.test.ts and the bench:
// pods made with kubectl, their container's pid (to probe from inside the pod), TCP probes from
// pods and from a node, the node's kernel wiring of a branch pod, and EC2's view of it.
import { expect } from "bun:test";
import type { DeploymentOptions } from "../../deploy/local/deployment.ts";
import type { PodEniMode } from "../../deploy/local/pod-eni.ts";
import type { Stack } from "../../deploy/local/stack.ts";
import type { SgRule } from "../../deploy/local/sim-ec2/types.ts";
import { runCommand } from "../../deploy/local/vpc/command.ts";
import { usingKubeDeployment } from "./kube-deployment.ts";
import { apply, getJson, kubectl } from "./kubelet/kube.ts";
import { eventually, podContainerPid } from "./podman/node-state.ts";

export const PORTS = [8080, 9090] as const;
/** Each probe's connect timeout, seconds (a dropped SYN costs this long). */
export const PROBE_TIMEOUT_S = 1;

export type PodJson = {
  metadata: { uid: string; annotations?: Record<string, string> };
  spec: { containers: Array<{ resources?: { requests?: Record<string, string> } }> };
  status?: { podIP?: string; phase?: string };
};
export type BranchDetails = { eniId: string; ifAddress: string; privateIp: string; vlanId: number; subnetCidr: string; associationID: string };

/** A busybox pod answering "pong <line>" on both ports (the image's /www/reply). */
export function podSpec(stack: Stack, name: string, nodeIndex: number, labels: Record<string, string>) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels },
    spec: {
      nodeName: stack.nodes[nodeIndex]!.name,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "main", image: "busybox", command: ["sh", "-c", `${PORTS.map((p) => `nc -ll -p ${p} -e /bin/sh /www/reply &`).join(" ")} exec sleep 3600`] }],
    },
  };
}

/** The deployment for one describe: started before its tests, torn down (nothing left behind) after. */
export function usingSgDeployment(tag: string, podEni: PodEniMode, extra: Partial<DeploymentOptions> = {}) {
  const deployment = usingKubeDeployment({ tag: `sg-${tag}`, deployment: { nodes: 2, podEni, ...extra } });
  const ctx = { pids: new Map<string, number>(), ips: new Map<string, string>() };

  const stack = () => deployment.dep().stack;
  const model = () => deployment.dep().cloud.model;

  /** Applies the pods, then records each one's address and its container's pid. */
  async function startPods(specs: Array<[string, number, Record<string, string>]>, timeoutMs = 60_000): Promise<void> {
    for (const [name, i, labels] of specs) await apply(stack(), podSpec(stack(), name, i, labels));
    await Promise.all(specs.map(([name]) => recordPod(name, timeoutMs)));
  }

  async function recordPod(name: string, timeoutMs = 60_000): Promise<void> {
    const p = await eventually(`${name} has an address`, timeoutMs, async () => {
      const j = await getJson<PodJson>(stack(), "pod", name);
      return j?.status?.podIP ? j : undefined;
    });
    ctx.ips.set(name, p.status!.podIP!);
    const pid = await podContainerPid(stack(), p.metadata.uid, name, 30_000);
    ctx.pids.set(name, pid);
  }

  /** One TCP exchange; `from` is a pod's name or `node:<i>` (the node's own namespace); `to` a pod's name or an ip:port. */
  async function reply(from: string, to: string, port?: number): Promise<string> {
    const node = /^node:(\d+)$/.exec(from);
    const enter = node ? ["ip", "netns", "exec", stack().nodes[Number(node[1])]!.netns] : ["nsenter", "-t", String(ctx.pids.get(from)!), "-n"];
    const [host, p] = port === undefined ? to.split(":") : [ctx.ips.get(to)!, String(port)];
    const proc = Bun.spawn([...enter, "/bin/busybox", "nc", "-w", String(PROBE_TIMEOUT_S), host!, p!], { stdin: new TextEncoder().encode("hi\n"), stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill("SIGKILL"), (PROBE_TIMEOUT_S + 2) * 1000);
    const out = await new Response(proc.stdout).text();
    await proc.exited;
    clearTimeout(timer);
    return out;
  }

  /** Which probes get through, as "from→to:port" → boolean; polled until `want` or the timeout, then compared. */
  async function expectReach(want: Record<string, boolean>, timeoutMs = 8_000): Promise<void> {
    const probes = Object.keys(want).map((k) => {
      const m = /^(.+)→(.+):(\d+)$/.exec(k)!;
      return [k, m[1]!, m[2]!, Number(m[3])] as const;
    });
    const t0 = Date.now();
    let last: Record<string, boolean> = {};
    do {
      const got = await Promise.all(probes.map(([, f, t, p]) => reply(f, t, p)));
      last = Object.fromEntries(probes.map(([k], i) => [k, got[i]!.includes("pong hi")]));
      if (Object.entries(want).every(([k, v]) => last[k] === v)) break;
    } while (Date.now() - t0 < timeoutMs);
    expect(last).toEqual(want);
  }

  /** A security group of the VPC with exactly these rules (a new group's allow-all egress replaced). */
  function securityGroup(name: string, ingress: Array<Omit<SgRule, "id" | "description">>, egress: Array<Omit<SgRule, "id" | "description">>): string {
    const m = model();
    const vpcId = Object.keys(m.state.vpcs)[0]!;
    const g = m.createSecurityGroupFromApi({ vpcId, name, description: `e2e ${name}` });
    const perm = (r: Omit<SgRule, "id" | "description">) => ({ protocol: r.protocol, ...(r.fromPort !== null ? { fromPort: r.fromPort } : {}), ...(r.toPort !== null ? { toPort: r.toPort } : {}), cidrs: "cidr" in r.peer ? [{ cidr: r.peer.cidr }] : [], cidrsV6: [], groupIds: "groupId" in r.peer ? [{ groupId: r.peer.groupId }] : [] });
    m.revokeSecurityGroup(g.id, "egress", m.state.securityGroups[g.id]!.egress.map(perm));
    if (ingress.length > 0) m.authorizeSecurityGroup(g.id, "ingress", ingress.map(perm));
    if (egress.length > 0) m.authorizeSecurityGroup(g.id, "egress", egress.map(perm));
    return g.id;
  }

  /** The pod's branch ENI details from its annotation (element 0), once there. */
  async function branchOf(name: string): Promise<BranchDetails> {
    const p = await eventually(`${name}'s pod-eni annotation`, 30_000, async () => (await getJson<PodJson>(stack(), "pod", name))?.metadata.annotations?.["vpc.amazonaws.com/pod-eni"]);
    return (JSON.parse(p) as BranchDetails[])[0]!;
  }

  /** The node's kernel state a branch pod's ADD makes: its VLAN link (MAC), rules naming its table, the table's routes. */
  async function wiring(nodeIndex: number, vlanId: number): Promise<{ link?: string; rules: string[]; routes: string[] }> {
    const ns = stack().nodes[nodeIndex]!.netns;
    const ip = async (args: string[]) => (await runCommand(["ip", "-n", ns, ...args])).stdout;
    const link = /link\/ether (\S+)/.exec(await ip(["-o", "link", "show", `vlan.eth.${vlanId}`]))?.[1];
    const table = String(100 + vlanId);
    const rules = (await ip(["rule", "show"])).split("\n").filter((l) => new RegExp(`lookup ${table}\\b`).test(l)).map((l) => l.trim().replace(/\s+/g, " "));
    const routes = (await ip(["route", "show", "table", table])).split("\n").filter(Boolean).map((l) => l.trim());
    return { ...(link ? { link } : {}), rules, routes };
  }

  return { ctx, dep: deployment.dep, stack, model, startPods, recordPod, reply, expectReach, securityGroup, branchOf, wiring };
}

export const sgp = (name: string, labels: Record<string, string>, groupIds: string[]) => ({
  apiVersion: "vpcresources.k8s.aws/v1beta1",
  kind: "SecurityGroupPolicy",
  metadata: { name, namespace: "default" },
  spec: { podSelector: { matchLabels: labels }, securityGroups: { groupIds } },
});
