/** One handler per EC2 action: Query parameters in, XML payload out, model in between. */
import { Ec2Error, invalid } from "./errors.ts";
import type { Action } from "./faults.ts";
import { checkFilterNames, matches, paginate } from "./filters.ts";
import { INSTANCE_TYPES } from "./instance-types.ts";
import type { QueryParams } from "./query.ts";
import { TRUNK_HANDLERS } from "./actions-trunk.ts";
import { eniXml, instanceTypeXml, instanceXml, OWNER_ID, securityGroupXml, shownInterfaceType, subnetXml } from "./render.ts";
import type { Ec2Model } from "./state.ts";
import type { Tags } from "./types.ts";
import type { XmlValue } from "./xml.ts";

export type Payload = { [k: string]: XmlValue };
export type Handler = (model: Ec2Model, q: QueryParams) => Payload;

const ENI_FILTERS = ["interface-type", "attachment.instance-id", "attachment.attachment-id", "attachment.status", "attachment.device-index", "tag-key", "status", "vpc-id", "network-interface-id", "description", "subnet-id", "availability-zone", "mac-address", "private-ip-address", "group-id", "ipv6-addresses.ipv6-address"];
const SUBNET_FILTERS = ["vpc-id", "availability-zone", "subnet-id", "cidr-block", "state"];
const INSTANCE_FILTERS = ["instance-id", "vpc-id", "subnet-id", "availability-zone", "instance-type", "private-ip-address", "instance-state-name", "network-interface.network-interface-id"];
const SG_FILTERS = ["group-id", "group-name", "vpc-id"];

function ids<T>(all: Record<string, T>, wanted: string[], notFound: (id: string) => Ec2Error): T[] {
  if (wanted.length === 0) return Object.values(all);
  return wanted.map((id) => {
    const x = all[id];
    if (!x) throw notFound(id);
    return x;
  });
}

export function tagSpecifications(q: QueryParams, resourceType: string): Tags {
  const tags: Tags = {};
  for (const i of q.indices("TagSpecification")) {
    const type = q.str(`TagSpecification.${i}.ResourceType`);
    if (type !== resourceType) throw invalid(`'${type}' is not a valid taggable resource type for this operation.`);
    for (const t of q.tags(`TagSpecification.${i}.Tag`)) tags[t.key] = t.value ?? "";
  }
  return tags;
}

const notFoundIn = (code: Ec2Error["code"], what: string) => (id: string) => new Ec2Error(code, `The ${what} ID '${id}' does not exist`);

