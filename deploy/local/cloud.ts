// Assembles the simulated cloud of the local deployment: the VPC as namespaces, the simulated
// EC2 (its changes mirrored into real links), one IMDS listener per node, the Kubernetes API,
// and the outside echo service. `startCloud` is the programmatic form of `main.ts up`.
import { mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import pino from "pino";
import { formatIp, parseCidr, prefixLength } from "../../shared/ip.ts";
import { Ec2Model, INSTANCE_TYPES, instanceTypeLimits, type ModelTiming } from "./sim-ec2/index.ts";
import { serveImds, type ServedImds } from "./sim-imds/serve.ts";
import type { ServedKube } from "./sim-kube/serve.ts";
import { imdsViewOf, nodeObject, privateDnsName } from "./node-identity.ts";
import { LABEL, kubeletFiles } from "./kubelet/names.ts";
import { manifestPath, removeManifest, writeManifest, type Manifest } from "./manifest.ts";
import { startEc2Api, startKubeApi, type Ec2Api, type KubeApi, type VpcResourceHooks } from "./services.ts";
import { Stack, stackPath, writeStack, type StackNode } from "./stack.ts";
import { VpcFabric, destroyStack } from "./vpc/fabric.ts";
import { EniMirror } from "./vpc/mirror.ts";
import { FabricFollower } from "./vpc/fabric-sync.ts";
import { SgEnforcer } from "./vpc/sg-enforcer.ts";
import { stackNames, type StackNames } from "./vpc/names.ts";
import { startEcho, type EchoService } from "./vpc/outside-echo.ts";
import { OUTSIDE_IPV6 } from "./vpc/fabric-ipv6.ts";

export interface CloudOptions {
  dir: string;
  nodes?: number;
  instanceType?: string;
  region?: string;
  vpcCidr?: string;
  /** One subnet per availability zone; nodes are launched in the first. */
  subnets?: Array<{ az: string; cidr: string }>;
  timing?: Partial<ModelTiming>;
  logger?: pino.Logger;
  /** Each node will have a kubelet: nodes register NotReady, and `down` removes the stack's containers. */
  kubelets?: boolean;
  /**
   * A dual-stack VPC (`up --ipv6`): the VPC gets DEFAULTS.vpcIpv6Cidr, each subnet a /64 of it,
   * each instance a primary IPv6, the fabric routes IPv6 and the outside answers on IPv6 too.
   */
  ipv6?: boolean;
  /**
   * The same dual-stack VPC for IPv4 nodes (`up --v6-egress`): each instance has its primary
   * IPv6 so pods can reach the IPv6 outside through egress-cni (ENABLE_V6_EGRESS); the nodes
   * stay IPv4 (secondary addresses, IPv4 max-pods). Not with `ipv6`.
   */
  v6Egress?: boolean;
  /** Tests only: the simulated VPC resource controller's hooks (services.ts). */
  vpcResourceHooks?: VpcResourceHooks;
}

export interface RunningCloud {
  stack: Stack;
  names: StackNames;
  model: Ec2Model;
  mirror: EniMirror;
  /** The router's security-group filter: its table as applied and the last apply's timing. */
  sgEnforcer: SgEnforcer;
  /** The simulated Kubernetes API (setUnreachable, store) and each node's IMDS listener (faults), for fault tests. */
  faults: { kube: ServedKube; imds: ServedImds[] };
  /** Idempotent; tears down everything `startCloud` created. */
  stop(): Promise<void>;
}

export const DEFAULTS = {
  nodes: 2,
  instanceType: "m5.large",
  region: "us-west-2",
  vpcCidr: "10.0.0.0/16",
  subnets: [
    { az: "us-west-2a", cidr: "10.0.0.0/19" },
    { az: "us-west-2b", cidr: "10.0.32.0/19" },
    { az: "us-west-2c", cidr: "10.0.64.0/19" },
  ],
  /** IPv6 deployments: the VPC's /56 (documentation space); subnet i gets its i-th /64. */
  vpcIpv6Cidr: "2001:db8:1000::/56",
} as const;

/** The i-th /64 of a /56 (IPv6 subnets of an IPv6 deployment). */
export function subnetIpv6Cidr(vpcIpv6Cidr: string, i: number): string {
  const c = parseCidr(vpcIpv6Cidr);
  if (!c || c.family !== 6 || c.prefix !== 56 || !Number.isInteger(i) || i < 0 || i > 255) throw new CloudError("LOCAL_BAD_OPTION", `subnets: no /64 number ${i} in ${vpcIpv6Cidr}`);
  return `${formatIp(6, c.base + (BigInt(i) << 64n))}/64`;
}

export class CloudError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export async function startCloud(opts: CloudOptions): Promise<RunningCloud> {
  const dir = resolve(opts.dir);
  const nodeCount = opts.nodes ?? DEFAULTS.nodes;
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 200) throw new CloudError("LOCAL_BAD_OPTION", `nodes: must be 1..200, got ${opts.nodes}`);
  const instanceType = opts.instanceType ?? DEFAULTS.instanceType;
  if (!instanceTypeLimits(instanceType)) throw new CloudError("LOCAL_BAD_OPTION", `instanceType: unknown instance type ${JSON.stringify(instanceType)} (known: ${Object.keys(INSTANCE_TYPES).join(", ")})`);
  const region = opts.region ?? DEFAULTS.region;
  const vpcCidr = opts.vpcCidr ?? DEFAULTS.vpcCidr;
  const subnetSpecs = opts.subnets ?? DEFAULTS.subnets;
  const log = opts.logger ?? pino({ level: "silent" });
  const names = stackNames(dir);

  await mkdir(dir, { recursive: true });
  const controlSocket = join(dir, "ec2-control.sock");
  const kubeconfig = join(dir, "kubeconfig");
  const manifest: Manifest = {
    prefix: names.prefix,
    upPid: process.pid,
    pids: [],
    files: [controlSocket, kubeconfig, stackPath(dir)],
    ...(opts.kubelets ? { containers: { label: `${LABEL.stack}=${names.prefix}`, containersConf: kubeletFiles(dir).containersConf } } : {}),
  };
  // Validate what can be validated before touching the kernel.
  const model = new Ec2Model({ timing: opts.timing });
  if (opts.ipv6 && opts.v6Egress) throw new CloudError("LOCAL_BAD_OPTION", "ipv6 and v6Egress: an IPv6 deployment has IPv4 egress already; v6Egress is for IPv4 nodes");
  // The VPC, subnets, instances, fabric and outside are dual-stack for either; only `ipv6` makes the nodes IPv6.
  const ipv6 = opts.ipv6 === true || opts.v6Egress === true;
  const vpc = model.createVpc({ cidr: vpcCidr, ...(ipv6 ? { ipv6Cidr: DEFAULTS.vpcIpv6Cidr } : {}), tags: { Name: `local-${names.prefix}` } });
  const subnets = subnetSpecs.map((s, i) =>
    model.createSubnet({ vpcId: vpc.id, az: s.az, cidr: s.cidr, ...(ipv6 ? { ipv6Cidr: subnetIpv6Cidr(DEFAULTS.vpcIpv6Cidr, i) } : {}), tags: { Name: `local-${names.prefix}-${s.az}` } }),
  );
  const nodeSubnet = subnets[0];
  if (!nodeSubnet) throw new CloudError("LOCAL_BAD_OPTION", "subnets: at least one is needed");
  const sg = model.defaultSecurityGroup(vpc.id);
  const nodeGroups = [...(sg ? [sg.id] : []), nodeSecurityGroup(model, vpc).id];

  const fabric = new VpcFabric(names, vpc.cidrs, vpc.ipv6Cidrs);
  // Refuse (changing nothing) when this DIR's stack exists: another `up` runs, or one crashed.
  await fabric.assertAbsent();
  await writeManifest(dir, manifest);
  const mirror = new EniMirror(fabric, {
    info: (o, m) => log.info(o, m),
    error: (o, m) => log.error(o, m),
  });
  model.addObserver(mirror);
  const sgEnforcer = new SgEnforcer(names.routerNs);

  const imdsListeners: ServedImds[] = [];
  let ec2: Ec2Api | undefined;
  let kube: KubeApi | undefined;
  let echo: EchoService | undefined;
  let echo6: EchoService | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await mirror.idle();
    mirror.unfollow();
    await echo?.stop().catch(() => {});
    await echo6?.stop().catch(() => {});
    for (const l of imdsListeners) await l.stop().catch(() => {});
    await ec2?.stop().catch(() => {});
    await kube?.stop().catch(() => {});
    const problems = await destroyStack(names);
    for (const p of problems) log.error({ problem: p }, "teardown left something behind");
    for (const f of manifest.files) await rm(f, { force: true });
    await removeManifest(dir);
    log.info({ dir }, "local deployment stopped");
  };

  try {
    await fabric.create();
    // Branch ENIs carried over their trunk's link, and security groups enforced on every ENI,
    // follow the state (vpc/fabric-sync.ts), from now on: the router exists.
    mirror.follow(new FabricFollower(() => model.state, fabric, sgEnforcer));
    const echoStarted = startEcho(names.outsideNs);
    const echo6Started = ipv6 ? startEcho(names.outsideNs, undefined, undefined, OUTSIDE_IPV6) : undefined;
    const host = names.mgmt.rootIp;
    ec2 = await startEc2Api({ model, host, controlSocket, log });
    kube = await startKubeApi({ host, kubeconfig, log, ec2Endpoint: ec2.url, ...(opts.vpcResourceHooks ? { vpcResourceHooks: opts.vpcResourceHooks } : {}) });

    const nodes: StackNode[] = [];
    for (let i = 0; i < nodeCount; i++) {
      const netns = await fabric.addNode(i);
      const inst = model.launchInstance({ instanceType, subnetId: nodeSubnet.id, securityGroupIds: nodeGroups, ...(ipv6 ? { ipv6AddressCount: 1 } : {}) });
      mirror.registerInstance(inst.id, i);
      const imds = serveImds({
        hostname: host,
        port: 0,
        instanceId: inst.id,
        view: (id, now) => imdsViewOf(model, region, id, now),
      });
      imdsListeners.push(imds);
      await fabric.redirectImds(i, imds.port);
      const name = privateDnsName(inst.privateIp, region);
      await kube.createNode(nodeObject(inst, name, region, opts.kubelets === true, opts.ipv6 === true));
      nodes.push({ name, instanceId: inst.id, instanceType, netns, primaryIp: inst.privateIp, ...(inst.ipv6Address ? { primaryIpv6: inst.ipv6Address } : {}), primaryEni: inst.primaryEniId, subnetId: inst.subnetId });
    }
    echo = await echoStarted;
    manifest.pids.push(echo.pid);
    echo6 = await echo6Started;
    if (echo6) manifest.pids.push(echo6.pid);
    await writeManifest(dir, manifest);
    await mirror.idle();
    if (mirror.failures.length > 0) throw new CloudError("LOCAL_MIRROR_FAILED", `wiring the VPC failed: ${mirror.failures.map((f) => `${f.event} ${f.eniId}: ${f.error}`).join("; ")}`);

    const stack: Stack = Stack.parse({
      version: 1,
      dir,
      ...(opts.ipv6 ? { ipv6: true } : {}),
      ...(opts.v6Egress ? { v6Egress: true } : {}),
      vpc: { id: vpc.id, cidrs: vpc.cidrs, ...(ipv6 ? { ipv6Cidrs: vpc.ipv6Cidrs } : {}) },
      ec2: { endpoint: ec2.url, control: controlSocket },
      imds: { endpoint: "http://169.254.169.254" },
      kube: { endpoint: kube.url, kubeconfig },
      nodes,
      outside: { netns: names.outsideNs, echo: echo.address, ...(echo6 ? { echo6: echo6.address } : {}) },
    });
    log.info({ dir, nodes: nodes.length, subnetPrefix: prefixLength(nodeSubnet.cidr) }, "local deployment ready");
    return { stack, names, model, mirror, sgEnforcer, faults: { kube: kube.served, imds: imdsListeners }, stop };
  } catch (err) {
    log.error({ error: String(err) }, "start failed; tearing down");
    await stop();
    throw err;
  }
}

