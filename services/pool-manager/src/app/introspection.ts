/**
 * Upstream's introspection API (pkg/ipamd/introspect.go) in upstream's JSON shapes, so tools
 * and scripts written against ipamd keep working:
 * - /v1/enis: map network card → ENIInfos {TotalIPs, AssignedIPs, ENIs: id → ENI}, each ENI
 *   with upstream's fields in their order, its CIDRs keyed "a.b.c.d/n" as {Cidr: {IP, Mask
 *   (base64 bytes, as Go marshals net.IPMask)}, IPAddresses, IsPrefix, AddressFamily ("": the
 *   field is not copied by upstream's GetENIInfos)}, the pods' addresses with the container id
 *   and interface name scrubbed, as upstream scrubs them.
 * - /v1/eni-configs: the ENIConfig name the Node selects, as a JSON string; 404 when unknown.
 * - /v1/ipamd-env-settings, /v1/networkutils-env-settings: env name → typed value.
 * - anything else: {"AvailableCommands": [...]}.
 */
import { Hono } from "hono";
import type { Assignment } from "../../../../shared/contracts/index.ts";
import { routeTableFor } from "../../../../shared/naming.ts";
import { bits, contains, formatIp, parseCidr } from "../../../../shared/ip.ts";
import type { PoolManager } from "./pool-manager.ts";
import type { KubePort } from "./service-ports.ts";

const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Go's json for a net.IPNet: the network address as text, the mask as base64 of its bytes (4 or 16). */
export function goIpNet(cidr: string): { IP: string; Mask: string } {
  const c = parseCidr(cidr);
  if (!c) throw new RangeError(`not a CIDR: ${cidr}`);
  const mask = new Uint8Array(bits(c.family) / 8).map((_, i) => (0xff00 >> Math.max(0, Math.min(8, c.prefix - i * 8))) & 0xff);
  return { IP: formatIp(c.family, c.base), Mask: Buffer.from(mask).toString("base64") };
}

/** One pod's address as upstream's AddressInfo (ContainerID and IfName scrubbed, as upstream). */
function addressInfo(a: Assignment) {
  return {
    Address: a.address,
    IPAMKey: { networkName: a.networkName, containerID: "", ifName: "" },
    IPAMMetadata: { ...(a.podNamespace ? { k8sPodNamespace: a.podNamespace } : {}), ...(a.podName ? { k8sPodName: a.podName } : {}), interfacesCount: 1 },
    AssignedTime: a.assignedAtMs !== undefined ? new Date(a.assignedAtMs).toISOString() : ZERO_TIME,
    UnassignedTime: ZERO_TIME,
  };
}

export function enisBody(pm: PoolManager, assignments: readonly Assignment[]) {
  const usage = pm.model.poolUsage(false);
  const enis: Record<string, unknown> = {};
  let total = 0;
  let assigned = 0;
  for (const m of pm.model.enis.values()) {
    const v4: Record<string, unknown> = {};
    const v6: Record<string, unknown> = {};
    for (const x of m.pool.cidrs) {
      const c = parseCidr(x.cidr)!;
      const inCidr = assignments.filter((a) => contains(c, a.address));
      total += x.kind === "address" ? 1 : x.size;
      assigned += usage.byCidr[x.cidr]?.assigned ?? inCidr.length;
      const info = { Cidr: goIpNet(x.cidr), IPAddresses: Object.fromEntries(inCidr.map((a) => [a.address, addressInfo(a)])), IsPrefix: x.kind === "prefix", AddressFamily: "" };
      (c.family === 4 ? v4 : v6)[x.cidr] = info;
    }
    enis[m.pool.id] = {
      ID: m.pool.id,
      IsPrimary: m.pool.primary,
      IsTrunk: m.pool.trunk,
      IsEFA: m.pool.efa,
      DeviceNumber: m.pool.deviceNumber,
      AvailableIPv4Cidrs: v4,
      IPv6Cidrs: v6,
      IsExcludedForPodIPs: m.pool.excluded,
      RouteTableID: routeTableFor(m.pool.deviceNumber),
      SubnetID: m.pool.subnetId,
    };
  }
  return { "0": { TotalIPs: total, AssignedIPs: assigned, ENIs: enis } };
}

export interface IntrospectionEnv {
  ipamd: Record<string, unknown>;
  networkutils: Record<string, unknown>;
}

export function introspectionApp(pm: PoolManager, env: IntrospectionEnv, deps: { kube?: KubePort; assignments?: () => Promise<Assignment[]> } = {}): Hono {
  const app = new Hono();
  const commands = ["/v1/enis", "/v1/eni-configs", "/v1/networkutils-env-settings", "/v1/ipamd-env-settings"];
  app.get("/v1/enis", async (c) => c.json(enisBody(pm, (await deps.assignments?.().catch(() => [])) ?? [])));
  app.get("/v1/eni-configs", async (c) => {
    if (!deps.kube?.eniConfigName) return c.text("Not Found\n", 404);
    try {
      return c.json(await deps.kube.eniConfigName());
    } catch {
      return c.text("Not Found\n", 404);
    }
  });
  app.get("/v1/ipamd-env-settings", (c) => c.json(env.ipamd));
  app.get("/v1/networkutils-env-settings", (c) => c.json(env.networkutils));
  app.all("*", (c) => c.json({ AvailableCommands: commands }));
  return app;
}
