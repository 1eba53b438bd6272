/**
 * NetworkPolicy conformance on the local deployment, in the manner of the Kubernetes e2e suite
 * (test/e2e/network/netpol): namespaces x, y, z (labelled ns=<name>) with pods a, b, c
 * (labelled pod=<name>) serving TCP and UDP on 80 and 81 under named container ports
 * (serve-80-tcp, ...). For each policy set, the full truth table of which pod reaches which on
 * each port and protocol is probed for real from inside the pods (all 9 sources at once) and
 * polled until it equals the one the model (netpol/model.ts) computes from the same policies;
 * a mismatch prints both as grids. Standard mode on two nodes (pods on both), strict mode on
 * one. Prints each change's time to agreement.
 */
import { beforeAll, expect } from "bun:test";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import type { NetworkPolicy } from "./netpol/model.ts";
import { conformanceSuite, type ConformanceSuite } from "./netpol/suite.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl");

const np = (namespace: string, name: string, spec: NetworkPolicy["spec"]): NetworkPolicy => ({ metadata: { name, namespace }, spec });
const pod = (name: string) => ({ matchLabels: { pod: name } });
const ns = (name: string) => ({ matchLabels: { ns: name } });

/** The smallest IPv4 prefix holding every address. */
function coveringCidr(ips: string[]): string {
  const nums = ips.map((ip) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0));
  let bits = 32;
  while (bits > 0 && new Set(nums.map((n) => Math.floor(n / 2 ** (32 - bits)))).size > 1) bits--;
  const base = Math.floor(nums[0]! / 2 ** (32 - bits)) * 2 ** (32 - bits);
  return `${[24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join(".")}/${bits}`;
}

/** The strict suite's deployment starts alongside the standard one's (their start-ups overlap). */
let strictSuite: ConformanceSuite | undefined;

