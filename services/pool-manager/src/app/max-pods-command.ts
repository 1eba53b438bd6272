/**
 * The max-pods command: the value to give the kubelet's --max-pods for an instance type
 * (core/max-pods.ts), from the instance type's network limits as EC2 answers them
 * (DescribeInstanceTypes). When EC2 cannot be asked (no credentials, no network, throttled),
 * or with --offline, the limits come from the built-in table of common types
 * (core/known-instance-types.ts), and stderr says so. An instance type EC2 does not know is
 * an error, whatever the table holds.
 */
import { parseArgs } from "node:util";
import { knownInstanceLimits } from "../core/known-instance-types.ts";
import { maxPods } from "../core/max-pods.ts";
import { ec2Code, type Ec2Port, type InstanceLimits } from "../core/ports.ts";

export const MAX_PODS_USAGE =
  "usage: max-pods --instance-type <type> [--prefix-delegation] [--custom-networking] [--max-eni <n>] [--region <region>] [--endpoint <url>] [--offline]";

export interface MaxPodsArgs {
  instanceType: string;
  prefixDelegation: boolean;
  customNetworking: boolean;
  maxEni?: number;
  /** EC2 is not asked: the built-in table only. */
  offline: boolean;
  /** EC2's region (else the AWS SDK's default: AWS_REGION, the shared config). */
  region?: string;
  /** EC2's endpoint (else the region's). */
  endpoint?: string;
}

export interface CommandOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** The command line, checked; an error names the offending option. */
export function parseMaxPodsArgs(argv: string[]): MaxPodsArgs | { error: string } {
  let v;
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        "instance-type": { type: "string" },
        "prefix-delegation": { type: "boolean" },
        "custom-networking": { type: "boolean" },
        "max-eni": { type: "string" },
        region: { type: "string" },
        endpoint: { type: "string" },
        offline: { type: "boolean" },
      },
    }).values;
  } catch (err) {
    return { error: (err as Error).message };
  }
  const type = v["instance-type"];
  if (type === undefined) return { error: "--instance-type: required (e.g. --instance-type m5.large)" };
  if (!INSTANCE_TYPE.test(type)) return { error: `--instance-type: ${JSON.stringify(type)} is not an instance type name (e.g. m5.large)` };
  const out: MaxPodsArgs = { instanceType: type, prefixDelegation: v["prefix-delegation"] === true, customNetworking: v["custom-networking"] === true, offline: v.offline === true };
  if (v["max-eni"] !== undefined) {
    const n = Number(v["max-eni"]);
    if (!/^\d+$/.test(v["max-eni"]) || n < 1) return { error: `--max-eni: ${JSON.stringify(v["max-eni"])} is not a whole number ≥ 1` };
    out.maxEni = n;
  }
  if (v.region !== undefined) {
    if (!REGION.test(v.region)) return { error: `--region: ${JSON.stringify(v.region)} is not a region name (e.g. us-west-2)` };
    out.region = v.region;
  }
  if (v.endpoint !== undefined) {
    const u = URL.canParse(v.endpoint) ? new URL(v.endpoint) : undefined;
    if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) return { error: `--endpoint: ${JSON.stringify(v.endpoint)} is not an http(s) URL` };
    out.endpoint = v.endpoint;
  }
  if (out.offline && (out.region !== undefined || out.endpoint !== undefined)) return { error: "--offline: EC2 is not asked, so --region and --endpoint do not apply" };
  return out;
}

/** Resolves the instance type's limits (EC2, else the table) and prints max pods. `ec2` is called only when EC2 is asked. */
export async function runMaxPods(args: MaxPodsArgs, ec2: () => Ec2Port): Promise<CommandOutput> {
  let limits: InstanceLimits | undefined;
  let note = "";
  if (!args.offline) {
    try {
      limits = await ec2().instanceLimits(args.instanceType);
    } catch (err) {
      if (ec2Code(err) === "InvalidInstanceType") return { exitCode: 1, stdout: "", stderr: `max-pods: --instance-type: EC2 knows no instance type ${args.instanceType}\n` };
      note = `max-pods: EC2's DescribeInstanceTypes failed (${String((err as Error)?.message ?? err)}); limits from the built-in table\n`;
    }
  }
  limits ??= knownInstanceLimits(args.instanceType);
  if (!limits) {
    const why = args.offline ? "--offline" : "EC2 could not be asked";
    return { exitCode: 1, stdout: "", stderr: `${note}max-pods: --instance-type: ${args.instanceType} is not in the built-in table (${why}); run it where EC2 can be asked\n` };
  }
  const pods = maxPods(limits, { prefixDelegation: args.prefixDelegation, customNetworking: args.customNetworking, ...(args.maxEni !== undefined ? { maxEni: args.maxEni } : {}) });
  return { exitCode: 0, stdout: `${pods}\n`, stderr: note };
}
