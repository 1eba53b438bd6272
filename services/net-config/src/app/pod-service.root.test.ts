/**
 * Pod wiring in real namespaces: a "node" namespace standing for the host (net-config's
 * netlink socket lives there) and one namespace per pod. Needs root.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { NetlinkKernel } from "../adapters/netlink-kernel.ts";
import { PodService } from "./pod-service.ts";
import { RETIRED_GROUP, RETIRED_PREFIX, VethReaper } from "../adapters/veth-reaper.ts";
import { DEFAULT_SETTINGS, type NetConfigSettings } from "../core/settings.ts";
import type { PodRequest } from "../core/pod-wiring.ts";
import { Namespaces } from "../../test-support/namespaces.ts";
import { NAMESPACES, requires } from "../../../../tests/support/prerequisites.ts";


const settings: NetConfigSettings = { ...DEFAULT_SETTINGS, vethPrefix: "eni", podMtu: 1480 };
const nss = new Namespaces();
let node: { name: string; path: string };
let kernel: NetlinkKernel;
let pods: PodService;

function pod(i: number, extra: Partial<PodRequest> = {}): PodRequest & { ns: string } {
  const ns = nss.add("p");
  return { ns: ns.name, containerId: `c${nss.tag}${i}`, ifName: "eth0", netns: ns.path, podNamespace: "default", podName: `pod-${nss.tag}-${i}`, address: `10.0.1.${10 + i}`, routeTable: 3, ...extra };
}

/** What the node namespace holds that belongs to pods: veths, /32 routes, rules 512/1536. */
function podLeftovers(): string[] {
  const links = nss.ip(node.name, ["-o", "link", "show"]).split("\n").filter((l) => / eni[0-9a-f]{11}[@:]/.test(l));
  const routes = nss.ip(node.name, ["route", "show", "table", "all"]).split("\n").filter((l) => l.includes("dev eni"));
  const rules = nss.ip(node.name, ["rule", "show"]).split("\n").filter((l) => /^(512|1536):/.test(l));
  return [...links, ...routes, ...rules];
}

