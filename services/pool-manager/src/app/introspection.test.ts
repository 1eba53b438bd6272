// Upstream's introspection routes against fixtures of upstream's JSON (test-support/
// upstream-introspection.fixture.ts), on a pool started against the fake EC2 through hono's
// app.request. Assumptions: m5.large (3 ENIs × 10 IPv4), one /24 subnet, WARM_ENI_TARGET=1:
// the primary ENI with 9 secondary addresses; one pod holds the lowest of them.
import { afterAll, expect, test } from "bun:test";
import type { Assignment } from "../../../../shared/contracts/index.ts";
import { loadConfig } from "../../../../shared/config/index.ts";
import { ipamdEnvSettings, networkutilsEnvSettings } from "../../../../shared/config/upstream-env-settings.ts";
import { UPSTREAM_DEFAULTS } from "../core/settings.ts";
import { fakeWorld, manager } from "../../test-support/harness.ts";
import { shapeOf, UPSTREAM_ENIS, UPSTREAM_IPAMD_ENV, UPSTREAM_NETWORKUTILS_ENV } from "../../test-support/upstream-introspection.fixture.ts";
import { goIpNet, introspectionApp } from "./introspection.ts";
import type { KubePort } from "./service-ports.ts";

const h = manager(fakeWorld(), { ...UPSTREAM_DEFAULTS });
await h.start();
afterAll(() => h.pm.stop());
const primary = h.enis()[0]!;
const podIp = [...primary.secondaryIps].sort()[0]!;
const pod: Assignment = { networkName: "aws-cni", containerId: "c0ffee", ifName: "eth0", netns: "/run/netns/x", podNamespace: "default", podName: "web-0", address: podIp, routeTable: 254, assignedAtMs: Date.UTC(2026, 11, 4, 5) };
h.broker.use.set(`${podIp}/32`, { assigned: 1, cooling: 0 });
await h.pm.refreshUsage();
const config = loadConfig({}).config;
const env = { ipamd: ipamdEnvSettings(config), networkutils: networkutilsEnvSettings(config) };
const kube: KubePort = { myEniConfig: async () => ({ missing: "" }), pendingPods: async () => 0, nodeUnschedulable: async () => false, eniConfigName: async () => "us-west-2a" };
const app = introspectionApp(h.pm, env, { kube, assignments: async () => [pod] });
const get = async (path: string, a = app) => {
  const res = await a.request(path);
  return { status: res.status, body: (await res.json()) as unknown };
};

test("/v1/enis has upstream's shape: network card → ENIInfos → ENI → CIDR → address, fields in upstream's order", async () => {
  const { status, body } = await get("/v1/enis");
  expect(status).toBe(200);
  const ours = body as typeof UPSTREAM_ENIS;
  expect(Object.keys(ours)).toEqual(["0"]);
  expect(shapeOf(ours["0"])).toEqual(shapeOf(UPSTREAM_ENIS["0"]));
  // The populated address entry, not just the first CIDR's (which may have no pod).
  const eni = ours["0"].ENIs[primary.id as keyof (typeof ours)["0"]["ENIs"]] as unknown as (typeof UPSTREAM_ENIS)["0"]["ENIs"]["eni-0a1b2c3d4e5f60718"];
  const withPod = eni.AvailableIPv4Cidrs[`${podIp}/32` as "10.0.1.21/32"];
  const fixtureCidr = UPSTREAM_ENIS["0"].ENIs["eni-0a1b2c3d4e5f60718"].AvailableIPv4Cidrs["10.0.1.21/32"];
  expect(shapeOf(withPod)).toEqual(shapeOf(fixtureCidr));
});

