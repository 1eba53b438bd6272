import { describe, expect, test } from "bun:test";
import { planUnwire, planWire, podLayout } from "./pod-wiring.ts";
import { DEFAULT_SETTINGS } from "./settings.ts";

const req = { containerId: "c1", ifName: "eth0", netns: "/proc/123/ns/net", podNamespace: "default", podName: "web", address: "10.0.1.5", routeTable: 254 };

describe("pod wiring plan", () => {
  test("host veth named as upstream; no 1536 rule for the main table", () => {
    const l = podLayout(req, DEFAULT_SETTINGS);
    expect(l.hostVeth).toMatch(/^eni[0-9a-f]{11}$/);
    expect(l.rules).toEqual([{ family: 4, priority: 512, table: 254, dst: "10.0.1.5/32" }]);
  });

  test("IPv6: fe80::1 gateway, accept_dad off before the address, address added without DAD", () => {
    const { steps } = planWire({ ...req, address: "2001:db8::5" }, DEFAULT_SETTINGS, "02:00:00:00:00:01");
    const ops = steps.map((s) => s.op);
    const dad = ops.findIndex((o) => o.op === "sysctl" && o.key.endsWith("/accept_dad"));
    const addr = ops.findIndex((o) => o.op === "addr.add");
    expect(dad).toBeGreaterThan(-1);
    expect(dad).toBeLessThan(addr);
    expect(ops[addr]).toMatchObject({ nodad: true, addr: { cidr: "2001:db8::5/128" } });
    expect(ops).toContainEqual({ op: "neigh.replace", neigh: { family: 6, dev: "eth0", ip: "fe80::1", mac: "02:00:00:00:00:01" } });
  });

  test.each([
    ["netns", { netns: "/tmp/ns" }],
    ["netns", { netns: "/proc/1/../1/ns/net" }],
    ["ifName", { ifName: "a/b" }],
    ["address", { address: "10.0.1.5/32" }],
    ["routeTable", { routeTable: 0 }],
  ])("bad %s is refused naming the field", (field, bad) => {
    expect(() => planWire({ ...req, ...bad }, DEFAULT_SETTINGS, "02:00:00:00:00:01")).toThrow(expect.objectContaining({ field }));
  });

  test("unwire accepts an empty netns (the pod's namespace is gone) and deletes the from-rule of any table", () => {
    const { steps } = planUnwire({ ...req, netns: "" }, DEFAULT_SETTINGS);
    expect(steps.every((s) => s.side === "node")).toBe(true);
    expect(steps[1]?.op).toMatchObject({ op: "rule.del", rule: { priority: 1536, table: 0 } });
  });

  test("a multi-homed pod's interface n (ENABLE_MULTI_NIC): host veth of <ns>.<pod>.<n>, gateway 169.254.1.<n+1>, pod table n and rule 1, host rules to the card's table", () => {
    const card1 = { ...req, ifName: "mNicIf1", address: "10.1.0.5", routeTable: 10100, index: 1 };
    const l = podLayout(card1, DEFAULT_SETTINGS);
    expect(l.hostVeth).toBe(podLayout({ ...req, podName: "web.1" }, DEFAULT_SETTINGS).hostVeth);
    expect(l.hostVeth).not.toBe(podLayout(req, DEFAULT_SETTINGS).hostVeth);
    expect(l.gateway).toBe("169.254.1.2");
    expect(l.podRoutes).toEqual([
      { family: 4, dst: "169.254.1.2/32", dev: "mNicIf1", scope: "link", table: 1 },
      { family: 4, dst: "default", gateway: "169.254.1.2", dev: "mNicIf1", scope: "universe", table: 1 },
    ]);
    expect(l.podRules).toEqual([{ family: 4, priority: 1, table: 1, src: "10.1.0.5/32" }]);
    expect(l.rules).toEqual([
      { family: 4, priority: 512, table: 254, dst: "10.1.0.5/32" },
      { family: 4, priority: 1536, table: 10100, src: "10.1.0.5/32" },
    ]);
    const ops = planWire(card1, DEFAULT_SETTINGS, "02:00:00:00:00:01").steps.filter((s) => s.side === "pod").map((s) => s.op.op);
    expect(ops.indexOf("rule.add")).toBeGreaterThan(-1);
    expect(podLayout(req, DEFAULT_SETTINGS).podRules).toEqual([]);
    expect(podLayout({ ...card1, address: "2001:db8::5", index: 10 }, DEFAULT_SETTINGS).gateway).toBe("fe80::b");
  });

  test.each([[-1], [32], [1.5]])("index %p is refused naming the field", (index) => {
    expect(() => podLayout({ ...req, index }, DEFAULT_SETTINGS)).toThrow(expect.objectContaining({ field: "index" }));
  });
});
