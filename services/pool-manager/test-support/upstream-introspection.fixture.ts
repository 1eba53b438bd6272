/**
 * What upstream's ipamd (v1.23.1) answers on its introspection routes, written out from the Go
 * types it marshals (pkg/ipamd/introspect.go; datastore.ENIInfos, ENI, CidrInfo, AddressInfo,
 * IPAMKey, IPAMMetadata; networkutils/ipamd GetConfigForDebug): field names, nesting, order
 * and JSON types. Values are examples; tests compare shapes against these, and values against
 * the node they ran on.
 */
export const UPSTREAM_ENIS = {
  "0": {
    TotalIPs: 2,
    AssignedIPs: 1,
    ENIs: {
      "eni-0a1b2c3d4e5f60718": {
        ID: "eni-0a1b2c3d4e5f60718",
        IsPrimary: true,
        IsTrunk: false,
        IsEFA: false,
        DeviceNumber: 0,
        AvailableIPv4Cidrs: {
          "10.0.1.21/32": {
            Cidr: { IP: "10.0.1.21", Mask: "/////w==" },
            IPAddresses: {
              "10.0.1.21": {
                Address: "10.0.1.21",
                IPAMKey: { networkName: "aws-cni", containerID: "", ifName: "" },
                IPAMMetadata: { k8sPodNamespace: "default", k8sPodName: "web-0", interfacesCount: 1 },
                AssignedTime: "2026-12-04T05:00:00.123456789Z",
                UnassignedTime: "0001-01-01T00:00:00Z",
              },
            },
            IsPrefix: false,
            AddressFamily: "",
          },
          "10.0.1.22/32": { Cidr: { IP: "10.0.1.22", Mask: "/////w==" }, IPAddresses: {}, IsPrefix: false, AddressFamily: "" },
        },
        IPv6Cidrs: {},
        IsExcludedForPodIPs: false,
        RouteTableID: 254,
        SubnetID: "subnet-0123456789abcdef0",
      },
    },
  },
};

export const UPSTREAM_IPAMD_ENV = {
  WARM_IP_TARGET: 0,
  WARM_ENI_TARGET: 1,
  AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: false,
  AWS_MANAGE_ENIS_NON_SCHEDULABLE: false,
  ENABLE_SUBNET_DISCOVERY: true,
};

export const UPSTREAM_NETWORKUTILS_ENV = {
  AWS_VPC_K8S_CNI_CONNMARK: 128,
  AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: null as string[] | null,
  AWS_VPC_K8S_CNI_EXTERNALSNAT: false,
  AWS_EXTERNAL_SERVICE_CIDRS: null as string[] | null,
  AWS_VPC_ENI_MTU: 9001,
  AWS_VPC_K8S_CNI_VETHPREFIX: "eni",
  AWS_VPC_CNI_NODE_PORT_SUPPORT: true,
  AWS_VPC_K8S_CNI_RANDOMIZESNAT: 2,
};

/**
 * A value's shape: objects keep their key order; maps (keyed by ids, CIDRs, addresses) are
 * named in `mapKeys` and stand for their fullest entry's shape; null and arrays as such.
 */
export function shapeOf(v: unknown, mapKeys: ReadonlySet<string> = MAP_FIELDS, key = ""): unknown {
  if (v === null) return "null";
  if (Array.isArray(v)) return v.length ? [shapeOf(v[0], mapKeys)] : "array";
  if (typeof v !== "object") return typeof v;
  const entries = Object.entries(v as Record<string, unknown>);
  if (mapKeys.has(key)) {
    // The fullest entry's shape (a CIDR with an address over one without), "map" when empty.
    const shapes = entries.map(([, x]) => shapeOf(x, mapKeys)).sort((p, q) => JSON.stringify(q).length - JSON.stringify(p).length);
    return shapes.length ? { "<key>": shapes[0] } : "map";
  }
  return Object.fromEntries(entries.map(([k, x]) => [k, shapeOf(x, mapKeys, k)]));
}

/** Go maps in upstream's answers (the top-level network-card map is handled by the caller). */
export const MAP_FIELDS = new Set(["ENIs", "AvailableIPv4Cidrs", "IPv6Cidrs", "IPAddresses"]);
