/**
 * Reconcile in real namespaces (root): drift made by hand (a rule, a route deleted; a veth,
 * a rule added) is repaired from the desired state; nothing outside the project's patterns
 * is touched; a source that is down is skipped. Also the contract routes through the frame.
 */
import { afterAll, expect, test } from "bun:test";
import type { Assignment } from "../../../../shared/contracts/assignments.ts";
import type { CapacitySnapshot } from "../../../../shared/contracts/capacity.ts";
import { createFrame } from "../../../../shared/service.ts";
import { NetlinkKernel } from "../adapters/netlink-kernel.ts";
import { Iptables } from "../adapters/iptables.ts";
import { HostService } from "./host-service.ts";
import { PodService } from "./pod-service.ts";
import { Reconciler, type DesiredSources } from "./reconcile-service.ts";
import { mountNetConfig } from "./app.ts";
import { DEFAULT_SETTINGS } from "../core/settings.ts";
import { Namespaces } from "../../test-support/namespaces.ts";
import { NAMESPACES, requires } from "../../../../tests/support/prerequisites.ts";

const gate = requires(...NAMESPACES, "iptables", "nsenter");
const nss = new Namespaces();
let node: { name: string; path: string };
let kernel: NetlinkKernel;
const settings = { ...DEFAULT_SETTINGS, podMtu: 1500 };

gate.beforeAll(() => {
  node = nss.add("n");
  nss.ip(node.name, ["link", "add", "eth0", "address", "02:00:00:00:00:05", "type", "veth", "peer", "name", "ext0"]);
  nss.ip(node.name, ["addr", "add", "10.0.0.5/24", "dev", "eth0"]);
  nss.ip(node.name, ["link", "set", "eth0", "up"]);
  kernel = new NetlinkKernel({ path: node.path });
});
afterAll(() => {
  kernel?.close();
  nss.cleanup();
});

const ENI = { id: "eni-0def", mac: "02:00:00:00:02:07", deviceNumber: 2, routeTable: 3, subnetCidr: "10.0.7.0/24", gateway: "10.0.7.1", primaryIp: "10.0.7.9" };

function capacity(): CapacitySnapshot {
  return {
    version: 1, epoch: "t", family: "ipv4", prefixDelegation: false, vpcCidrs: ["10.0.0.0/16"], ready: true,
    enis: [{ ...ENI, networkCard: 0, subnetId: "subnet-1", primary: false, usable: true, cidrs: [] }],
  };
}

