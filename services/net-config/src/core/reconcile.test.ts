import { describe, expect, test } from "bun:test";
import { planReconcile, type Observed } from "./reconcile.ts";
import { DEFAULT_SETTINGS } from "./settings.ts";
import { podLayout } from "./pod-wiring.ts";

const s = DEFAULT_SETTINGS;
const pod = { containerId: "c1", ifName: "eth0", netns: "/run/netns/p1", podNamespace: "default", podName: "web", address: "10.0.1.5", routeTable: 3 };
const l = podLayout(pod, s);
const none = { veths: new Set<string>(), cidrs: new Set<string>() };
const link = (name: string, mac = "02:00:00:00:00:01") => ({ name, index: 1, mac, mtu: 9001, up: true, kind: "veth" });
const healthy: Observed = { links: [link(l.hostVeth)], routes: [l.hostRoute], rules: l.rules };

describe("planReconcile", () => {
  test("a healthy node needs nothing", () => {
    expect(planReconcile(s, { pods: [pod], enis: [] }, healthy, none)).toEqual([]);
  });

  test("missing route and rule of an assigned pod whose veth exists are re-created", () => {
    const kinds = planReconcile(s, { pods: [pod] }, { ...healthy, routes: [], rules: [l.rules[0]!] }, none).map((r) => r.kind);
    expect(kinds).toEqual(["pod-route", "pod-rule"]);
  });

  test("a multi-homed pod's interface on card 1 (index 1) is its own: kept when healthy, its rule to the card's table repaired, removed once unassigned", () => {
    const card1 = { ...pod, ifName: "mNicIf1", address: "10.1.0.5", routeTable: 10100, index: 1 };
    const l1 = podLayout(card1, s);
    const seen: Observed = { links: [link(l.hostVeth), link(l1.hostVeth)], routes: [l.hostRoute, l1.hostRoute], rules: [...l.rules, ...l1.rules] };
    expect(planReconcile(s, { pods: [pod, card1] }, seen, none)).toEqual([]);
    const repaired = planReconcile(s, { pods: [pod, card1] }, { ...seen, rules: [...l.rules, l1.rules[0]!] }, none);
    expect(repaired.map((r) => r.what)).toEqual(["rule priority 1536 from 10.1.0.5/32 lookup 10100"]);
    expect(planReconcile(s, { pods: [pod] }, seen, none).map((r) => r.kind)).toEqual(["stale-rule", "stale-rule", "stale-route", "stale-veth"]);
  });

  test("an assigned pod without its veth is not re-created from the host side", () => {
    expect(planReconcile(s, { pods: [pod] }, { links: [], routes: [], rules: [] }, none)).toEqual([]);
  });

  test("leftovers of unassigned pods go; others' links, rules and routes stay", () => {
    const seen: Observed = {
      links: [link(l.hostVeth), link("foo0"), link("eni0123"), { ...link("enia1b2c3d4e5f"), kind: "bridge" }],
      routes: [l.hostRoute, { family: 4, dst: "10.0.9.9/32", dev: "foo0", scope: "link", table: 254 }],
      rules: [...l.rules, { family: 4, priority: 600, table: 254, dst: "10.0.1.5/32" }],
    };
    expect(planReconcile(s, { pods: [] }, seen, none).map((r) => r.what)).toEqual([
      "rule priority 512 to 10.0.1.5/32 lookup main",
      "rule priority 1536 from 10.0.1.5/32 lookup 3",
      `route 10.0.1.5/32 dev ${l.hostVeth} scope link table 254`,
      `link ${l.hostVeth}`,
    ]);
  });

  test("what is being wired during the round is left alone", () => {
    expect(planReconcile(s, { pods: [] }, healthy, { veths: new Set([l.hostVeth]), cidrs: new Set([l.podCidr]) })).toEqual([]);
  });

  test("a live pod addr-broker holds only as a reservation (corrupt checkpoint) keeps its rules, route and veth", () => {
    expect(planReconcile(s, { pods: [], reserved: [{ address: "10.0.1.5", hostVeth: l.hostVeth }] }, healthy, none)).toEqual([]);
    // Known only by its address (no host route was seen): its rules stay, an unrelated leftover veth still goes.
    const leftover = podLayout({ ...pod, podName: "gone", address: "10.0.1.6" }, s);
    const seen: Observed = { ...healthy, links: [link(l.hostVeth), link(leftover.hostVeth)], routes: [] };
    expect(planReconcile(s, { pods: [], reserved: [{ address: "10.0.1.5" }] }, seen, none).map((r) => r.what)).toEqual([`link ${l.hostVeth}`, `link ${leftover.hostVeth}`]);
  });

  test("a reservation naming its veth and route table gets a missing route and rules back; without its veth, or its table, nothing", () => {
    const full = { address: "10.0.1.5", hostVeth: l.hostVeth, routeTable: 3 };
    const bare: Observed = { links: [link(l.hostVeth)], routes: [], rules: [] };
    expect(planReconcile(s, { pods: [], reserved: [full] }, bare, none).map((r) => r.what)).toEqual([
      `route 10.0.1.5/32 dev ${l.hostVeth} scope link table 254 (reserved)`,
      "rule priority 512 to 10.0.1.5/32 lookup main (reserved)",
      "rule priority 1536 from 10.0.1.5/32 lookup 3 (reserved)",
    ]);
    expect(planReconcile(s, { pods: [], reserved: [full] }, { links: [], routes: [], rules: [] }, none)).toEqual([]);
    expect(planReconcile(s, { pods: [], reserved: [{ address: "10.0.1.5", hostVeth: l.hostVeth }] }, bare, none)).toEqual([]);
    expect(planReconcile(s, { pods: [], reserved: [full] }, bare, { veths: new Set([l.hostVeth]), cidrs: new Set() })).toEqual([]);
  });

  test("a pod whose veth was named with a conflist's own prefix is laid out, repaired and pruned with that prefix", () => {
    const own = { ...pod, vethPrefix: "cfg" };
    const lo = podLayout(own, s);
    expect(lo.hostVeth.startsWith("cfg")).toBe(true);
    const seen: Observed = { links: [link(lo.hostVeth)], routes: [], rules: lo.rules };
    expect(planReconcile(s, { pods: [own] }, seen, none).map((r) => r.kind)).toEqual(["pod-route"]);
    const other = podLayout({ ...own, podName: "gone", address: "10.0.1.7" }, s);
    const withLeftover: Observed = { links: [link(lo.hostVeth), link(other.hostVeth)], routes: [lo.hostRoute], rules: lo.rules };
    expect(planReconcile(s, { pods: [own] }, withLeftover, none).map((r) => r.what)).toEqual([`link ${other.hostVeth}`]);
  });

  test("without the assignments (addr-broker down) pods are not touched", () => {
    expect(planReconcile(s, {}, { ...healthy, rules: [] }, none)).toEqual([]);
  });

  test("ENI: missing table routes and rule re-created, a stale 32765 rule removed, primary ENI ignored", () => {
    const eni = { eniId: "eni-1", mac: "02:00:00:00:02:02", deviceNumber: 2, primaryIp: "10.0.4.9", subnetCidr: "10.0.4.0/24", gateway: "10.0.4.1", routeTable: 3, primary: false };
    const primary = { ...eni, mac: "02:00:00:00:02:00", routeTable: 254, primary: true, primaryIp: "10.0.0.5" };
    const seen: Observed = { links: [link("ens6", eni.mac)], routes: [], rules: [{ family: 4, priority: 32765, table: 4, src: "10.0.8.8/32" }] };
    expect(planReconcile(s, { enis: [eni, primary] }, seen, none).map((r) => r.kind)).toEqual(["eni-route", "eni-route", "eni-rule", "stale-eni-rule"]);
  });
});