gate.describe("NetworkPolicy conformance, standard mode, 2 nodes (root)", () => {
  beforeAll(() => {
    // its failure is reported by the strict describe's own beforeAll, which awaits the same start
    strictSuite?.prepare().catch(() => undefined);
  });
  const s = conformanceSuite({ tag: "std", nodes: 2, mode: "standard" });
  const T = 60_000;

  gate.test("no policy: every pod reaches every pod on every port and protocol", async () => {
    await s.converge("no policy");
  }, T);

  gate.test("default deny ingress", async () => {
    await s.applyPolicies("default deny ingress", np("x", "deny-ingress", { podSelector: {}, policyTypes: ["Ingress"] }));
    await s.deleteAll();
  }, T);

  gate.test("default deny egress", async () => {
    await s.applyPolicies("default deny egress", np("x", "deny-egress", { podSelector: {}, policyTypes: ["Egress"] }));
    await s.deleteAll();
  }, T);

  gate.test("allow ingress from the same namespace only", async () => {
    await s.applyPolicies("same namespace", np("x", "same-ns", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: {} }] }] }));
    await s.deleteAll();
  }, T);

  gate.test("allow from another namespace by namespaceSelector", async () => {
    await s.applyPolicies("other namespace", np("x", "from-y", { podSelector: pod("a"), policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("y") }] }] }));
    await s.deleteAll();
  }, T);

  gate.test("podSelector alone (the policy's own namespace)", async () => {
    await s.applyPolicies("podSelector alone", np("y", "from-b", { podSelector: pod("a"), policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: pod("b") }] }] }));
    await s.deleteAll();
  }, T);

  gate.test("namespaceSelector and podSelector in one peer (AND) then in two peers (OR)", async () => {
    const peers = { namespaceSelector: { matchExpressions: [{ key: "ns", operator: "In" as const, values: ["y", "z"] }] }, podSelector: pod("c") };
    await s.applyPolicies("ns AND pod", np("x", "and", { podSelector: pod("a"), policyTypes: ["Ingress"], ingress: [{ from: [peers] }] }));
    await s.applyPolicies("ns OR pod (same policy replaced)", np("x", "and", { podSelector: pod("a"), policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: peers.namespaceSelector }, { podSelector: peers.podSelector }] }] }));
    await s.deleteAll();
  }, T);

  gate.test("ipBlock with except, ingress and egress", async () => {
    const ips = [...s.pods.values()].map((p) => p.ip);
    const cidr = coveringCidr(ips);
    const ip = (k: string) => `${s.pods.get(k)!.ip}/32`;
    await s.applyPolicies(
      `ipBlock ${cidr} except y/b, z/c`,
      np("x", "ipblock-in", { podSelector: pod("a"), policyTypes: ["Ingress"], ingress: [{ from: [{ ipBlock: { cidr, except: [ip("y/b"), ip("z/c")] } }] }] }),
      // one peer's except does not cancel another peer's allow (upstream's longest-prefix match would deny z/b → y/a)
      np("z", "ipblock-out", { podSelector: pod("b"), policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr, except: [ip("y/a"), ip("x/c")] } }, { ipBlock: { cidr: ip("y/a") } }] }] }),
      // nor one rule's except another rule's ports-only allow (upstream's DNS failure with such a pair)
      np("z", "except-and-ports", { podSelector: pod("a"), policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: [cidr] } }] }, { ports: [{ protocol: "UDP", port: 81 }] }] }),
    );
    await s.deleteAll();
  }, T);

  gate.test("ports only: one port and protocol, from anyone", async () => {
    await s.applyPolicies("port 81/TCP", np("x", "port-81", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ ports: [{ protocol: "TCP", port: 81 }] }] }));
    await s.deleteAll();
  }, T);

  gate.test("named ports: ingress by the target's port name, egress with no `to` and to an ipBlock", async () => {
    const cidr = coveringCidr([...s.pods.values()].map((p) => p.ip));
    await s.applyPolicies(
      "named ports",
      np("x", "named-in", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ protocol: "UDP", port: "serve-80-udp" }, { protocol: "TCP", port: "serve-81-tcp" }] }] }),
      np("y", "named-out", { podSelector: pod("b"), policyTypes: ["Egress"], egress: [{ ports: [{ protocol: "TCP", port: "serve-80-tcp" }] }] }),
      np("z", "named-out-block", { podSelector: pod("c"), policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr } }], ports: [{ protocol: "UDP", port: "serve-81-udp" }] }] }),
    );
    await s.deleteAll();
  }, T);

  gate.test("endPort ranges, TCP and UDP", async () => {
    await s.applyPolicies("endPort", np("z", "range", { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports: [{ protocol: "TCP", port: 70, endPort: 80 }, { protocol: "UDP", port: 81, endPort: 90 }] }] }));
    await s.deleteAll();
  }, T);

  gate.test("several policies at once: their union", async () => {
    await s.applyPolicies(
      "union",
      np("x", "deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
      np("x", "a-from-b", { podSelector: pod("a"), policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: pod("b") }], ports: [{ port: 80 }] }] }),
      np("x", "all-from-z", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("z") }], ports: [{ protocol: "UDP", port: 81 }] }] }),
      np("x", "b-out", { podSelector: pod("b"), policyTypes: ["Egress"], egress: [{ to: [{ namespaceSelector: {} , podSelector: pod("a") }] }] }),
      np("y", "c-out", { podSelector: pod("c"), policyTypes: ["Egress"], egress: [{ to: [{ namespaceSelector: ns("x") }] }] }),
    );
    await s.deleteAll();
  }, T);

  gate.test("a policy updated (its rule replaced) takes effect", async () => {
    await s.applyPolicies("before update", np("y", "upd", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("x") }] }] }));
    await s.applyPolicies("rule replaced", np("y", "upd", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("z") }], ports: [{ protocol: "UDP", port: 80 }] }] }));
    await s.deleteAll();
  }, T);

  gate.test("deleting policies restores every flow", async () => {
    await s.applyPolicies("deny all, every namespace", ...["x", "y", "z"].map((n) => np(n, "deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] })));
    const ms = await s.deleteAll("deny all deleted: all open");
    expect(ms).toBeLessThan(15_000);
  }, T);

  gate.test("a pod created after the policy is covered by it, as target and as peer", async () => {
    try {
      await s.applyPolicies(
        "policies before the pod",
        np("x", "from-y-d", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("y") }, { podSelector: pod("d") }] }] }),
        np("z", "to-d", { podSelector: pod("a"), policyTypes: ["Egress"], egress: [{ to: [{ namespaceSelector: {}, podSelector: pod("d") }] }] }),
      );
      await s.addPods(["x", "d", 1]);
    } finally {
      await s.removePod("x", "d");
    }
    await s.deleteAll();
  }, 90_000);
});

gate.describe("NetworkPolicy conformance, strict mode, 1 node (root)", () => {
  const s = conformanceSuite({ tag: "strict", nodes: 1, mode: "strict", namespaces: ["x", "y"], podNames: ["a", "b"] });
  strictSuite = s;
  const T = 60_000;

  gate.test("no policy: every pod is cut off both ways", async () => {
    await s.converge("strict, no policy");
    expect([...(await s.probeAll()).values()].some(Boolean)).toBe(false);
  }, T);

  gate.test("policies selecting pods: the matrix follows them; directions no policy names open; deleted: cut off again", async () => {
    await s.applyPolicies(
      "strict, x ingress from y, y egress anywhere",
      np("x", "from-y", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("y") }] }] }),
      np("y", "out", { podSelector: {}, policyTypes: ["Egress"], egress: [{}] }),
    );
    await s.applyPolicies("strict, x/a only, port 81", np("x", "from-y", { podSelector: pod("a"), policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: ns("y") }], ports: [{ port: 81 }, { protocol: "UDP", port: 81 }] }] }));
    await s.deleteAll("strict, deleted: cut off");
  }, T);

  gate.test("a pod created in a namespace whose policy selects it follows the policy; one no policy selects stays cut off", async () => {
    try {
      await s.applyPolicies("strict, y open both ways", np("y", "open", { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{}], egress: [{}] }));
      await s.addPods(["y", "c", 0], ["x", "c", 0]);
    } finally {
      await Promise.all([s.removePod("y", "c"), s.removePod("x", "c")]);
    }
    await s.deleteAll("strict, deleted");
  }, 90_000);
});