gate.describe("reconcile (root)", () => {
  test("repairs deleted rules/routes, removes the project's leftovers, leaves others alone", async () => {
    const assignments: Assignment[] = [];
    let brokerUp = true;
    const sources: DesiredSources = {
      assignments: async () => {
        if (!brokerUp) throw new Error("connect ECONNREFUSED");
        return { assignments, restored: true };
      },
      capacity: async () => capacity(),
    };
    const counted: string[] = [];
    const host = new HostService(kernel, new Iptables({ path: node.path }, "nft"), () => settings, { linkWaitMs: 500, randomFully: true });
    const reconciler = new Reconciler(kernel, host, sources, () => settings, (k) => counted.push(k));
    const pods = new PodService(kernel, () => settings, (v, c) => reconciler.touched(v, c));

    const reqs = [1, 2].map((i) => {
      const ns = nss.add("p");
      return { containerId: `c${i}`, ifName: "eth0", netns: ns.path, podNamespace: "ns", podName: `pod${i}`, address: `10.0.1.${i}`, routeTable: 3 };
    });
    const wired = reqs.map((r) => pods.wire(r));
    for (const r of reqs) assignments.push({ ...r, networkName: "aws-cni" });
    nss.ip(node.name, ["link", "add", "ens7", "address", ENI.mac, "type", "veth", "peer", "name", "ens7p"]);
    await host.setupEni({ eniId: ENI.id, mac: ENI.mac, deviceNumber: 2, primaryIp: ENI.primaryIp, subnetCidr: ENI.subnetCidr, gateway: ENI.gateway, routeTable: 3 });

    // Drift by hand.
    nss.ip(node.name, ["rule", "del", "priority", "1536", "from", "10.0.1.1"]);
    nss.ip(node.name, ["route", "del", "10.0.1.2/32"]);
    nss.ip(node.name, ["link", "add", "eni0123456789a", "type", "veth", "peer", "name", "strayp"]);
    nss.ip(node.name, ["rule", "add", "priority", "512", "to", "10.0.1.99", "lookup", "main"]);
    nss.ip(node.name, ["route", "del", "default", "table", "3"]);
    nss.ip(node.name, ["rule", "del", "priority", "32765", "from", "10.0.7.9"]);
    nss.ip(node.name, ["rule", "add", "priority", "32765", "from", "10.0.8.8", "lookup", "4"]);
    // Not the project's: must survive.
    nss.ip(node.name, ["link", "add", "foo0", "type", "veth", "peer", "name", "foo1"]);
    nss.ip(node.name, ["rule", "add", "priority", "600", "to", "10.0.1.77", "lookup", "main"]);

    brokerUp = false;
    const skipped = await reconciler.run();
    expect(skipped.pods).toContain("skipped: addr-broker unreachable");
    expect(nss.ip(node.name, ["link", "show", "eni0123456789a"])).toContain("eni0123456789a");
    expect(skipped.repairs).toBe(3); // the ENI's route and rule, the stray 32765 rule
    brokerUp = true;

    const report = await reconciler.run();
    expect(report.pods).toBe("checked");
    expect(report.errors).toBe(0);
    expect(counted.sort()).toEqual(["eni-route", "eni-rule", "pod-route", "pod-rule", "stale-eni-rule", "stale-rule", "stale-veth"]);
    for (const r of reqs) expect(pods.check(r)).toEqual({ ok: true, problems: [] });
    expect(nss.ip(node.name, ["-o", "link", "show"])).not.toContain("eni0123456789a");
    const rules = nss.ip(node.name, ["rule"]);
    expect(rules).not.toContain("10.0.1.99");
    expect(rules).not.toContain("10.0.8.8");
    expect(rules).toContain("32765:\tfrom 10.0.7.9 lookup 3");
    expect(rules).toContain("600:\tfrom all to 10.0.1.77 lookup main");
    expect(nss.ip(node.name, ["route", "show", "table", "3"])).toContain("default via 10.0.7.1 dev ens7");
    expect(nss.ip(node.name, ["-o", "link", "show"])).toContain("foo0");
    expect(reconciler.recentRepairs().map((r) => r.kind)).toContain("stale-veth");
    // Converged: a second round has nothing to do.
    expect((await reconciler.run()).repairs).toBe(0);

    // A pod no longer assigned: its rules, route and veth go.
    assignments.splice(1, 1);
    await reconciler.run();
    expect(nss.ip(node.name, ["-o", "link", "show"])).not.toContain(wired[1]!.hostVeth);
    expect(nss.ip(node.name, ["rule"])).not.toContain("10.0.1.2 ");
    expect(pods.check(reqs[0]!).ok).toBe(true);
    pods.unwire(reqs[0]!);
  });

  test("the contract routes through the service frame; /debug lists operations", async () => {
    const frame = createFrame({ name: "net-config", debug: () => debug(), processMetrics: false });
    const host = new HostService(kernel, new Iptables({ path: node.path }, "nft"), () => settings, { linkWaitMs: 500, randomFully: true });
    const reconciler = new Reconciler(kernel, host, { assignments: async () => ({ assignments: [], restored: false }), capacity: async () => capacity() }, () => settings);
    const pods = new PodService(kernel, () => settings);
    const { debug } = mountNetConfig(frame, { pods, host, reconciler, settings, backend: "nft", nodeNetns: node.path });
    const ns = nss.add("p");
    const body = { containerId: "c9", ifName: "eth0", netns: ns.path, address: "10.0.1.9", routeTable: 254 };
    const post = (path: string, b: unknown) => frame.app.request(path, { method: "POST", body: JSON.stringify(b), headers: { "content-type": "application/json" } });
    const wired = await post("/v1/pods/wire", body);
    expect(wired.status).toBe(200);
    expect(((await wired.json()) as { hostVeth: string }).hostVeth).toMatch(/^eni[0-9a-f]{11}$/);
    expect(await (await post("/v1/pods/check", body)).json()).toEqual({ ok: true, problems: [] });
    const bad = await post("/v1/pods/wire", { ...body, netns: "/etc/shadow" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe("netns");
    expect(await (await post("/v1/pods/unwire", { ...body, netns: "" })).json()).toMatchObject({ removed: expect.any(Array) });
    const dbg = (await (await frame.app.request("/debug")).json()) as { recentOperations: Array<{ op: string }>; iptablesBackend: string };
    expect(dbg.recentOperations.map((o) => o.op)).toEqual(["wire", "check", "unwire"]);
    expect(dbg.iptablesBackend).toBe("nft");
    const metrics = await (await frame.app.request("/metrics")).text();
    expect(metrics).toContain('awscni_netconfig_operations_total{op="wire",result="ok"} 1');
  });

  test("an ENI on network card 1 (multi-NIC): set up in table 10100 at device 0, kept and repaired by the reconcile", async () => {
    // A node of its own: the first test's ENI rule is not this capacity's.
    const n1 = nss.add("n");
    const k1 = new NetlinkKernel({ path: n1.path });
    try {
      const card1 = { id: "eni-0c1", mac: "02:00:00:00:03:01", deviceNumber: 0, networkCard: 1, routeTable: 10100, subnetCidr: "10.0.9.0/24", gateway: "10.0.9.1", primaryIp: "10.0.9.20" };
      const snap: CapacitySnapshot = { version: 1, epoch: "t", family: "ipv4", prefixDelegation: false, vpcCidrs: ["10.0.0.0/16"], ready: true, enis: [{ ...card1, subnetId: "subnet-1", primary: false, usable: false, cidrs: [{ cidr: "10.0.9.21/32", kind: "address", draining: false }] }] };
      const host = new HostService(k1, new Iptables({ path: n1.path }, "nft"), () => settings, { linkWaitMs: 500, randomFully: true });
      const reconciler = new Reconciler(k1, host, { assignments: async () => ({ assignments: [], restored: true }), capacity: async () => snap }, () => settings);
      nss.ip(n1.name, ["link", "add", "c1eth0", "address", card1.mac, "type", "veth", "peer", "name", "c1eth0p"]);
      await host.setupEni({ eniId: card1.id, mac: card1.mac, deviceNumber: 0, primaryIp: card1.primaryIp, subnetCidr: card1.subnetCidr, gateway: card1.gateway, routeTable: 10100 });
      expect(nss.ip(n1.name, ["rule"])).toContain("32765:\tfrom 10.0.9.20 lookup 10100");
      expect(nss.ip(n1.name, ["route", "show", "table", "10100"])).toContain("default via 10.0.9.1 dev c1eth0");
      // Device 0 of card 1 is not the node's own interface: it is set up like any secondary ENI.
      expect(nss.ip(n1.name, ["-o", "addr", "show", "dev", "c1eth0"])).toContain("10.0.9.20/24");
      expect((await reconciler.run()).repairs).toBe(0);
      nss.ip(n1.name, ["rule", "del", "priority", "32765", "from", "10.0.9.20"]);
      nss.ip(n1.name, ["route", "del", "default", "table", "10100"]);
      const r = await reconciler.run();
      expect(r.errors).toBe(0);
      expect(nss.ip(n1.name, ["rule"])).toContain("32765:\tfrom 10.0.9.20 lookup 10100");
      expect(nss.ip(n1.name, ["route", "show", "table", "10100"])).toContain("default via 10.0.9.1 dev c1eth0");
    } finally {
      k1.close();
    }
  });
});
