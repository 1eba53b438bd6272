// What IMDS answers for one instance, as a pure function of the instance's view.
// No I/O, no clock: the caller resolves the view (with its propagation delay) first.
import type { ImdsInterface } from "../sim-ec2/imds-view.ts";

/**
 * One network interface as IMDS shows it under network/interfaces/macs/<mac>/: what the
 * simulated EC2 records per attachment, plus the leaves only IMDS has.
 */
export interface ImdsInterfaceView extends ImdsInterface {
  /** Real IMDS has network-card only on instances with several network cards. */
  networkCard?: number;
  subnetIpv6Cidrs: string[];
}

/** Everything IMDS shows for one instance at one moment. */
export interface ImdsInstanceView {
  instanceId: string;
  instanceType: string;
  az: string;
  region: string;
  localIpv4: string;
  /** The instance's primary IPv6 address (meta-data/ipv6), when it has one. */
  localIpv6?: string;
  primaryMac: string;
  interfaces: ImdsInterfaceView[];
  /** Used only by the identity document; a fixed fake account when absent. */
  accountId?: string;
  /** The instance profile's role credentials (iam/security-credentials/<role>), which the SDK's default chain reads on EC2. */
  instanceProfile?: InstanceProfileCredentials;
}

export interface InstanceProfileCredentials {
  role: string;
  accessKeyId: string;
  secretAccessKey: string;
  token: string;
  /** ISO time; the caller derives it from its clock. */
  lastUpdated: string;
  expiration: string;
}

export type MetadataAnswer = { found: true; body: string; contentType: string } | { found: false };

const TEXT = "text/plain";
const NOT_FOUND: MetadataAnswer = { found: false };

function text(body: string): MetadataAnswer {
  return { found: true, body, contentType: TEXT };
}

/** A leaf with no values is absent, as on real IMDS (ipv4-prefix without prefixes is a 404). */
function lines(values: readonly string[]): MetadataAnswer {
  return values.length === 0 ? NOT_FOUND : text(values.join("\n"));
}

function interfaceLeaves(iface: ImdsInterfaceView): Record<string, readonly string[]> {
  return {
    "device-number": [String(iface.deviceNumber)],
    "interface-id": [iface.interfaceId],
    "local-ipv4s": iface.localIpv4s,
    mac: [iface.mac],
    "network-card": iface.networkCard === undefined ? [] : [String(iface.networkCard)],
    "ipv4-prefix": iface.ipv4Prefixes,
    ipv6s: iface.ipv6s,
    "ipv6-prefix": iface.ipv6Prefixes,
    "security-group-ids": iface.securityGroupIds,
    "subnet-id": [iface.subnetId],
    "subnet-ipv4-cidr-block": [iface.subnetCidr],
    "subnet-ipv6-cidr-blocks": iface.subnetIpv6Cidrs,
    "vpc-id": [iface.vpcId],
    "vpc-ipv4-cidr-block": iface.vpcCidrs.slice(0, 1),
    "vpc-ipv4-cidr-blocks": iface.vpcCidrs,
    "vpc-ipv6-cidr-blocks": iface.vpcIpv6Cidrs,
  };
}

function listing(entries: readonly string[]): MetadataAnswer {
  return text(entries.join("\n"));
}

function answerInterface(iface: ImdsInterfaceView, rest: string): MetadataAnswer {
  const leaves = interfaceLeaves(iface);
  if (rest === "") {
    return listing(Object.keys(leaves).filter((key) => (leaves[key]?.length ?? 0) > 0));
  }
  const values = leaves[rest];
  return values === undefined ? NOT_FOUND : lines(values);
}

function answerMacs(view: ImdsInstanceView, rest: string): MetadataAnswer {
  const ordered = [...view.interfaces].sort((a, b) => a.deviceNumber - b.deviceNumber);
  if (rest === "") return listing(ordered.map((iface) => `${iface.mac}/`));
  const slash = rest.indexOf("/");
  const mac = (slash < 0 ? rest : rest.slice(0, slash)).toLowerCase();
  const iface = ordered.find((candidate) => candidate.mac.toLowerCase() === mac);
  if (iface === undefined) return NOT_FOUND;
  return answerInterface(iface, slash < 0 ? "" : rest.slice(slash + 1));
}

function answerIam(p: InstanceProfileCredentials, path: string): MetadataAnswer {
  switch (path) {
    case "iam":
      return listing(["info", "security-credentials/"]);
    case "iam/info":
      return { found: true, contentType: "application/json", body: JSON.stringify({ Code: "Success", LastUpdated: p.lastUpdated, InstanceProfileArn: `arn:aws:iam::111122223333:instance-profile/${p.role}`, InstanceProfileId: "AIPAAAAAAAAAAAAAAAAAA" }) };
    case "iam/security-credentials":
      return text(p.role);
    case `iam/security-credentials/${p.role}`:
      return {
        found: true,
        contentType: "application/json",
        body: JSON.stringify({ Code: "Success", LastUpdated: p.lastUpdated, Type: "AWS-HMAC", AccessKeyId: p.accessKeyId, SecretAccessKey: p.secretAccessKey, Token: p.token, Expiration: p.expiration }),
      };
  }
  return NOT_FOUND;
}

/**
 * Answers a path below /latest/meta-data/ (given without that prefix, without leading or
 * trailing slashes; "" is the root listing).
 */
export function answerMetadata(view: ImdsInstanceView, path: string): MetadataAnswer {
  switch (path) {
    case "":
      return listing(["instance-id", "instance-type", ...(view.localIpv6 ? ["ipv6"] : []), "local-ipv4", "mac", "network/", "placement/", ...(view.instanceProfile ? ["iam/"] : [])]);
    case "instance-id":
      return text(view.instanceId);
    case "instance-type":
      return text(view.instanceType);
    case "local-ipv4":
      return text(view.localIpv4);
    case "ipv6":
      return view.localIpv6 ? text(view.localIpv6) : NOT_FOUND;
    case "mac":
      return text(view.primaryMac);
    case "placement":
      return listing(["availability-zone", "region"]);
    case "placement/availability-zone":
      return text(view.az);
    case "placement/region":
      return text(view.region);
    case "network":
      return listing(["interfaces/"]);
    case "network/interfaces":
      return listing(["macs/"]);
  }
  if (view.instanceProfile && (path === "iam" || path.startsWith("iam/"))) return answerIam(view.instanceProfile, path);
  const macsPrefix = "network/interfaces/macs";
  if (path === macsPrefix) return answerMacs(view, "");
  if (path.startsWith(`${macsPrefix}/`)) return answerMacs(view, path.slice(macsPrefix.length + 1));
  return NOT_FOUND;
}

/** The instance identity document under /latest/dynamic/instance-identity/document. */
export function identityDocument(view: ImdsInstanceView): string {
  return JSON.stringify(
    {
      accountId: view.accountId ?? "111122223333",
      architecture: "x86_64",
      availabilityZone: view.az,
      imageId: "ami-00000000000000000",
      instanceId: view.instanceId,
      instanceType: view.instanceType,
      privateIp: view.localIpv4,
      region: view.region,
      version: "2017-09-30",
    },
    null,
    2,
  );
}

/**
 * Collapses repeated slashes and drops a trailing one (the AWS SDK sends `//latest/...`;
 * `macs/` and `macs` name the same listing).
 */
export function normalizeImdsPath(rawPath: string): string {
  return `/${rawPath.split("/").filter((segment) => segment !== "").join("/")}`;
}
