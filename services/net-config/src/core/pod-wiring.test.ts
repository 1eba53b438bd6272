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
});
