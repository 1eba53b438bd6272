/**
 * Security groups for pods, the pod's side of the contract with the VPC resource
 * controller: whether a pod asks for a branch ENI (containers[0] requests or limits
 * `vpc.amazonaws.com/pod-eni`), and the branch ENI it was given (the annotation
 * `vpc.amazonaws.com/pod-eni`, a JSON array whose element 0 is used, as upstream). Pure.
 */
import type { PodEniDetails } from "../../../../shared/contracts/branch.ts";
import { hostVethName } from "../../../../shared/naming.ts";
import { canonicalIp, parseCidr, subnetGateway } from "../../../../shared/ip.ts";
import { CniCode, CniError } from "./cni-error.ts";

export const POD_ENI_RESOURCE = "vpc.amazonaws.com/pod-eni";
export const POD_ENI_ANNOTATION = "vpc.amazonaws.com/pod-eni";
/** IPv6 branch pods' gateway (upstream's). */
export const BRANCH_GATEWAY_V6 = "fe80:ec2::1";
export const MAX_VLAN_ID = 120;

/** The parts of a Pod object this file reads. */
export interface PodView {
  uid?: string;
  annotations: Record<string, string>;
  /** containers[0]'s resources (upstream looks at the first container only). */
  firstContainer?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
}

/** One element of the annotation: all eight keys the resource controller always writes. */
export type BranchEni = PodEniDetails;

const KEYS = ["eniId", "ifAddress", "privateIp", "ipv6Addr", "vlanId", "subnetCidr", "subnetV6Cidr", "associationID"] as const;

/** containers[0] asks for a branch ENI (a requests or limits key starting with vpc.amazonaws.com/pod-eni). */
export function requestsPodEni(pod: PodView): boolean {
  const c = pod.firstContainer;
  if (!c) return false;
  return [c.requests, c.limits].some((m) => m !== undefined && Object.keys(m).some((k) => k.startsWith(POD_ENI_RESOURCE)));
}

function bad(what: string): CniError {
  return new CniError(CniCode.BRANCH_ENI_ANNOTATION, `annotation ${POD_ENI_ANNOTATION}: ${what}`);
}

/** The annotation's element 0, every key checked; a CniError naming the key otherwise. */
export function parsePodEniAnnotation(text: string, family: "ipv4" | "ipv6"): BranchEni {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad(`${JSON.stringify(text.slice(0, 80))} is not JSON`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw bad("must be a non-empty JSON array");
  const e = parsed[0] as Record<string, unknown>;
  if (typeof e !== "object" || e === null || Array.isArray(e)) throw bad("[0] must be an object");
  for (const k of KEYS) if (!Object.hasOwn(e, k)) throw bad(`[0].${k} is missing`);
  for (const k of KEYS) if (k !== "vlanId" && typeof e[k] !== "string") throw bad(`[0].${k} must be a string`);
  const s = e as Record<(typeof KEYS)[number], string> & { vlanId: unknown };
  if (typeof s.vlanId !== "number" || !Number.isInteger(s.vlanId) || s.vlanId < 1 || s.vlanId > MAX_VLAN_ID) throw bad(`[0].vlanId ${JSON.stringify(s.vlanId)} must be an integer from 1 to ${MAX_VLAN_ID}`);
  if (!/^eni-[0-9a-f]{1,32}$/.test(s.eniId)) throw bad(`[0].eniId ${JSON.stringify(s.eniId)} is not an ENI id`);
  const mac = s.ifAddress.toLowerCase();
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw bad(`[0].ifAddress ${JSON.stringify(s.ifAddress)} is not a MAC address`);
  const v6 = family === "ipv6";
  const ipKey = v6 ? "ipv6Addr" : "privateIp";
  const ip = canonicalIp(s[ipKey]);
  if (!ip || ip.includes(":") !== v6) throw bad(`[0].${ipKey} ${JSON.stringify(s[ipKey])} is not an ${v6 ? "IPv6" : "IPv4"} address`);
  const cidrKey = v6 ? "subnetV6Cidr" : "subnetCidr";
  if (!v6 && !parseCidr(s.subnetCidr, false)) throw bad(`[0].subnetCidr ${JSON.stringify(s.subnetCidr)} is not a CIDR`);
  if (v6 && s.subnetV6Cidr !== "" && !parseCidr(s.subnetV6Cidr, false)) throw bad(`[0].${cidrKey} ${JSON.stringify(s.subnetV6Cidr)} is not a CIDR`);
  return { ...s, ifAddress: mac, [ipKey]: ip, vlanId: s.vlanId } as BranchEni;
}

/** IPv4: the branch subnet's network address + 1; IPv6: fe80:ec2::1 (upstream's AddNetwork). */
export function branchGateway(eni: BranchEni, family: "ipv4" | "ipv6"): string {
  return family === "ipv6" ? BRANCH_GATEWAY_V6 : subnetGateway(eni.subnetCidr);
}

export function branchAddress(eni: BranchEni, family: "ipv4" | "ipv6"): string {
  return family === "ipv6" ? eni.ipv6Addr : eni.privateIp;
}

/** The result's `dummy<hash>` interface: its `mac` carries the VLAN id, so DEL can tear down from prevResult alone. */
export function dummyInterfaceName(pod: { namespace?: string; name?: string; containerId: string; ifName: string }): string {
  return hostVethName("dummy", pod);
}

/** The VLAN id a prevResult's dummy interface carries; undefined when it has none (an ordinary pod) or it is "0". */
export function vlanIdFromPrevResult(interfaces: Array<{ name: string; mac?: string }>, dummyName: string): number | undefined {
  const d = interfaces.find((i) => i.name === dummyName);
  if (!d || d.mac === undefined) return undefined;
  if (!/^\d{1,3}$/.test(d.mac)) throw new CniError(CniCode.DECODE_FAILURE, `prevResult.interfaces: ${dummyName} has a malformed VLAN id ${JSON.stringify(d.mac)}`);
  const id = Number(d.mac);
  if (id === 0) return undefined;
  if (id > MAX_VLAN_ID) throw new CniError(CniCode.DECODE_FAILURE, `prevResult.interfaces: ${dummyName} has VLAN id ${id}, above ${MAX_VLAN_ID}`);
  return id;
}
