/**
 * Upstream's introspection API (pkg/ipamd/introspect.go) in upstream's JSON shapes, so tools
 * and scripts written against ipamd keep working:
 * - /v1/enis: map network card → ENIInfos {TotalIPs, AssignedIPs, ENIs: id → ENI} (card 0, and
 *   with ENABLE_MULTI_NIC every managed card above 0), each ENI
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

/** One pod's address as upstream's AddressInfo (ContainerID and IfName scrubbed, as upstream); `interfaces`: the pod's count (a multi-homed pod has one per card). */
function addressInfo(a: Assignment, interfaces: number) {
  return {
    Address: a.address,
    IPAMKey: { networkName: a.networkName, containerID: "", ifName: "" },
    IPAMMetadata: { ...(a.podNamespace ? { k8sPodNamespace: a.podNamespace } : {}), ...(a.podName ? { k8sPodName: a.podName } : {}), interfacesCount: interfaces },
    AssignedTime: a.assignedAtMs !== undefined ? new Date(a.assignedAtMs).toISOString() : ZERO_TIME,
    UnassignedTime: ZERO_TIME,
  };
}

interface EniView {
  id: string;
  primary: boolean;
  trunk: boolean;
  efa: boolean;
  deviceNumber: number;
  excluded: boolean;
  routeTable: number;
  subnetId: string;
  cidrs: ReadonlyArray<{ cidr: string; kind: "address" | "prefix"; size: number }>;
}

/** One card's ENIInfos: its ENIs in upstream's shape, the pods' addresses placed in their CIDRs. */
function cardInfos(enis: readonly EniView[], assignments: readonly Assignment[], assignedOf: (cidr: string, inCidr: number) => number) {
  const podInterfaces = new Map<string, number>();
  for (const a of assignments) podInterfaces.set(`${a.networkName}/${a.containerId}`, (podInterfaces.get(`${a.networkName}/${a.containerId}`) ?? 0) + 1);
  const out: Record<string, unknown> = {};
  let total = 0;
  let assigned = 0;
  for (const e of enis) {
    const v4: Record<string, unknown> = {};
    const v6: Record<string, unknown> = {};
    for (const x of e.cidrs) {
      const c = parseCidr(x.cidr)!;
      const inCidr = assignments.filter((a) => contains(c, a.address));
      total += x.kind === "address" ? 1 : x.size;
      assigned += assignedOf(x.cidr, inCidr.length);
      const ips = Object.fromEntries(inCidr.map((a) => [a.address, addressInfo(a, podInterfaces.get(`${a.networkName}/${a.containerId}`) ?? 1)]));
      (c.family === 4 ? v4 : v6)[x.cidr] = { Cidr: goIpNet(x.cidr), IPAddresses: ips, IsPrefix: x.kind === "prefix", AddressFamily: "" };
    }
    out[e.id] = {
      ID: e.id,
      IsPrimary: e.primary,
      IsTrunk: e.trunk,
      IsEFA: e.efa,
      DeviceNumber: e.deviceNumber,
      AvailableIPv4Cidrs: v4,
      IPv6Cidrs: v6,
      IsExcludedForPodIPs: e.excluded,
      RouteTableID: e.routeTable,
      SubnetID: e.subnetId,
    };
  }
  return { TotalIPs: total, AssignedIPs: assigned, ENIs: out };
}

/** Keyed by network card as upstream: card 0's pool, and with ENABLE_MULTI_NIC each managed card above 0. */
export function enisBody(pm: PoolManager, assignments: readonly Assignment[]) {
  const usage = pm.model.poolUsage(false);
  const card0 = [...pm.model.enis.values()].map((m) => ({ ...m.pool, routeTable: routeTableFor(m.pool.deviceNumber) }));
  const body: Record<string, unknown> = { "0": cardInfos(card0, assignments, (cidr, n) => usage.byCidr[cidr]?.assigned ?? n) };
  for (const p of pm.cardPools?.pools.values() ?? []) {
    const enis = [...p.enis.values()].map((e) => ({
      id: e.id,
      primary: false,
      trunk: false,
      efa: false,
      deviceNumber: e.deviceIndex,
      excluded: false,
      routeTable: e.routeTable,
      subnetId: e.subnetId,
      cidrs: e.addresses.map((a) => ({ cidr: `${a}/32`, kind: "address" as const, size: 1 })),
    }));
    body[String(p.card)] = cardInfos(enis, assignments, (_cidr, n) => n);
  }
  return body;
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
