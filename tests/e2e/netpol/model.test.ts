// The conformance suite's NetworkPolicy model, checked against hand-worked cases so that a
// wrong model cannot turn a wrong enforcement into a pass.
import { describe, expect, test } from "bun:test";
import { allowed, inCidr, policyTypes, selects, type ModelPod, type NetworkPolicy, type World } from "./model.ts";
import { allProbes, differences, expectedMatrix, grid, probeKey } from "./truth-table.ts";

const pod = (namespace: string, name: string, ip: string): ModelPod => ({
  namespace,
  name,
  labels: { pod: name },
  ip,
  ports: [
    { name: "serve-80-tcp", containerPort: 80, protocol: "TCP" },
    { name: "serve-80-udp", containerPort: 80, protocol: "UDP" },
    { name: "serve-81-tcp", containerPort: 81, protocol: "TCP" },
  ],
});
const pods = [pod("x", "a", "10.0.1.1"), pod("x", "b", "10.0.1.2"), pod("y", "a", "10.0.2.1"), pod("y", "b", "10.0.2.2")];
const namespaces = { x: { ns: "x" }, y: { ns: "y" } };
const np = (namespace: string, spec: NetworkPolicy["spec"]): NetworkPolicy => ({ metadata: { name: "p", namespace }, spec });
const world = (...policies: NetworkPolicy[]): World => ({ pods, namespaces, policies });
const can = (w: World, from: string, to: string, port = 80, protocol: "TCP" | "UDP" = "TCP") => allowed(w, { from, to, port, protocol });

