// The mirror's bookkeeping against an in-memory port that keeps state like the kernel would.
import { expect, test } from "bun:test";
import type { EniLinkRef, EniLinkSpec } from "./fabric.ts";
import { EniMirror, type EniLinkPort } from "./mirror.ts";
import { routerEniLink } from "./names.ts";

class MemoryLinks implements EniLinkPort {
  links = new Map<string, EniLinkSpec>();
  routes = new Map<string, string>();
  gateways = new Set<string>();
  failNextAttach = false;
  async addSubnetGateway(g: string) {
    this.gateways.add(g);
  }
  async attachEni(spec: EniLinkSpec) {
    await Bun.sleep(1); // a slow kernel must not reorder anything
    if (this.failNextAttach) {
      this.failNextAttach = false;
      throw new Error("RTNETLINK answers: File exists");
    }
    const key = routerEniLink(spec.nodeIndex, spec.deviceIndex, spec.networkCard);
    this.links.set(key, spec);
    return key;
  }
  async detachEni(nodeIndex: number, deviceIndex: number, networkCard?: number) {
    const key = routerEniLink(nodeIndex, deviceIndex, networkCard);
    this.links.delete(key);
    for (const [cidr, link] of this.routes) if (link === key) this.routes.delete(cidr);
  }
  async routeToEni(eni: EniLinkRef, cidr: string) {
    const key = routerEniLink(eni.nodeIndex, eni.deviceIndex, eni.networkCard);
    if (!this.links.has(key)) throw new Error("Cannot find device");
    this.routes.set(cidr, key);
  }
  async unrouteFromEni(_eni: EniLinkRef, cidr: string) {
    this.routes.delete(cidr);
  }
}

const silent = { info() {}, error() {} };
const attached = (eniId: string, instanceId: string, deviceIndex: number, primaryIp: string) => ({
  eniId, instanceId, deviceIndex, mac: "02:00:00:00:00:01", primaryIp, subnetId: "subnet-1", subnetCidr: "10.0.0.0/19",
});

test("events are applied in order; attach → assign → unassign → detach leaves no link or route", async () => {
  const port = new MemoryLinks();
  const m = new EniMirror(port, silent);
  m.registerInstance("i-1", 1);
  m.eniAttached(attached("eni-1", "i-1", 0, "10.0.0.10"));
  m.addressesAssigned({ eniId: "eni-1", instanceId: "i-1", mac: "x", cidrs: ["10.0.0.20/32", "10.0.1.16/28"] });
  await m.idle();
  expect(port.links.get("n1-eth0")?.configure).toEqual({ prefixLen: 19, gateway: "10.0.0.1" });
  expect(port.gateways).toEqual(new Set(["10.0.0.1"]));
  expect(Object.fromEntries(port.routes)).toEqual({ "10.0.0.20/32": "n1-eth0", "10.0.1.16/28": "n1-eth0" });
  m.eniAttached(attached("eni-2", "i-1", 1, "10.0.0.11"));
  m.addressesUnassigned({ eniId: "eni-1", instanceId: "i-1", mac: "x", cidrs: ["10.0.0.20/32"] });
  m.eniDetached({ eniId: "eni-1", instanceId: "i-1", mac: "x" });
  await m.idle();
  expect([...port.links.keys()]).toEqual(["n1-eth1"]);
  expect(port.links.get("n1-eth1")?.configure).toBeUndefined();
  expect(port.routes.size).toBe(0);
  expect(m.snapshot()).toEqual([{ eniId: "eni-2", nodeIndex: 1, deviceIndex: 1, primaryIp: "10.0.0.11", cidrs: [] }]);
  expect(m.failures).toEqual([]);
});

test("events of an instance not registered yet are held and replayed at registration", async () => {
  const port = new MemoryLinks();
  const m = new EniMirror(port, silent);
  m.eniAttached(attached("eni-1", "i-9", 0, "10.0.0.10"));
  m.addressesAssigned({ eniId: "eni-1", instanceId: "i-9", mac: "x", cidrs: ["10.0.0.21/32"] });
  await m.idle();
  expect(port.links.size).toBe(0);
  m.registerInstance("i-9", 4);
  await m.idle();
  expect([...port.links.keys()]).toEqual(["n4-eth0"]);
  expect(port.routes.get("10.0.0.21/32")).toBe("n4-eth0");
});

