/** Handlers of the trunk/branch ENI and security group actions (security groups for pods). */
import type { Handler } from "./actions.ts";
import { tagSpecifications } from "./actions.ts";
import { checkFilterNames, matches, paginate } from "./filters.ts";
import type { QueryParams } from "./query.ts";
import { OWNER_ID, securityGroupRuleXml } from "./render.ts";
import type { IpPermissionInput, RuleDirection } from "./sg-rules.ts";
import type { Ec2Model } from "./state.ts";
import { describeAssociations } from "./trunk-ops.ts";
import type { TrunkAssociation } from "./types.ts";
import type { XmlValue } from "./xml.ts";

const ASSOCIATION_FILTERS = ["trunk-interface-association.branch-interface-id", "trunk-interface-association.trunk-interface-id"];

function associationXml(a: TrunkAssociation): XmlValue {
  return { associationId: a.id, branchInterfaceId: a.branchEniId, trunkInterfaceId: a.trunkEniId, interfaceProtocol: "VLAN", vlanId: a.vlanId };
}

/** IpPermissions.N.{IpProtocol, FromPort, ToPort, IpRanges.M.CidrIp, Ipv6Ranges.M.CidrIpv6, Groups.M.GroupId}. */
function ipPermissions(q: QueryParams): IpPermissionInput[] {
  return q.indices("IpPermissions").map((i) => {
    const p = `IpPermissions.${i}`;
    const described = <K extends string>(prefix: string, key: K) =>
      q.indices(`${p}.${prefix}`).map((j) => ({ [key]: q.str(`${p}.${prefix}.${j}.${key === "cidr" ? (prefix === "IpRanges" ? "CidrIp" : "CidrIpv6") : "GroupId"}`) ?? "", description: q.str(`${p}.${prefix}.${j}.Description`) }) as { [k in K]: string } & { description?: string });
    return {
      protocol: q.str(`${p}.IpProtocol`),
      fromPort: q.int(`${p}.FromPort`),
      toPort: q.int(`${p}.ToPort`),
      cidrs: described("IpRanges", "cidr"),
      cidrsV6: described("Ipv6Ranges", "cidr"),
      groupIds: described("Groups", "groupId"),
    };
  });
}

function authorizeHandler(direction: RuleDirection): Handler {
  return (model: Ec2Model, q: QueryParams) => {
    const groupId = q.str("GroupId");
    const added = model.authorizeSecurityGroup(groupId, direction, ipPermissions(q));
    const sg = model.state.securityGroups[groupId ?? ""];
    return { return: true, securityGroupRuleSet: sg ? added.map((r) => securityGroupRuleXml(sg, r, direction === "egress")) : [] };
  };
}

function revokeHandler(direction: RuleDirection): Handler {
  return (model: Ec2Model, q: QueryParams) => {
    model.revokeSecurityGroup(q.str("GroupId"), direction, ipPermissions(q));
    return { return: true };
  };
}

export const TRUNK_HANDLERS = {
  AssociateTrunkInterface(model: Ec2Model, q: QueryParams) {
    const a = model.associateTrunkInterface({ branchEniId: q.str("BranchInterfaceId"), trunkEniId: q.str("TrunkInterfaceId"), vlanId: q.int("VlanId") });
    return { interfaceAssociation: associationXml(a), clientToken: q.str("ClientToken") };
  },

  DisassociateTrunkInterface(model: Ec2Model, q: QueryParams) {
    model.disassociateTrunkInterface(q.str("AssociationId"));
    return { return: true, clientToken: q.str("ClientToken") };
  },

  DescribeTrunkInterfaceAssociations(model: Ec2Model, q: QueryParams) {
    const filters = q.filters();
    checkFilterNames(filters, ASSOCIATION_FILTERS);
    const found = describeAssociations(model, q.list("AssociationId")).filter((a) =>
      matches(filters, {}, (name) => ({ "trunk-interface-association.branch-interface-id": [a.branchEniId], "trunk-interface-association.trunk-interface-id": [a.trunkEniId] })[name]),
    );
    const { page, nextToken } = paginate(found, q.int("MaxResults"), q.str("NextToken"), [5, 255]);
    return { interfaceAssociationSet: page.map(associationXml), nextToken };
  },

  CreateNetworkInterfacePermission(model: Ec2Model, q: QueryParams) {
    const p = model.createNetworkInterfacePermission({ eniId: q.str("NetworkInterfaceId"), permission: q.str("Permission"), awsAccountId: q.str("AwsAccountId") });
    return {
      interfacePermission: { networkInterfacePermissionId: p.id, networkInterfaceId: p.eniId, awsAccountId: p.awsAccountId || OWNER_ID, permission: p.permission, permissionState: { state: "GRANTED" } },
    };
  },

  CreateSecurityGroup(model: Ec2Model, q: QueryParams) {
    const sg = model.createSecurityGroupFromApi({ vpcId: q.str("VpcId"), name: q.str("GroupName"), description: q.str("GroupDescription"), tags: tagSpecifications(q, "security-group") });
    return { return: true, groupId: sg.id, tagSet: Object.entries(sg.tags).map(([key, value]) => ({ key, value })) };
  },

  DeleteSecurityGroup(model: Ec2Model, q: QueryParams) {
    const id = q.str("GroupId");
    model.deleteSecurityGroup(id);
    return { return: true, groupId: id };
  },

  AuthorizeSecurityGroupIngress: authorizeHandler("ingress"),
  AuthorizeSecurityGroupEgress: authorizeHandler("egress"),
  RevokeSecurityGroupIngress: revokeHandler("ingress"),
  RevokeSecurityGroupEgress: revokeHandler("egress"),
} satisfies Record<string, Handler>;