test("/v1/enis values are the node's: totals, the primary ENI, each address's CIDR, the pod scrubbed of its container id", async () => {
  const body = (await get("/v1/enis")).body as Record<string, { TotalIPs: number; AssignedIPs: number; ENIs: Record<string, Record<string, unknown>> }>;
  expect(body["0"]!.TotalIPs).toBe(9);
  expect(body["0"]!.AssignedIPs).toBe(1);
  const eni = body["0"]!.ENIs[primary.id]!;
  expect({ ID: eni.ID, IsPrimary: eni.IsPrimary, DeviceNumber: eni.DeviceNumber, RouteTableID: eni.RouteTableID, SubnetID: eni.SubnetID }).toEqual({ ID: primary.id, IsPrimary: true, DeviceNumber: 0, RouteTableID: 254, SubnetID: primary.subnetId });
  const cidrs = eni.AvailableIPv4Cidrs as Record<string, { Cidr: { IP: string; Mask: string }; IPAddresses: Record<string, unknown> }>;
  expect(Object.keys(cidrs).sort()).toEqual(primary.secondaryIps.map((ip) => `${ip}/32`).sort());
  expect(cidrs[`${podIp}/32`]!.Cidr).toEqual({ IP: podIp, Mask: "/////w==" });
  expect(cidrs[`${podIp}/32`]!.IPAddresses).toEqual({
    [podIp]: { Address: podIp, IPAMKey: { networkName: "aws-cni", containerID: "", ifName: "" }, IPAMMetadata: { k8sPodNamespace: "default", k8sPodName: "web-0", interfacesCount: 1 }, AssignedTime: "2026-12-04T05:00:00.000Z", UnassignedTime: "0001-01-01T00:00:00Z" },
  });
  expect(Object.values(cidrs).filter((c) => Object.keys(c.IPAddresses).length > 0)).toHaveLength(1);
});

test("Go's net.IPNet encoding: the mask as base64 bytes", () => {
  expect(goIpNet("10.0.1.5/32")).toEqual({ IP: "10.0.1.5", Mask: "/////w==" });
  expect(goIpNet("10.0.2.16/28")).toEqual({ IP: "10.0.2.16", Mask: "////8A==" });
  expect(goIpNet("2600:1f14:aaa:100:1::/80")).toEqual({ IP: "2600:1f14:aaa:100:1::", Mask: "/////////////wAAAAAAAA==" });
});

test("/v1/ipamd-env-settings and /v1/networkutils-env-settings: upstream's keys and JSON types, this node's values", async () => {
  const ipamd = (await get("/v1/ipamd-env-settings")).body;
  const net = (await get("/v1/networkutils-env-settings")).body;
  expect(shapeOf(ipamd)).toEqual(shapeOf(UPSTREAM_IPAMD_ENV));
  expect(shapeOf(net)).toEqual(shapeOf(UPSTREAM_NETWORKUTILS_ENV));
  // Defaults equal upstream's defaults.
  expect(ipamd).toEqual(UPSTREAM_IPAMD_ENV);
  expect(net).toEqual(UPSTREAM_NETWORKUTILS_ENV);
  const set = loadConfig({ WARM_IP_TARGET: "5", AWS_VPC_K8S_CNI_RANDOMIZESNAT: "none", AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: "10.9.0.0/16", AWS_VPC_K8S_CNI_CONNMARK: "0x4000" }).config;
  expect(ipamdEnvSettings(set).WARM_IP_TARGET).toBe(5);
  expect(networkutilsEnvSettings(set)).toMatchObject({ AWS_VPC_K8S_CNI_RANDOMIZESNAT: 0, AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: ["10.9.0.0/16"], AWS_VPC_K8S_CNI_CONNMARK: 0x4000 });
});

test("/v1/eni-configs: the Node's ENIConfig name as a JSON string; 404 without the Kubernetes API or when it fails", async () => {
  expect(await get("/v1/eni-configs")).toEqual({ status: 200, body: "us-west-2a" });
  expect((await introspectionApp(h.pm, env).request("/v1/eni-configs")).status).toBe(404);
  const failing = introspectionApp(h.pm, env, { kube: { ...kube, eniConfigName: () => Promise.reject(new Error("403")) } });
  expect((await failing.request("/v1/eni-configs")).status).toBe(404);
});

test("any other path lists the commands, as upstream's root handler", async () => {
  const { body } = await get("/");
  expect((body as { AvailableCommands: string[] }).AvailableCommands.sort()).toEqual(["/v1/eni-configs", "/v1/enis", "/v1/ipamd-env-settings", "/v1/networkutils-env-settings"]);
});
