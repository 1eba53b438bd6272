/**
 * An ENI's life, with EC2's checks: created in a subnet (security groups of its VPC,
 * explicit addresses free, at most UNATTACHED_IPV4_LIMIT addresses while unattached),
 * attached asynchronously at a free device index within the instance type's limits,
 * detached (not at device 0), deleted (refused "in use" while attached and for
 * `deleteAfterDetachMs` after a detach), and modified. Called by Ec2Model inside its `mutate`.
 */
import { allocateIpv4, ipv4Free } from "./allocator.ts";
import * as ops from "./address-ops.ts";
import { Ec2Error, invalid, missing, notFoundSubnet } from "./errors.ts";
import { checkIdFormat, nextId, nextMac } from "./ids.ts";
import { secondaryCidrs } from "./imds-view.ts";
import type { Ec2Model } from "./state.ts";
import * as trunk from "./trunk-ops.ts";
import type { Attachment, Ec2State, Eni, Tags } from "./types.ts";

/** Address limit of an ENI that is not attached (EC2 checks the type's limit at attach). */
export const UNATTACHED_IPV4_LIMIT = 50;

export interface CreateEniRequest {
  subnetId: string;
  description?: string;
  groups?: string[];
  primaryIp?: string;
  privateIps?: string[];
  secondaryCount?: number;
  ipv4PrefixCount?: number;
  ipv6Count?: number;
  ipv6PrefixCount?: number;
  tags?: Tags;
  /** InterfaceType: efa (ENA + EFA, has addresses) or efa-only (no address at all); unset: interface. */
  interfaceType?: string;
}

export interface AttachRequest {
  eniId: string;
  instanceId: string;
  deviceIndex: number;
  networkCardIndex?: number;
}

export interface ModifyEniRequest {
  eniId: string;
  attachment?: { attachmentId: string; deleteOnTermination: boolean };
  description?: string;
  groups?: string[];
}

/** The InterfaceType values simulated (trunk and branch: trunk-ops.ts). */
const INTERFACE_TYPES = ["efa", "efa-only", "trunk", "branch"] as const;

export function newEni(m: Ec2Model, req: CreateEniRequest): Eni {
  if (!req.subnetId) throw missing("SubnetId");
  if (req.interfaceType !== undefined && !(INTERFACE_TYPES as readonly string[]).includes(req.interfaceType))
    throw invalid(`Invalid value '${req.interfaceType}' for InterfaceType (simulated: ${INTERFACE_TYPES.join(", ")})`);
  const efaOnly = req.interfaceType === "efa-only";
  // An efa-only interface carries no IP address: asking for one is refused.
  if (efaOnly && (req.primaryIp || (req.privateIps ?? []).length > 0 || req.secondaryCount || req.ipv4PrefixCount || req.ipv6Count || req.ipv6PrefixCount))
    throw new Ec2Error("InvalidParameterCombination", "An efa-only network interface cannot have IP addresses");
  checkIdFormat(req.subnetId, "subnet");
  const subnet = m.state.subnets[req.subnetId];
  if (!subnet) throw notFoundSubnet(req.subnetId);
  const groups = req.groups && req.groups.length > 0 ? req.groups : [m.defaultSecurityGroup(subnet.vpcId)?.id ?? ""];
  checkGroups(m.state, groups, subnet.vpcId);
  const explicit = [...(req.primaryIp ? [req.primaryIp] : []), ...(req.privateIps ?? [])];
  const secondaryCount = req.secondaryCount ?? 0;
  const prefixCount = req.ipv4PrefixCount ?? 0;
  for (const [name, v] of [["SecondaryPrivateIpAddressCount", secondaryCount], ["Ipv4PrefixCount", prefixCount], ["Ipv6AddressCount", req.ipv6Count ?? 0], ["Ipv6PrefixCount", req.ipv6PrefixCount ?? 0]] as const)
    if (!Number.isInteger(v) || v < 0) throw invalid(`Invalid value '${v}' for ${name}`);
  const total = Math.max(explicit.length, 1) + secondaryCount + prefixCount;
  if (total > UNATTACHED_IPV4_LIMIT) throw new Ec2Error("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.");
  for (const ip of explicit) {
    const why = ipv4Free(m.state, subnet, ip);
    if (why === "used") throw new Ec2Error("InvalidIPAddress.InUse", `Address ${ip} is in use.`);
    if (why !== "ok") throw invalid(`Address ${ip} does not fall within the subnet's address range or is reserved`);
  }
  if (new Set(explicit).size !== explicit.length) throw invalid("Duplicate private IP addresses");
  const eni: Eni = {
    id: nextId(m.state, "eni"),
    subnetId: subnet.id,
    vpcId: subnet.vpcId,
    az: subnet.az,
    description: req.description ?? "",
    mac: nextMac(m.state),
    status: "available",
    groups,
    tags: { ...req.tags },
    primaryIp: "",
    secondaryIps: [],
    ipv4Prefixes: [],
    ipv6Addresses: [],
    primaryIpv6: null,
    ipv6Prefixes: [],
    attachment: null,
    ...(req.interfaceType ? { interfaceType: req.interfaceType as (typeof INTERFACE_TYPES)[number] } : {}),
    createdAt: m.now(),
    detachedAt: null,
  };
  const primary = efaOnly ? "" : (explicit[0] ?? allocateIpv4(m.state, subnet, 1)[0] ?? "");
  eni.primaryIp = primary;
  m.state.enis[eni.id] = eni;
  if (efaOnly) return eni;
  try {
    if (explicit.length > 1) eni.secondaryIps.push(...explicit.slice(1));
    ops.assignIpv4(m, eni, { count: secondaryCount, prefixCount }, false);
    ops.assignIpv6(m, eni, { count: req.ipv6Count ?? 0, prefixCount: req.ipv6PrefixCount ?? 0 }, false);
  } catch (e) {
    delete m.state.enis[eni.id];
    throw e;
  }
  return eni;
}