export const HANDLERS: Record<Action, Handler> = {
  ...TRUNK_HANDLERS,

  DescribeNetworkInterfaces(model, q) {
    const state = model.describeView();
    const filters = q.filters();
    checkFilterNames(filters, ENI_FILTERS);
    const wanted = q.list("NetworkInterfaceId");
    const enis = ids(state.enis, wanted, notFoundIn("InvalidNetworkInterfaceID.NotFound", "networkInterface")).filter((e) =>
      matches(filters, e.tags, (name) => {
        const a = e.attachment;
        const fields: Record<string, string[]> = {
          "attachment.instance-id": a ? [a.instanceId] : [],
          "attachment.attachment-id": a ? [a.id] : [],
          "attachment.status": a ? [a.status] : [],
          "attachment.device-index": a ? [String(a.deviceIndex)] : [],
          status: [e.status],
          "vpc-id": [e.vpcId],
          "network-interface-id": [e.id],
          description: [e.description],
          "subnet-id": [e.subnetId],
          "availability-zone": [e.az],
          "mac-address": [e.mac],
          "private-ip-address": [e.primaryIp, ...e.secondaryIps],
          "group-id": e.groups,
          "ipv6-addresses.ipv6-address": e.ipv6Addresses,
          "interface-type": [shownInterfaceType(state, e)],
        };
        return fields[name];
      }),
    );
    const { page, nextToken } = paginate(enis, q.int("MaxResults"), q.str("NextToken"), [5, 1000]);
    return { networkInterfaceSet: page.map((e) => eniXml(state, e)), nextToken };
  },

  DescribeInstances(model, q) {
    const state = model.describeView();
    const filters = q.filters();
    checkFilterNames(filters, INSTANCE_FILTERS);
    const instances = ids(state.instances, q.list("InstanceId"), notFoundIn("InvalidInstanceID.NotFound", "instance")).filter((i) =>
      matches(filters, i.tags, (name) => {
        const fields: Record<string, string[]> = {
          "instance-id": [i.id],
          "vpc-id": [i.vpcId],
          "subnet-id": [i.subnetId],
          "availability-zone": [i.az],
          "instance-type": [i.instanceType],
          "private-ip-address": [i.privateIp],
          "instance-state-name": ["running"],
          "network-interface.network-interface-id": Object.values(state.enis).filter((e) => e.attachment?.instanceId === i.id).map((e) => e.id),
        };
        return fields[name];
      }),
    );
    const { page, nextToken } = paginate(instances, q.int("MaxResults"), q.str("NextToken"), [5, 1000]);
    return {
      reservationSet: page.map((i) => ({ reservationId: `r-${i.id.slice(2)}`, ownerId: OWNER_ID, groupSet: [], instancesSet: [instanceXml(state, i)] })),
      nextToken,
    };
  },

  DescribeInstanceTypes(_model, q) {
    const names = q.list("InstanceType");
    const types = names.length === 0 ? Object.values(INSTANCE_TYPES) : names.map((n) => {
      const t = INSTANCE_TYPES[n];
      if (!t) throw new Ec2Error("InvalidInstanceType", `The following supplied instance types do not exist: [${n}]`);
      return t;
    });
    const { page, nextToken } = paginate(types, q.int("MaxResults"), q.str("NextToken"), [5, 100]);
    return { instanceTypeSet: page.map(instanceTypeXml), nextToken };
  },

  DescribeSubnets(model, q) {
    const state = model.describeView();
    const filters = q.filters();
    checkFilterNames(filters, SUBNET_FILTERS);
    const subnets = ids(state.subnets, q.list("SubnetId"), notFoundIn("InvalidSubnetID.NotFound", "subnet")).filter((s) =>
      matches(filters, s.tags, (name) => ({ "vpc-id": [s.vpcId], "availability-zone": [s.az], "subnet-id": [s.id], "cidr-block": [s.cidr], state: ["available"] })[name]),
    );
    const { page, nextToken } = paginate(subnets, q.int("MaxResults"), q.str("NextToken"), [5, 1000]);
    return { subnetSet: page.map((s) => subnetXml(state, s)), nextToken };
  },

  DescribeSecurityGroups(model, q) {
    const state = model.describeView();
    const filters = q.filters();
    checkFilterNames(filters, SG_FILTERS);
    const groups = ids(state.securityGroups, q.list("GroupId"), notFoundIn("InvalidGroup.NotFound", "security group")).filter((g) =>
      matches(filters, g.tags, (name) => ({ "group-id": [g.id], "group-name": [g.name], "vpc-id": [g.vpcId] })[name]),
    );
    const { page, nextToken } = paginate(groups, q.int("MaxResults"), q.str("NextToken"), [5, 1000]);
    return { securityGroupInfo: page.map(securityGroupXml), nextToken };
  },

  CreateNetworkInterface(model, q) {
    const explicit = q.indices("PrivateIpAddresses").map((i) => ({ ip: q.str(`PrivateIpAddresses.${i}.PrivateIpAddress`) ?? "", primary: q.bool(`PrivateIpAddresses.${i}.Primary`) ?? false }));
    const primaries = explicit.filter((x) => x.primary);
    if (primaries.length > 1) throw invalid("Only one primary private IP address may be specified");
    const primaryIp = q.str("PrivateIpAddress") ?? primaries[0]?.ip;
    const eni = model.createNetworkInterface({
      subnetId: q.required("SubnetId"),
      description: q.str("Description"),
      groups: q.list("SecurityGroupId"),
      primaryIp,
      privateIps: explicit.filter((x) => !x.primary).map((x) => x.ip),
      secondaryCount: q.int("SecondaryPrivateIpAddressCount"),
      ipv4PrefixCount: q.int("Ipv4PrefixCount"),
      ipv6Count: q.int("Ipv6AddressCount"),
      ipv6PrefixCount: q.int("Ipv6PrefixCount"),
      tags: tagSpecifications(q, "network-interface"),
      interfaceType: q.str("InterfaceType"),
    });
    return { networkInterface: eniXml(model.state, eni), clientToken: q.str("ClientToken") };
  },

  AttachNetworkInterface(model, q) {
    const deviceIndex = q.int("DeviceIndex");
    if (deviceIndex === undefined) q.required("DeviceIndex");
    const a = model.attachNetworkInterface({
      eniId: q.required("NetworkInterfaceId"),
      instanceId: q.required("InstanceId"),
      deviceIndex: deviceIndex ?? 0,
      networkCardIndex: q.int("NetworkCardIndex"),
    });
    return { attachmentId: a.id, networkCardIndex: a.networkCardIndex };
  },

  DetachNetworkInterface(model, q) {
    model.detachNetworkInterface({ attachmentId: q.required("AttachmentId"), force: q.bool("Force") });
    return { return: true };
  },

  DeleteNetworkInterface(model, q) {
    model.deleteNetworkInterface(q.required("NetworkInterfaceId"));
    return { return: true };
  },

  ModifyNetworkInterfaceAttribute(model, q) {
    const dot = q.bool("Attachment.DeleteOnTermination");
    const groups = q.list("SecurityGroupId");
    model.modifyNetworkInterfaceAttribute({
      eniId: q.required("NetworkInterfaceId"),
      attachment: dot === undefined ? undefined : { attachmentId: q.required("Attachment.AttachmentId"), deleteOnTermination: dot },
      description: q.str("Description.Value"),
      groups: groups.length > 0 ? groups : undefined,
    });
    return { return: true };
  },

  AssignPrivateIpAddresses(model, q) {
    const eniId = q.required("NetworkInterfaceId");
    const r = model.assignPrivateIpAddresses({
      eniId,
      count: q.int("SecondaryPrivateIpAddressCount"),
      addresses: q.list("PrivateIpAddress"),
      prefixCount: q.int("Ipv4PrefixCount"),
      prefixes: q.list("Ipv4Prefix"),
      allowReassignment: q.bool("AllowReassignment"),
    });
    return {
      networkInterfaceId: eniId,
      assignedPrivateIpAddressesSet: r.addresses.map((privateIpAddress) => ({ privateIpAddress })),
      assignedIpv4PrefixSet: r.prefixes.map((ipv4Prefix) => ({ ipv4Prefix })),
    };
  },

  UnassignPrivateIpAddresses(model, q) {
    model.unassignPrivateIpAddresses({ eniId: q.required("NetworkInterfaceId"), addresses: q.list("PrivateIpAddress"), prefixes: q.list("Ipv4Prefix") });
    return { return: true };
  },

  AssignIpv6Addresses(model, q) {
    const eniId = q.required("NetworkInterfaceId");
    const r = model.assignIpv6Addresses({
      eniId,
      count: q.int("Ipv6AddressCount"),
      addresses: q.list("Ipv6Addresses"),
      prefixCount: q.int("Ipv6PrefixCount"),
      prefixes: q.list("Ipv6Prefix"),
    });
    return { networkInterfaceId: eniId, assignedIpv6Addresses: r.addresses, assignedIpv6PrefixSet: r.prefixes };
  },

  UnassignIpv6Addresses(model, q) {
    const eniId = q.required("NetworkInterfaceId");
    const r = model.unassignIpv6Addresses({ eniId, addresses: q.list("Ipv6Addresses"), prefixes: q.list("Ipv6Prefix") });
    return { networkInterfaceId: eniId, unassignedIpv6Addresses: r.addresses, unassignedIpv6PrefixSet: r.prefixes };
  },

  CreateTags(model, q) {
    const resources = q.list("ResourceId");
    if (resources.length === 0) q.required("ResourceId.1");
    const tags = q.tags("Tag");
    if (tags.length === 0) q.required("Tag.1.Key");
    model.createTags(resources, Object.fromEntries(tags.map((t) => [t.key, t.value ?? ""])));
    return { return: true };
  },

  DeleteTags(model, q) {
    const resources = q.list("ResourceId");
    if (resources.length === 0) q.required("ResourceId.1");
    model.deleteTags(resources, q.tags("Tag"));
    return { return: true };
  },
};

/** Whether a Describe* call names ids, filters or a page size (the larger bucket). */
export function isFiltered(q: QueryParams): boolean {
  return q.indices("Filter").length > 0 || q.has("MaxResults") || ["NetworkInterfaceId", "InstanceId", "SubnetId", "GroupId", "InstanceType"].some((p) => q.indices(p).length > 0);
}