test("a failed job is recorded and later jobs still run; addresses of an unattached ENI are ignored", async () => {
  const port = new MemoryLinks();
  const m = new EniMirror(port, silent);
  m.registerInstance("i-1", 0);
  port.failNextAttach = true;
  m.eniAttached(attached("eni-1", "i-1", 1, "10.0.0.10"));
  m.addressesAssigned({ eniId: "eni-1", instanceId: "i-1", mac: "x", cidrs: ["10.0.0.22/32"] });
  m.addressesAssigned({ eniId: "eni-3", instanceId: null, mac: "x", cidrs: ["10.0.0.23/32"] });
  m.eniAttached(attached("eni-2", "i-1", 2, "10.0.0.12"));
  await m.idle();
  expect(m.failures.map((f) => [f.event, f.eniId])).toEqual([
    ["eniAttached", "eni-1"],
    ["addressesAssigned", "eni-1"],
  ]);
  expect([...port.links.keys()]).toEqual(["n0-eth2"]);
  expect(port.routes.size).toBe(0);
});

test("an ENI on network card 1 gets a link of its own beside card 0's same device index; one without an address (efa-only) gets none", async () => {
  const port = new MemoryLinks();
  const m = new EniMirror(port, silent);
  m.registerInstance("i-1", 1);
  m.eniAttached(attached("eni-1", "i-1", 1, "10.0.0.10"));
  m.eniAttached({ ...attached("eni-2", "i-1", 1, "10.0.0.11"), networkCardIndex: 1 });
  m.eniAttached(attached("eni-3", "i-1", 2, ""));
  m.eniAttached({ ...attached("eni-4", "i-1", 0, "10.0.0.12"), networkCardIndex: 1 });
  m.addressesAssigned({ eniId: "eni-2", instanceId: "i-1", mac: "x", cidrs: ["10.0.0.30/32"] });
  m.addressesAssigned({ eniId: "eni-3", instanceId: "i-1", mac: "x", cidrs: ["10.0.0.31/32"] });
  await m.idle();
  expect([...port.links.keys()].sort()).toEqual(["n1-c1e0", "n1-c1e1", "n1-eth1"]);
  expect(port.links.get("n1-eth1")?.primaryIp).toBe("10.0.0.10");
  expect(port.links.get("n1-c1e1")).toMatchObject({ primaryIp: "10.0.0.11", networkCard: 1, deviceIndex: 1 });
  // Card 1's device 0 is not the node's own interface: no DHCP-like configuration.
  expect(port.links.get("n1-c1e0")?.configure).toBeUndefined();
  expect([...port.routes]).toEqual([["10.0.0.30/32", "n1-c1e1"]]);
  m.eniDetached({ eniId: "eni-2", instanceId: "i-1", mac: "x" });
  await m.idle();
  expect([...port.links.keys()].sort()).toEqual(["n1-c1e0", "n1-eth1"]);
  expect(port.routes.size).toBe(0);
  expect(m.snapshot().map((e) => [e.eniId, e.networkCard ?? 0, e.deviceIndex])).toEqual([["eni-1", 0, 1], ["eni-4", 1, 0]]);
  expect(m.failures).toEqual([]);
});

test("the follower runs once per burst of state changes, after the link jobs queued before it, and idle() waits for it", async () => {
  const port = new MemoryLinks();
  const m = new EniMirror(port, silent, 10);
  const seen: string[][] = [];
  let runs = 0;
  m.follow({
    async sync(links) {
      runs++;
      seen.push([...links.keys()]);
    },
  });
  await m.idle();
  expect(seen).toEqual([[]]);
  m.registerInstance("i-1", 1);
  m.eniAttached(attached("eni-1", "i-1", 0, "10.0.0.10"));
  m.stateChanged();
  m.eniAttached(attached("eni-2", "i-1", 1, "10.0.0.11"));
  m.stateChanged();
  m.stateChanged();
  await m.idle();
  expect(runs).toBe(2);
  expect(seen[1]).toEqual(["eni-1", "eni-2"]);
  expect(m.failures).toEqual([]);
});

test("a failing follower is recorded like a failed job; the next change runs it again", async () => {
  const port = new MemoryLinks();
  const m = new EniMirror(port, silent, 5);
  let fail = true;
  let ok = 0;
  m.follow({
    async sync() {
      if (fail) throw new Error("nft: syntax error");
      ok++;
    },
  });
  await m.idle();
  expect(m.failures.map((f) => [f.event, f.error])).toEqual([["stateChanged", "nft: syntax error"]]);
  fail = false;
  m.stateChanged();
  await m.idle();
  expect(ok).toBe(1);
});

test("unfollow drops a pending run and idle() still resolves", async () => {
  const m = new EniMirror(new MemoryLinks(), silent, 50);
  let runs = 0;
  m.follow({ async sync() { runs++; } });
  m.unfollow();
  await m.idle();
  m.stateChanged();
  await m.idle();
  expect(runs).toBe(0);
});