/** The attachment starts "attaching"; `settleDue` makes it "attached" once `attachDelayMs` has passed. */
export function attachEni(m: Ec2Model, p: AttachRequest): Attachment {
  const eni = m.eni(p.eniId);
  const inst = m.instance(p.instanceId);
  const limits = m.limits(inst);
  const card = p.networkCardIndex ?? 0;
  if (!Number.isInteger(card) || card < 0 || card >= limits.networkCards) throw invalid(`Invalid value '${p.networkCardIndex}' for NetworkCardIndex. Instance type ${inst.instanceType} has ${limits.networkCards} network card(s)`);
  if (!Number.isInteger(p.deviceIndex) || p.deviceIndex < 0) throw invalid(`Invalid value '${p.deviceIndex}' for DeviceIndex`);
  if (eni.attachment) throw new Ec2Error("InvalidNetworkInterface.InUse", `Interface: [${eni.id}] in use.`);
  if (eni.az !== inst.az) throw invalid(`The network interface and the instance must be in the same availability zone`);
  trunk.checkAttach(m, eni.id, inst.id, inst.instanceType);
  if ((eni.interfaceType === "efa" || eni.interfaceType === "efa-only") && !limits.efa) throw new Ec2Error("UnsupportedOperation", `Interface type ${eni.interfaceType} is not supported on instance type ${inst.instanceType}`);
  const attached = m.enisOf(inst.id);
  // Each network card has its own ENI limit and numbers its own device indexes.
  const onCard = attached.filter((e) => (e.attachment?.networkCardIndex ?? 0) === card);
  const cardMax = limits.cardEnis[card] ?? 0;
  if (p.deviceIndex >= cardMax || onCard.length >= cardMax || attached.length >= limits.maxEnis)
    throw new Ec2Error("AttachmentLimitExceeded", `Interface count ${onCard.length + 1} can not exceed the limit for ${inst.instanceType} on network card ${card}`);
  if (onCard.some((e) => e.attachment?.deviceIndex === p.deviceIndex))
    throw invalid(`Instance '${inst.id}' already has an interface attached at device index '${p.deviceIndex}' on network card '${card}'.`);
  if (ops.ipv4Slots(eni) > limits.ipv4PerEni || ops.ipv6Slots(eni) > limits.ipv6PerEni)
    throw new Ec2Error("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.");
  const t = m.now();
  eni.attachment = { id: nextId(m.state, "eni-attach"), instanceId: inst.id, deviceIndex: p.deviceIndex, networkCardIndex: card, status: "attaching", deleteOnTermination: false, attachTime: t, readyAt: t + m.timing.attachDelayMs };
  eni.status = "attaching";
  m.settleDue();
  return eni.attachment;
}

export function detachEni(m: Ec2Model, p: { attachmentId: string; force?: boolean }): void {
  if (!p.attachmentId) throw missing("AttachmentId");
  const eni = Object.values(m.state.enis).find((e) => e.attachment?.id === p.attachmentId);
  if (!eni?.attachment) throw new Ec2Error("InvalidAttachmentID.NotFound", `Interface attachment '${p.attachmentId}' does not exist`);
  if (eni.attachment.deviceIndex === 0) throw new Ec2Error("InvalidParameterValue", "The network interface at device index 0 cannot be detached.");
  trunk.checkDetachOrDelete(m, eni.id);
  const { instanceId, status } = eni.attachment;
  eni.attachment = null;
  eni.status = "available";
  eni.detachedAt = m.now();
  if (status === "attached") {
    const cidrs = secondaryCidrs(eni);
    if (cidrs.length > 0) m.emit({ kind: "addressesUnassigned", eniId: eni.id, instanceId, mac: eni.mac, cidrs });
    m.emit({ kind: "eniDetached", eniId: eni.id, instanceId, mac: eni.mac });
    m.recordImds(instanceId);
  }
}

export function deleteEni(m: Ec2Model, eniId: string): void {
  const eni = m.eni(eniId);
  const inUse = eni.attachment !== null || (eni.detachedAt !== null && m.now() < eni.detachedAt + m.timing.deleteAfterDetachMs);
  if (inUse) throw invalid(`Network interface '${eni.id}' is currently in use.`);
  trunk.checkDetachOrDelete(m, eni.id);
  delete m.state.enis[eni.id];
  trunk.forgetPermissions(m, eni.id);
}

export function modifyEni(m: Ec2Model, p: ModifyEniRequest): void {
  const eni = m.eni(p.eniId);
  if (p.attachment === undefined && p.description === undefined && p.groups === undefined) throw missing("Attribute");
  if (p.attachment) {
    if (eni.attachment?.id !== p.attachment.attachmentId)
      throw new Ec2Error("InvalidAttachmentID.NotFound", `Interface attachment '${p.attachment.attachmentId}' does not exist`);
  }
  if (p.groups) checkGroups(m.state, p.groups, eni.vpcId);
  if (p.attachment && eni.attachment) eni.attachment.deleteOnTermination = p.attachment.deleteOnTermination;
  if (p.description !== undefined) eni.description = p.description;
  if (p.groups) {
    eni.groups = [...p.groups];
    if (eni.attachment?.status === "attached") m.recordImds(eni.attachment.instanceId);
  }
}

function checkGroups(state: Ec2State, groups: string[], vpcId: string): void {
  for (const g of groups) {
    const sg = state.securityGroups[g];
    if (!sg || sg.vpcId !== vpcId) throw new Ec2Error("InvalidGroup.NotFound", `The security group '${g}' does not exist in VPC '${vpcId}'`);
  }
}