/**
 * The nodes' own security group (beside the VPC's default group, which lets members reach each
 * other): all traffic in from the VPC's CIDRs, as an EKS cluster security group lets the
 * cluster in. Nodes and ordinary pods keep reaching each other whatever else joins the VPC
 * (branch ENIs with their own groups), and replies from the outside pass as tracked flows.
 * Nothing from the outside may open a connection to a node: no test or demo needs one.
 */
function nodeSecurityGroup(model: Ec2Model, vpc: { id: string; cidrs: string[]; ipv6Cidrs: string[] }) {
  const group = model.createSecurityGroup({ vpcId: vpc.id, name: "local-nodes", description: "local deployment nodes: all from the VPC" });
  model.authorizeSecurityGroup(group.id, "ingress", [
    { protocol: "-1", cidrs: vpc.cidrs.map((cidr) => ({ cidr })), cidrsV6: vpc.ipv6Cidrs.map((cidr) => ({ cidr })), groupIds: [] },
  ]);
  return group;
}

/** Starts a deployment, writes DIR/stack.json, runs `fn`, always tears down. For tests and demos. */
export async function withStack<T>(opts: CloudOptions, fn: (cloud: RunningCloud) => Promise<T>): Promise<T> {
  const cloud = await startCloud(opts);
  try {
    await writeStack(cloud.stack.dir, cloud.stack);
    return await fn(cloud);
  } finally {
    await cloud.stop();
  }
}

export { manifestPath };
