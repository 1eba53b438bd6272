// Root test of the namespace layer alone (no simulated EC2): synthetic EC2 events drive the
// mirror; outcomes are checked in the kernel and by traffic between namespaces.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { VpcFabric, destroyStack } from "./fabric.ts";
import { EniMirror } from "./mirror.ts";
import { stackNames } from "./names.ts";
import { listNetns } from "./command.ts";
import { startEcho, type EchoService } from "./outside-echo.ts";
import { askEcho, execIn, linksIn, ping } from "./test-support.ts";
import { NAMESPACES, requires } from "../../../tests/support/prerequisites.ts";

const names = stackNames(`/tmp/vpc-fabric-test-${process.pid}-${Math.random().toString(36).slice(2)}`);
const silent = { info() {}, error() {} };
const SUBNET = "10.0.0.0/19";
const attach = (eniId: string, instanceId: string, deviceIndex: number, mac: string, primaryIp: string) => ({
  eniId, instanceId, deviceIndex, mac, primaryIp, subnetId: "subnet-1", subnetCidr: SUBNET,
});

requires(...NAMESPACES, "busybox").describe("local VPC namespaces (root)", () => {
  const fabric = new VpcFabric(names, ["10.0.0.0/16"]);
  const mirror = new EniMirror(fabric, silent);
  const node0 = fabric.nodeNs(0);
  const node1 = fabric.nodeNs(1);
  let echo: EchoService | undefined;

  beforeAll(async () => {
    await fabric.create();
    await fabric.addNode(0);
    await fabric.addNode(1);
    mirror.eniAttached(attach("eni-a0", "i-0", 0, "02:00:00:00:00:0a", "10.0.0.10"));
    mirror.eniAttached(attach("eni-a1", "i-1", 0, "02:00:00:00:00:0b", "10.0.0.11"));
    mirror.registerInstance("i-0", 0);
    mirror.registerInstance("i-1", 1);
    await mirror.idle();
    echo = await startEcho(names.outsideNs);
  });

  afterAll(async () => {
    await echo?.stop();
    const problems = await destroyStack(names);
    expect(problems).toEqual([]);
    expect((await listNetns()).filter((n) => n.startsWith(`${names.prefix}-`))).toEqual([]);
    expect((await linksIn(undefined)).map((l) => l.ifname)).not.toContain(names.mgmtRootLink);
  });

  test("primary ENIs: configured eth0 with the ENI's MAC; nodes reach each other through the router", async () => {
    expect(mirror.failures).toEqual([]);
    const eth0 = (await linksIn(node0)).find((l) => l.ifname === "eth0");
    expect(eth0?.address).toBe("02:00:00:00:00:0a");
    expect(await ping(node0, "10.0.0.11")).toBe(true);
    expect(await ping(node1, "10.0.0.10")).toBe(true);
    expect(await ping(node0, "10.0.0.1")).toBe(true);
  });

  test("an attached ENI appears as eth1 with its MAC, down and bare", async () => {
    mirror.eniAttached(attach("eni-b1", "i-1", 1, "02:00:00:00:01:0b", "10.0.0.20"));
    await mirror.idle();
    const eth1 = (await linksIn(node1)).find((l) => l.ifname === "eth1");
    expect(eth1?.address).toBe("02:00:00:00:01:0b");
    expect(eth1?.flags).not.toContain("UP");
    const addrs = await execIn(node1, ["ip", "-4", "-o", "addr", "show", "dev", "eth1"]);
    expect(addrs.stdout.trim()).toBe("");
  });

  test("a secondary IP is reachable from another node only while assigned to the ENI where it is configured", async () => {
    // Configure by hand what the product's net-config would: eth1 up, the address, and a
    // source route out of eth1 (on EC2 a reply must leave through the ENI that owns it).
    for (const argv of [
      ["ip", "link", "set", "eth1", "up"],
      ["ip", "addr", "add", "10.0.0.30/32", "dev", "eth1"],
      ["ip", "rule", "add", "from", "10.0.0.30", "table", "101"],
      ["ip", "route", "add", "default", "via", "10.0.0.1", "dev", "eth1", "onlink", "table", "101"],
    ]) expect((await execIn(node1, argv)).exitCode).toBe(0);

    expect(await ping(node0, "10.0.0.30")).toBe(false);
    mirror.addressesAssigned({ eniId: "eni-b1", instanceId: "i-1", mac: "02:00:00:00:01:0b", cidrs: ["10.0.0.30/32"] });
    await mirror.idle();
    expect(await ping(node0, "10.0.0.30")).toBe(true);
    mirror.addressesUnassigned({ eniId: "eni-b1", instanceId: "i-1", mac: "02:00:00:00:01:0b", cidrs: ["10.0.0.30/32"] });
    await mirror.idle();
    expect(await ping(node0, "10.0.0.30")).toBe(false);
    expect(mirror.failures).toEqual([]);
  });

  test("a delegated /28 prefix is routed to its ENI while assigned", async () => {
    for (const argv of [
      ["ip", "addr", "add", "10.0.1.18/32", "dev", "eth1"],
      ["ip", "rule", "add", "from", "10.0.1.16/28", "table", "101"],
    ]) expect((await execIn(node1, argv)).exitCode).toBe(0);
    expect(await ping(node0, "10.0.1.18")).toBe(false);
    mirror.addressesAssigned({ eniId: "eni-b1", instanceId: "i-1", mac: "02:00:00:00:01:0b", cidrs: ["10.0.1.16/28"] });
    await mirror.idle();
    expect(await ping(node0, "10.0.1.18")).toBe(true);
    mirror.addressesUnassigned({ eniId: "eni-b1", instanceId: "i-1", mac: "02:00:00:00:01:0b", cidrs: ["10.0.1.16/28"] });
    await mirror.idle();
    expect(await ping(node0, "10.0.1.18")).toBe(false);
  });

  test("a source the VPC did not assign to the ENI is dropped; once assigned it passes", async () => {
    expect((await execIn(node0, ["ip", "addr", "add", "10.0.0.99/32", "dev", "eth0"])).exitCode).toBe(0);
    expect(await ping(node0, "10.0.0.11", "10.0.0.99")).toBe(false);
    mirror.addressesAssigned({ eniId: "eni-a0", instanceId: "i-0", mac: "02:00:00:00:00:0a", cidrs: ["10.0.0.99/32"] });
    await mirror.idle();
    expect(await ping(node0, "10.0.0.11", "10.0.0.99")).toBe(true);
  });

  test("the outside echo service reports the source it sees, over TCP and UDP", async () => {
    expect(echo?.address).toBe("203.0.113.10:7");
    expect(await askEcho(node0, "203.0.113.10:7", "tcp")).toMatch(/^from 10\.0\.0\.10:\d+\n$/);
    expect(await askEcho(node1, "203.0.113.10:7", "udp")).toMatch(/^from 10\.0\.0\.11:\d+\n$/);
  });

  test("detaching removes the link from the node", async () => {
    mirror.addressesUnassigned({ eniId: "eni-b1", instanceId: "i-1", mac: "02:00:00:00:01:0b", cidrs: [] });
    mirror.eniDetached({ eniId: "eni-b1", instanceId: "i-1", mac: "02:00:00:00:01:0b" });
    await mirror.idle();
    expect((await linksIn(node1)).map((l) => l.ifname)).not.toContain("eth1");
    const routes = await execIn(names.routerNs, ["ip", "-o", "link", "show"]);
    expect(routes.stdout).not.toContain("n1-eth1");
  });
});
