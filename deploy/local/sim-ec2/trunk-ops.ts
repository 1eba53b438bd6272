/**
 * Trunk and branch ENIs (security groups for pods): a branch ENI is never attached; it is
 * associated with an attached trunk ENI under a VLAN id, at most the instance type's branch
 * limit per trunk, each VLAN once. Network interface permissions are recorded. Called by
 * Ec2Model inside its `mutate`.
 */
import { Ec2Error, invalid, missing } from "./errors.ts";
import { checkIdFormat, nextId } from "./ids.ts";
import type { Ec2Model } from "./state.ts";
import TRUNK_LIMITS from "./trunk-limits.json";
import type { EniPermission, TrunkAssociation } from "./types.ts";

/** EC2's VLAN ids on a trunk. */
export const VLAN_MIN = 1;
export const VLAN_MAX = 4094;

/**
 * Branch ENIs per trunk of each trunking-capable instance type (AWS's published figures, as the
 * VPC resource controller vendors them); a type not listed cannot have a trunk.
 */
export function branchLimit(instanceType: string): number | undefined {
  return (TRUNK_LIMITS as Record<string, number>)[instanceType];
}

export function associationOf(m: Ec2Model, eniId: string): TrunkAssociation | undefined {
  return Object.values(m.state.trunkAssociations).find((a) => a.branchEniId === eniId || a.trunkEniId === eniId);
}

export function associate(m: Ec2Model, p: { branchEniId?: string; trunkEniId?: string; vlanId?: number }): TrunkAssociation {
  if (!p.branchEniId) throw missing("BranchInterfaceId");
  if (!p.trunkEniId) throw missing("TrunkInterfaceId");
  if (p.vlanId === undefined) throw missing("VlanId");
  const branch = m.eni(p.branchEniId);
  const trunk = m.eni(p.trunkEniId);
  if (!Number.isInteger(p.vlanId) || p.vlanId < VLAN_MIN || p.vlanId > VLAN_MAX) throw invalid(`Invalid value '${p.vlanId}' for VlanId (${VLAN_MIN}..${VLAN_MAX})`);
  if (trunk.interfaceType !== "trunk") throw invalid(`TrunkInterfaceId: network interface '${trunk.id}' is not a trunk interface`);
  if (trunk.attachment?.status !== "attached") throw new Ec2Error("IncorrectState", `TrunkInterfaceId: trunk interface '${trunk.id}' is not attached to an instance`);
  if (branch.id === trunk.id || branch.interfaceType === "trunk" || branch.interfaceType === "efa" || branch.interfaceType === "efa-only")
    throw invalid(`BranchInterfaceId: network interface '${branch.id}' cannot be a branch interface`);
  if (branch.attachment) throw new Ec2Error("InvalidNetworkInterface.InUse", `BranchInterfaceId: interface '${branch.id}' is attached to an instance`);
  if (associationOf(m, branch.id)) throw new Ec2Error("InvalidNetworkInterface.InUse", `BranchInterfaceId: interface '${branch.id}' is already associated with a trunk`);
  if (branch.vpcId !== trunk.vpcId) throw invalid(`BranchInterfaceId: interface '${branch.id}' is not in the trunk's VPC ${trunk.vpcId}`);
  const instance = m.instance(trunk.attachment.instanceId);
  const onTrunk = Object.values(m.state.trunkAssociations).filter((a) => a.trunkEniId === trunk.id);
  if (onTrunk.some((a) => a.vlanId === p.vlanId)) throw invalid(`VlanId: VLAN ${p.vlanId} is already in use on trunk interface '${trunk.id}'`);
  const limit = branchLimit(instance.instanceType) ?? 0;
  if (onTrunk.length >= limit)
    throw new Ec2Error("AttachmentLimitExceeded", `Branch interface count ${onTrunk.length + 1} can not exceed the limit ${limit} for ${instance.instanceType}`);
  const association: TrunkAssociation = { id: nextId(m.state, "trunk-assoc"), branchEniId: branch.id, trunkEniId: trunk.id, vlanId: p.vlanId };
  m.state.trunkAssociations[association.id] = association;
  branch.status = "in-use";
  return association;
}

export function disassociate(m: Ec2Model, associationId: string | undefined): void {
  if (!associationId) throw missing("AssociationId");
  const a = m.state.trunkAssociations[associationId];
  if (!a) throw new Ec2Error("InvalidAssociationID.NotFound", `The association ID '${associationId}' does not exist`);
  delete m.state.trunkAssociations[a.id];
  const branch = m.state.enis[a.branchEniId];
  if (branch) branch.status = "available";
}

/** DescribeTrunkInterfaceAssociations: by id (an unknown id is an error) and by trunk or branch. */
export function describeAssociations(m: Ec2Model, ids: string[]): TrunkAssociation[] {
  if (ids.length === 0) return Object.values(m.state.trunkAssociations);
  return ids.map((id) => {
    const a = m.state.trunkAssociations[id];
    if (!a) throw new Ec2Error("InvalidAssociationID.NotFound", `The association ID '${id}' does not exist`);
    return a;
  });
}

export function createPermission(m: Ec2Model, p: { eniId?: string; permission?: string; awsAccountId?: string }): EniPermission {
  const eni = m.eni(p.eniId);
  if (!p.permission) throw missing("Permission");
  if (p.permission !== "INSTANCE-ATTACH" && p.permission !== "EIP-ASSOCIATE") throw invalid(`Invalid value '${p.permission}' for Permission (INSTANCE-ATTACH or EIP-ASSOCIATE)`);
  if (p.awsAccountId !== undefined && !/^\d{12}$/.test(p.awsAccountId)) throw invalid(`Invalid value '${p.awsAccountId}' for AwsAccountId`);
  const perm: EniPermission = { id: nextId(m.state, "eni-perm"), eniId: eni.id, permission: p.permission, awsAccountId: p.awsAccountId ?? "" };
  m.state.eniPermissions[perm.id] = perm;
  return perm;
}

/** Checks of the ENI life that trunking adds: attach, detach and delete. */
export function checkAttach(m: Ec2Model, eniId: string, instanceId: string, instanceType: string): void {
  const eni = m.state.enis[eniId];
  if (!eni) return;
  if (eni.interfaceType === "branch" || associationOf(m, eni.id)?.branchEniId === eni.id)
    throw invalid(`A branch interface ('${eni.id}') cannot be attached to an instance; associate it with a trunk interface`);
  if (eni.interfaceType !== "trunk") return;
  if (branchLimit(instanceType) === undefined) throw new Ec2Error("UnsupportedOperation", `Instance type ${instanceType} does not support trunk interfaces`);
  const other = m.enisOf(instanceId).find((e) => e.interfaceType === "trunk");
  if (other) throw invalid(`Instance '${instanceId}' already has a trunk interface attached ('${other.id}')`);
}

export function checkDetachOrDelete(m: Ec2Model, eniId: string): void {
  const a = associationOf(m, eniId);
  if (!a) return;
  if (a.branchEniId === eniId) throw invalid(`Network interface '${eniId}' is currently in use (associated with trunk '${a.trunkEniId}' as VLAN ${a.vlanId}).`);
  throw invalid(`Network interface '${eniId}' is currently in use: branch interfaces are associated with it ('${a.branchEniId}')`);
}

export function forgetPermissions(m: Ec2Model, eniId: string): void {
  for (const p of Object.values(m.state.eniPermissions)) if (p.eniId === eniId) delete m.state.eniPermissions[p.id];
}
