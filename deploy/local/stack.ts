// stack.json: what a running local deployment tells its users (tests, the demo, the benches).
// The schema is the contract: fields may be added, never removed.
import { z } from "zod";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const StackNode = z.object({
  name: z.string(),
  instanceId: z.string(),
  instanceType: z.string(),
  netns: z.string(),
  primaryIp: z.string(),
  /** The instance's primary IPv6 address (an IPv6 deployment, `up --ipv6`). */
  primaryIpv6: z.string().optional(),
  primaryEni: z.string(),
  subnetId: z.string(),
  // Written once the node's services are installed; absent with --cloud-only. In daemonset mode
  // these are the node's directories the aws-node pod's hostPath volumes map to.
  runDir: z.string().optional(),
  cniBinDir: z.string().optional(),
  cniConfDir: z.string().optional(),
  conflist: z.string().optional(),
  metrics: z.string().optional(),
});

export const DeployMode = z.enum(["processes", "daemonset"]);
export type DeployMode = z.infer<typeof DeployMode>;

export const Stack = z.object({
  version: z.literal(1),
  dir: z.string(),
  /** How the product runs on the nodes: the services as processes, or the aws-node DaemonSet run by the kubelets (absent: cloud only). */
  mode: DeployMode.optional(),
  /** An IPv6 deployment (`up --ipv6`): the VPC has ipv6Cidrs, nodes run ENABLE_IPv6 with prefix delegation. */
  ipv6: z.boolean().optional(),
  /** IPv4 nodes with a primary IPv6 in a dual-stack VPC, ENABLE_V6_EGRESS on (`up --v6-egress`). */
  v6Egress: z.boolean().optional(),
  vpc: z.object({ id: z.string(), cidrs: z.array(z.string()).min(1), ipv6Cidrs: z.array(z.string()).optional() }),
  ec2: z.object({ endpoint: z.string().url(), control: z.string() }),
  imds: z.object({ endpoint: z.literal("http://169.254.169.254") }),
  kube: z.object({ endpoint: z.string().url(), kubeconfig: z.string() }),
  nodes: z.array(StackNode),
  outside: z.object({
    netns: z.string(),
    echo: z.string().regex(/^203\.0\.113\.10:\d+$/),
    /** The IPv6 echo service, `[2001:db8:ffff::10]:port` (IPv6 deployments). */
    echo6: z.string().regex(/^\[2001:db8:ffff::10\]:\d+$/).optional(),
  }),
});

export type Stack = z.infer<typeof Stack>;
export type StackNode = z.infer<typeof StackNode>;

export const STACK_FILE = "stack.json";

export function stackPath(dir: string): string {
  return join(dir, STACK_FILE);
}

/** Written atomically (tmp + rename): a reader sees the whole file or none. */
export async function writeStack(dir: string, stack: Stack): Promise<string> {
  const path = stackPath(dir);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(Stack.parse(stack), null, 2) + "\n", { mode: 0o644 });
  await rename(tmp, path);
  return path;
}

export async function readStack(dir: string): Promise<Stack> {
  return Stack.parse(await Bun.file(stackPath(dir)).json());
}
