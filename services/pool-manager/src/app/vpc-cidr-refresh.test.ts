import { expect, test } from "bun:test";
import { UPSTREAM_DEFAULTS } from "../core/settings.ts";
import type { ImdsInterface, ImdsPort } from "../core/ports.ts";
import { FakeNetConfig } from "../../test-support/fakes.ts";
import { PoolModel } from "./pool-model.ts";
import { VpcCidrRefresh } from "./vpc-cidr-refresh.ts";

const MAC = "02:00:00:00:00:01";

/** IMDS whose primary interface shows `cidrs` (IPv4) and `v6cidrs`; `down` makes every read fail. */
function imds(state: { cidrs: string[]; v6cidrs?: string[]; down: boolean }): ImdsPort {
  const iface = (): ImdsInterface => ({ mac: MAC, deviceNumber: 0, networkCard: 0, interfaceId: "eni-1", subnetId: "subnet-1", subnetCidr: "10.0.1.0/24", vpcCidrs: [...state.cidrs], securityGroupIds: [], localIpv4s: ["10.0.1.5"], ipv4Prefixes: [], ipv6s: [], ipv6Prefixes: [] });
  const fail = async (): Promise<never> => {
    throw new Error("IMDS down");
  };
  return { instanceId: async () => "i-1", instanceType: async () => "m5.large", availabilityZone: async () => "az", primaryMac: async () => MAC, localIpv4: async () => "10.0.1.5", interfaces: async () => (state.down ? fail() : [iface()]), localIpv6: async () => "2600:1f14::5", vpcIpv6Cidrs: async () => (state.down ? fail() : [...(state.v6cidrs ?? [])]) };
}

function setup() {
  const state = { cidrs: ["10.0.0.0/16"], down: false };
  const model = new PoolModel(UPSTREAM_DEFAULTS);
  model.vpcCidrs = ["10.0.0.0/16"];
  const net = new FakeNetConfig();
  const failing = { on: false };
  const port = { ...net, setupHost: async (h: Parameters<FakeNetConfig["setupHost"]>[0]) => (failing.on ? Promise.reject(new Error("net-config down")) : net.setupHost(h)), setupEni: net.setupEni.bind(net), teardownEni: net.teardownEni.bind(net) };
  const r = new VpcCidrRefresh({ imds: imds(state), net: port }, model, { primaryMac: MAC, primaryIp: "10.0.1.5" });
  return { state, model, net, failing, r };
}

test("an added CIDR reaches the capacity and the host set-up; a removed one leaves both", async () => {
  const { state, model, net, r } = setup();
  const v0 = model.version;
  expect(await r.run()).toBe(false);
  expect(net.host).toBeUndefined();
  state.cidrs = ["10.0.0.0/16", "100.64.0.0/16"];
  expect(await r.run()).toBe(true);
  expect(model.vpcCidrs).toEqual(["10.0.0.0/16", "100.64.0.0/16"]);
  expect(model.version).toBeGreaterThan(v0);
  expect(net.host).toEqual({ vpcCidrs: ["10.0.0.0/16", "100.64.0.0/16"], primaryIp: "10.0.1.5", primaryMac: MAC });
  state.cidrs = ["100.64.0.0/16"];
  expect(await r.run()).toBe(true);
  expect(net.host?.vpcCidrs).toEqual(["100.64.0.0/16"]);
  // The same set in another order is no change.
  state.cidrs = ["100.64.0.0/16"];
  net.host = undefined;
  expect(await r.run()).toBe(false);
  expect(net.host).toBeUndefined();
});

test("IMDS down or showing nothing keeps the known CIDRs", async () => {
  const { state, model, net, r } = setup();
  state.down = true;
  expect(await r.run()).toBe(false);
  state.down = false;
  state.cidrs = [];
  expect(await r.run()).toBe(false);
  expect(model.vpcCidrs).toEqual(["10.0.0.0/16"]);
  expect(net.host).toBeUndefined();
});

test("a host set-up that failed is tried again at the next round", async () => {
  const { state, net, failing, r } = setup();
  failing.on = true;
  state.cidrs = ["10.0.0.0/16", "10.1.0.0/16"];
  expect(await r.run()).toBe(true);
  expect(net.host).toBeUndefined();
  failing.on = false;
  expect(await r.run()).toBe(false);
  expect(net.host?.vpcCidrs).toEqual(["10.0.0.0/16", "10.1.0.0/16"]);
});

test("IPv6 mode: the VPC's IPv6 CIDRs are re-read and the host set-up keeps naming the primary IPv6", async () => {
  const state = { cidrs: ["10.0.0.0/16"], v6cidrs: ["2600:1f14:1::/56"], down: false };
  const model = new PoolModel(UPSTREAM_DEFAULTS);
  model.vpcCidrs = ["2600:1f14:1::/56"];
  const net = new FakeNetConfig();
  const r = new VpcCidrRefresh({ imds: imds(state), net }, model, { primaryMac: MAC, primaryIp: "2600:1f14::5", family: "ipv6" });
  // The IPv4 CIDRs IMDS also shows are not the host set-up's: nothing changes.
  expect(await r.run()).toBe(false);
  expect(net.host).toBeUndefined();
  state.v6cidrs = ["2600:1f14:1::/56", "2600:1f14:2::/56"];
  expect(await r.run()).toBe(true);
  expect(model.vpcCidrs).toEqual(["2600:1f14:1::/56", "2600:1f14:2::/56"]);
  expect(net.host).toEqual({ vpcCidrs: ["2600:1f14:1::/56", "2600:1f14:2::/56"], primaryIp: "2600:1f14::5", primaryMac: MAC });
});