describe("NetworkPolicy model", () => {
  test("label selectors: matchLabels and each matchExpressions operator; {} selects all", () => {
    expect(selects({}, {})).toBe(true);
    expect(selects({ matchLabels: { a: "1" } }, { a: "1", b: "2" })).toBe(true);
    expect(selects({ matchLabels: { a: "1" } }, { a: "2" })).toBe(false);
    expect(selects({ matchExpressions: [{ key: "a", operator: "In", values: ["1", "2"] }] }, { a: "2" })).toBe(true);
    expect(selects({ matchExpressions: [{ key: "a", operator: "In", values: ["1"] }] }, {})).toBe(false);
    expect(selects({ matchExpressions: [{ key: "a", operator: "NotIn", values: ["1"] }] }, {})).toBe(true);
    expect(selects({ matchExpressions: [{ key: "a", operator: "Exists" }] }, { a: "" })).toBe(true);
    expect(selects({ matchExpressions: [{ key: "a", operator: "DoesNotExist" }] }, { a: "" })).toBe(false);
  });

  test("CIDR membership and policyTypes defaulting", () => {
    expect(inCidr("10.0.1.2", "10.0.0.0/16")).toBe(true);
    expect(inCidr("10.1.1.2", "10.0.0.0/16")).toBe(false);
    expect(inCidr("10.0.1.2", "10.0.1.2/32")).toBe(true);
    expect(inCidr("192.168.0.1", "0.0.0.0/0")).toBe(true);
    expect(() => inCidr("10.0.0.1", "10.0.0.0/33")).toThrow("CIDR");
    expect(policyTypes(np("x", { podSelector: {} }))).toEqual(["Ingress"]);
    expect(policyTypes(np("x", { podSelector: {}, egress: [{}] }))).toEqual(["Ingress", "Egress"]);
    expect(policyTypes(np("x", { podSelector: {}, policyTypes: ["Egress"] }))).toEqual(["Egress"]);
  });

  test("no policy: everything reaches everything; strict: nothing does until a policy selects the pod", () => {
    expect(can(world(), "y/b", "x/a")).toBe(true);
    expect(can({ ...world(), strict: true }, "y/b", "x/a")).toBe(false);
    // x/a selected by an egress-only policy that allows all egress: its ingress opens too, x/b stays shut
    const open = np("x", { podSelector: { matchLabels: { pod: "a" } }, policyTypes: ["Egress"], egress: [{}] });
    const strict = { ...world(open), strict: true };
    expect(can(strict, "x/a", "x/b")).toBe(false); // x/b's ingress: denied (not selected)
    expect(strict.pods.length).toBe(4);
    const both = { ...world(open, { ...open, metadata: { name: "q", namespace: "x" }, spec: { ...open.spec, podSelector: { matchLabels: { pod: "b" } } } }), strict: true };
    expect(can(both, "x/a", "x/b")).toBe(true);
    expect(can(both, "y/a", "x/b")).toBe(false); // y/a not selected: its egress is denied
  });

  test("default deny ingress in x: x's pods reach nobody in x, but still reach y; y reaches nobody in x", () => {
    const w = world(np("x", { podSelector: {}, policyTypes: ["Ingress"] }));
    expect(can(w, "x/a", "x/b")).toBe(false);
    expect(can(w, "y/a", "x/b")).toBe(false);
    expect(can(w, "x/a", "y/b")).toBe(true);
    expect(can(w, "y/a", "y/b")).toBe(true);
  });

  test("namespaceSelector AND podSelector in one peer vs two peers (OR)", () => {
    const and = world(np("x", { podSelector: { matchLabels: { pod: "a" } }, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } }, podSelector: { matchLabels: { pod: "b" } } }] }] }));
    expect([can(and, "y/b", "x/a"), can(and, "y/a", "x/a"), can(and, "x/b", "x/a")]).toEqual([true, false, false]);
    const or = world(np("x", { podSelector: { matchLabels: { pod: "a" } }, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }, { podSelector: { matchLabels: { pod: "b" } } }] }] }));
    // y/* by the first peer; x/b by the second (podSelector alone = the policy's namespace)
    expect([can(or, "y/b", "x/a"), can(or, "y/a", "x/a"), can(or, "x/b", "x/a")]).toEqual([true, true, true]);
  });

  test("ipBlock with except; ports, named ports (the target's, by protocol) and endPort", () => {
    const block = world(np("x", { podSelector: { matchLabels: { pod: "a" } }, policyTypes: ["Ingress"], ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/16", except: ["10.0.2.0/24"] } }] }] }));
    expect([can(block, "x/b", "x/a"), can(block, "y/a", "x/a")]).toEqual([true, false]);
    const named = world(np("x", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ ports: [{ protocol: "UDP", port: "serve-80-udp" }, { port: "serve-81-tcp" }] }] }));
    expect([can(named, "y/a", "x/a", 80, "UDP"), can(named, "y/a", "x/a", 80, "TCP"), can(named, "y/a", "x/a", 81, "TCP"), can(named, "y/a", "x/a", 81, "UDP")]).toEqual([true, false, true, false]);
    const range = world(np("y", { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports: [{ protocol: "TCP", port: 79, endPort: 80 }] }] }));
    expect([can(range, "y/a", "x/a", 80), can(range, "y/a", "x/a", 81), can(range, "y/a", "x/a", 80, "UDP")]).toEqual([true, false, false]);
  });

  test("several policies selecting one pod: their rules are unioned", () => {
    const p1 = np("x", { podSelector: { matchLabels: { pod: "a" } }, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: { pod: "b" } } }], ports: [{ port: 80 }] }] });
    const p2 = { metadata: { name: "q", namespace: "x" }, spec: { podSelector: {}, policyTypes: ["Ingress" as const], ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }], ports: [{ port: 81 }] }] } };
    const w = world(p1, p2);
    expect([can(w, "x/b", "x/a", 80), can(w, "x/b", "x/a", 81), can(w, "y/a", "x/a", 81), can(w, "y/a", "x/a", 80), can(w, "x/a", "x/b", 81)]).toEqual([true, false, true, false, false]);
  });

  test("truth tables: every pair but self, the grid marks differing cells", () => {
    const names = pods.map((p) => `${p.namespace}/${p.name}`);
    const probes = allProbes(names, [{ port: 80, protocol: "TCP" }]);
    expect(probes.length).toBe(12);
    const want = expectedMatrix(world(np("x", { podSelector: {}, policyTypes: ["Ingress"] })), probes);
    const got = new Map(want);
    got.set(probeKey({ from: "y/a", to: "x/a", port: 80, protocol: "TCP" }), true);
    expect(differences(want, got)).toEqual(["y/a>x/a:80/TCP: expected denied, got allowed"]);
    const text = grid(got, names, [{ port: 80, protocol: "TCP" }], want);
    expect(text.split("\n")[4]).toBe("y/a [.]  X   -   .  ");
  });
});