requires(...NAMESPACES, "nsenter", "ping").describe("pod wiring (root, real namespaces)", () => {
  beforeAll(() => {
    node = nss.add("n");
    // The node's primary interface: a veth whose other end stays in the node (carrier up).
    nss.ip(node.name, ["link", "add", "eth0", "type", "veth", "peer", "name", "vpcside"]);
    nss.ip(node.name, ["addr", "add", "10.0.0.5/24", "dev", "eth0"]);
    nss.ip(node.name, ["link", "set", "eth0", "up"]);
    nss.ip(node.name, ["link", "set", "vpcside", "up"]);
    nss.exec(node.name, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    kernel = new NetlinkKernel({ path: node.path });
    pods = new PodService(kernel, () => settings);
  });
  afterAll(() => {
    kernel?.close();
    nss.cleanup();
  });

  test("wire two pods: gateway path and pod-to-pod work, CHECK is clean, unwire leaves nothing", () => {
    const a = pod(1);
    const b = pod(2, { routeTable: 254 });
    const wa = pods.wire(a);
    const wb = pods.wire(b);
    expect(wa.hostVeth).toMatch(/^eni[0-9a-f]{11}$/);
    expect(wa.hostMac).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/);
    // Kernel state as upstream lays it out.
    expect(nss.ip(a.ns, ["route"])).toContain("default via 169.254.1.1 dev eth0");
    expect(nss.ip(a.ns, ["route"])).toContain("169.254.1.1 dev eth0 scope link");
    expect(nss.ip(a.ns, ["neigh"])).toContain(`169.254.1.1 dev eth0 lladdr ${wa.hostMac} PERMANENT`);
    expect(nss.ip(a.ns, ["-o", "addr", "show", "dev", "eth0"])).toContain("inet 10.0.1.11/32");
    expect(nss.ip(a.ns, ["link", "show", "eth0"])).toContain(`link/ether ${wa.podMac}`);
    expect(nss.ip(a.ns, ["link", "show", "eth0"])).toContain("mtu 1480");
    expect(nss.ip(node.name, ["link", "show", wa.hostVeth])).toContain("mtu 1480");
    expect(nss.ip(node.name, ["route"])).toContain(`10.0.1.11 dev ${wa.hostVeth} scope link`);
    const rules = nss.ip(node.name, ["rule"]);
    expect(rules).toContain("512:\tfrom all to 10.0.1.11 lookup main");
    expect(rules).toContain("1536:\tfrom 10.0.1.11 lookup 3");
    expect(rules).toContain("512:\tfrom all to 10.0.1.12 lookup main");
    expect(rules).not.toContain("from 10.0.1.12 lookup");
    expect(nss.exec(node.name, ["sysctl", "-n", `net.ipv6.conf.${wa.hostVeth}.accept_ra`]).out.trim()).toBe("0");

    expect(nss.ping(a.ns, "10.0.0.5")).toBe(true); // the node, through the 169.254.1.1 gateway
    expect(nss.ping(a.ns, "10.0.1.12")).toBe(true); // another pod on the node
    expect(pods.check(a)).toEqual({ ok: true, problems: [] });
    expect(pods.check(b)).toEqual({ ok: true, problems: [] });

    const ra = pods.unwire(a);
    expect(ra.removed.length).toBeGreaterThanOrEqual(3);
    pods.unwire(b);
    expect(podLeftovers()).toEqual([]);
    // Already gone: still a success, nothing to remove; and with no netns at all.
    expect(pods.unwire(a).removed).toEqual([]);
    expect(pods.unwire({ ...a, netns: "" }).removed).toEqual([]);
  });

  test("CHECK names what is missing", () => {
    const a = pod(3);
    const w = pods.wire(a);
    try {
      nss.ip(node.name, ["rule", "del", "priority", "1536", "from", "10.0.1.13"]);
      nss.ip(a.ns, ["neigh", "del", "169.254.1.1", "dev", "eth0"]);
      const c = pods.check(a);
      expect(c.ok).toBe(false);
      expect(c.problems).toEqual(["rule priority 1536 from 10.0.1.13/32 lookup 3 is missing", "permanent neighbour 169.254.1.1 on eth0 is missing"]);
      nss.ip(node.name, ["link", "del", w.hostVeth]);
      expect(pods.check(a).problems).toContain(`host veth ${w.hostVeth} is missing`);
    } finally {
      pods.unwire(a);
    }
    expect(podLeftovers()).toEqual([]);
  });

  test("a retried ADD replaces the old pair; an ADD into a namespace that already has the interface fails and leaves nothing", () => {
    const a = pod(4);
    pods.wire(a);
    // Retried ADD: the host end is removed first, then re-created (the pod end goes with it).
    const again = pods.wire(a);
    expect(pods.check(a).ok).toBe(true);
    expect(nss.ip(a.ns, ["link", "show", "eth0"])).toContain(again.podMac);
    pods.unwire(a);
    // A pod whose namespace has a foreign eth0: EEXIST, and our half-made state is rolled back.
    const b = pod(5);
    nss.ip(b.ns, ["link", "add", "eth0", "type", "veth", "peer", "name", "other"]);
    const err = (() => {
      try {
        pods.wire(b);
      } catch (e) {
        return e as { code: string };
      }
    })();
    expect(err?.code).toBe("NETLINK_EEXIST");
    expect(podLeftovers()).toEqual([]);
  });

  test("bad input is refused with the field named and changes nothing", () => {
    const a = pod(6);
    const bad = (r: PodRequest) => {
      try {
        pods.wire(r);
        return undefined;
      } catch (e) {
        return (e as { code: string; field: string });
      }
    };
    expect(bad({ ...a, netns: "/tmp/../run/netns/x" })?.field).toBe("netns");
    expect(bad({ ...a, netns: "/etc/passwd" })?.code).toBe("INVALID_NETNS");
    expect(bad({ ...a, ifName: "eth0; rm" })?.field).toBe("ifName");
    expect(bad({ ...a, address: "10.0.1" })?.field).toBe("address");
    expect(bad({ ...a, netns: "/run/netns/does-not-exist" })?.code).toBe("NETNS_NOT_FOUND");
    expect(podLeftovers()).toEqual([]);
  });

  test("64 concurrent wirings succeed and unwire cleanly", async () => {
    const reqs = Array.from({ length: 64 }, (_, i) => pod(100 + i, { address: `10.0.2.${i + 1}`, routeTable: i % 2 ? 254 : 4 }));
    const answers = await Promise.all(reqs.map(async (r) => pods.wire(r)));
    expect(new Set(answers.map((a) => a.hostVeth)).size).toBe(64);
    expect(reqs.every((r) => pods.check(r).ok)).toBe(true);
    expect(nss.ping(reqs[0]!.ns, "10.0.2.64")).toBe(true);
    await Promise.all(reqs.map(async (r) => pods.unwire(r)));
    expect(podLeftovers()).toEqual([]);
  });

  test("with a reaper, unwire cuts the pod off at once and frees the veth name; the pair is deleted shortly after", async () => {
    const reaper = new VethReaper({ command: ["nsenter", `--net=${node.path}`, "ip", "-force", "-batch", "-"] });
    const deferred = new PodService(kernel, () => settings, () => {}, reaper);
    const reqs = Array.from({ length: 16 }, (_, i) => pod(200 + i, { address: `10.0.3.${i + 1}` }));
    const answers = reqs.map((r) => deferred.wire(r));
    expect(nss.ping(reqs[0]!.ns, "10.0.3.2")).toBe(true);
    const results = await Promise.all(reqs.map(async (r) => deferred.unwire(r)));
    for (const [i, r] of results.entries()) expect(r.removed).toContain(`link ${answers[i]!.hostVeth}`);
    // At once: no pod veth name, route or rule is left, and the pod reaches nothing.
    expect(podLeftovers()).toEqual([]);
    expect(nss.ping(reqs[0]!.ns, "10.0.0.5")).toBe(false);
    // The pod's end is out of the way too: an ADD into the same namespace right after works.
    expect(nss.ip(reqs[1]!.ns, ["-o", "link", "show"])).not.toContain("eth0");
    // The same pod wired again right away (a StatefulSet pod keeps its name) gets a working veth.
    const again = deferred.wire(reqs[0]!);
    expect(again.hostVeth).toBe(answers[0]!.hostVeth);
    expect(deferred.check(reqs[0]!).ok).toBe(true);
    await reaper.idle();
    expect(reaper.failures).toEqual([]);
    // Shortly after: the retired pairs are gone from both sides; the re-wired pod is untouched.
    expect(nss.ip(node.name, ["-o", "link", "show"])).not.toContain(RETIRED_PREFIX);
    for (const r of reqs.slice(1)) expect(nss.ip(r.ns, ["-o", "link", "show"])).not.toContain("eth0");
    expect(deferred.check(reqs[0]!).ok).toBe(true);
    deferred.unwire(reqs[0]!);
    await reaper.idle();
    expect(podLeftovers()).toEqual([]);
    expect(nss.ip(node.name, ["-o", "link", "show"])).not.toContain(RETIRED_PREFIX);
    // Already gone: still a success with nothing removed.
    expect(deferred.unwire(reqs[1]!).removed).toEqual([]);
  });

  test("retired host ends wait down in the retired link group; one reaper run deletes the whole group", async () => {
    // A reaper whose child deletes nothing (`true`): the retired links stay for the test to see.
    const idle = new PodService(kernel, () => settings, () => {}, new VethReaper({ command: ["true"] }));
    const reqs = Array.from({ length: 4 }, (_, i) => pod(300 + i, { address: `10.0.4.${i + 1}` }));
    for (const r of reqs) idle.wire(r);
    const untouched = pod(310, { address: "10.0.4.10" });
    pods.wire(untouched);
    for (const r of reqs) idle.unwire(r);
    const inGroup = () => nss.ip(node.name, ["-o", "link", "show", "group", String(RETIRED_GROUP)]).trim().split("\n").filter(Boolean);
    const retired = inGroup();
    expect(retired).toHaveLength(4);
    for (const l of retired) expect(l).toMatch(new RegExp(`^\\d+: ${RETIRED_PREFIX}[a-z0-9]+@.*state DOWN`));
    // A real reaper handed one of them deletes all four (the group's line), counts the one it was given, and nothing else goes.
    const reaper = new VethReaper({ command: ["nsenter", `--net=${node.path}`, "ip", "-force", "-batch", "-"] });
    reaper.enqueue(/^\d+: ([a-z0-9]+)@/.exec(retired[0]!)![1]!);
    await reaper.idle();
    expect(reaper.failures).toEqual([]);
    expect(reaper.deleted).toBe(1);
    expect(inGroup()).toEqual([]);
    expect(nss.ip(node.name, ["-o", "link", "show"])).not.toContain(RETIRED_PREFIX);
    expect(pods.check(untouched).ok).toBe(true);
    pods.unwire(untouched);
    expect(podLeftovers()).toEqual([]);
  });

  test("IPv6 pod: fe80::1 gateway, address usable at once (no DAD)", () => {
    const a = pod(7, { address: "2001:db8::7" });
    const w = pods.wire(a);
    try {
      const addr = nss.ip(a.ns, ["-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"]);
      expect(addr).toContain("inet6 2001:db8::7/128");
      expect(addr).not.toContain("tentative");
      expect(nss.ip(a.ns, ["-6", "route"])).toContain("default via fe80::1 dev eth0");
      expect(nss.ip(a.ns, ["-6", "neigh"])).toContain(`fe80::1 dev eth0 lladdr ${w.hostMac} PERMANENT`);
      expect(nss.ip(node.name, ["-6", "rule"])).toContain("512:\tfrom all to 2001:db8::7 lookup main");
      expect(pods.check(a)).toEqual({ ok: true, problems: [] });
    } finally {
      pods.unwire(a);
    }
    expect(nss.ip(node.name, ["-6", "rule"])).not.toContain("2001:db8::7");
  });
});
