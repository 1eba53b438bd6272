// The agent's compact store and cached resolver against resolve.ts's resolveNode: same states, shared where alike, reused when unchanged.
import { describe, expect, test } from "bun:test";
import type { NodePolicyState, PolicyEndpoint, PolicyEndpointSpec } from "../../../../shared/contracts/policy.ts";
import { EndpointStore } from "./endpoint-store.ts";
import { NodeResolver } from "./resolve-cache.ts";
import { resolveNode, type LocalPod } from "./resolve.ts";

const NODE = ["10.0.0.10", "fd00::10"];
const web: LocalPod = { namespace: "app", name: "web-1", hostVeth: "eni1111", addresses: ["10.0.1.5"] };
const db: LocalPod = { namespace: "app", name: "db-0", hostVeth: "eni2222", addresses: ["10.0.1.6"] };
const dual: LocalPod = { namespace: "app", name: "dual", hostVeth: "eni3333", addresses: ["10.0.1.7", "fd00::1:7"] };
const other: LocalPod = { namespace: "ops", name: "web-1", hostVeth: "eni4444", addresses: ["10.0.1.8"] };
const PODS = [web, db, dual, other];

function pe(name: string, spec: Partial<PolicyEndpointSpec> & { selects?: Array<{ name: string; namespace: string; podIP: string; hostIP?: string }> }): PolicyEndpoint {
  const { selects = [], ...rest } = spec;
  return {
    metadata: { name, namespace: "app" },
    spec: { policyRef: { name, namespace: "app" }, podSelectorEndpoints: selects.map((s) => ({ hostIP: "10.0.0.10", ...s })), ...rest },
  };
}
const sel = (p: LocalPod, i = 0) => ({ name: p.name, namespace: p.namespace, podIP: p.addresses[i]! });

const policies: PolicyEndpoint[] = [
  pe("a", { selects: [sel(web), sel(db), sel(dual), sel(dual, 1)], podIsolation: ["Ingress"], ingress: [{ cidr: "10.0.2.7", ports: [{ port: 80 }] }, { cidr: "fd00::2:0/112" }] }),
  pe("b", { selects: [sel(web), sel(db)], podIsolation: ["Ingress", "Egress"], egress: [{ cidr: "0.0.0.0/0", except: ["10.0.0.0/8"], ports: [{ protocol: "UDP", port: 53 }] }] }),
  // the right name on another node, an old address, a host-network entry: none selects
  pe("c", { selects: [{ ...sel(other), hostIP: "10.0.0.99" }, { ...sel(other), podIP: "10.0.1.99" }, { ...sel(other), podIP: "10.0.0.10" }], podIsolation: ["Egress"] }),
  // addresses written uncanonically still select
  pe("d", { selects: [{ name: "dual", namespace: "app", podIP: "fd00:0::1:7", hostIP: "fd00:0:0::10" }], podIsolation: ["Egress"], egress: [{ cidr: "fd00::/64", ports: [{ protocol: "TCP", port: 443, endPort: 445 }] }] }),
];

function storeOf(list: readonly PolicyEndpoint[]): EndpointStore {
  const s = new EndpointStore();
  for (const p of list) s.put(structuredClone(p));
  return s;
}

/** States compared as sets of rules (the cached resolver may list a pod's rules in another order). */
function normalized(state: NodePolicyState): unknown {
  const dir = (d: NodePolicyState["pods"][number]["ingress"]) => (d.kind === "rules" ? { kind: "rules", rules: d.rules.map((r) => JSON.stringify(r)).sort() } : d);
  return { ...state, pods: state.pods.map((p) => ({ ...p, ingress: dir(p.ingress), egress: dir(p.egress) })) };
}

describe("the compact store", () => {
  test("each selected pod is one shared entry with canonical addresses; everything else as given", () => {
    const store = storeOf(policies);
    const [a, b] = [store.list()[0]!, store.list()[1]!];
    expect(a.spec.podSelectorEndpoints![0]).toBe(b.spec.podSelectorEndpoints![0]!);
    expect(Object.isFrozen(a.spec.podSelectorEndpoints![0])).toBe(true);
    const d = store.list()[3]!.spec.podSelectorEndpoints![0]!;
    expect([d.podIP, d.hostIP, d.key]).toEqual(["fd00::1:7", "fd00::10", "app/dual"]);
    expect({ ...a, spec: { ...a.spec, podSelectorEndpoints: undefined } }).toEqual({ ...policies[0]!, spec: { ...policies[0]!.spec, podSelectorEndpoints: undefined } });
  });
  test("every put is a new version; replace keeps only what `keep` accepts; delete", () => {
    const store = storeOf(policies);
    const first = store.idOf(store.list()[0]!);
    store.put(structuredClone(policies[0]!));
    expect(store.idOf(store.list()[0]!)).toBeGreaterThan(first);
    expect(store.list().map((p) => p.metadata.name)).toEqual(["a", "b", "c", "d"]);
    store.replace(policies, (p) => p.metadata.name !== "c");
    expect(store.list().map((p) => p.metadata.name)).toEqual(["a", "b", "d"]);
    expect(store.delete("app/a")).toBe(true);
    expect([store.has("app/a"), store.size]).toEqual([false, 2]);
  });
});

describe("the cached resolver", () => {
  for (const mode of ["standard", "strict"] as const) {
    test(`${mode}: the same states as resolveNode`, () => {
      const store = storeOf(policies);
      const got = new NodeResolver(store, mode).resolve(PODS, NODE);
      expect(normalized(got)).toEqual(normalized(resolveNode(policies, PODS, NODE, mode)));
      expect(got.pods.find((p) => p.name === "dual")!.egress.kind).toBe("rules");
      expect(got.pods.find((p) => p.namespace === "ops")!.egress).toEqual(mode === "strict" ? { kind: "deny" } : { kind: "open" });
    });
  }

  test("pods selected alike share their direction states; unchanged pods keep their objects", () => {
    const store = storeOf(policies);
    const r = new NodeResolver(store, "standard");
    const first = r.resolve(PODS, NODE);
    const [w, d] = [first.pods.find((p) => p.name === "web-1" && p.namespace === "app")!, first.pods.find((p) => p.name === "db-0")!];
    expect(w.ingress).toBe(d.ingress);
    expect(w.egress).toBe(d.egress);
    const again = r.resolve(PODS, NODE);
    again.pods.forEach((p, i) => expect(p).toBe(first.pods[i]!));
  });

  test("a PolicyEndpoint change re-resolves the pods it selects, and only those", () => {
    const store = storeOf(policies);
    const r = new NodeResolver(store, "standard");
    const first = r.resolve(PODS, NODE);
    const changed = structuredClone(policies[3]!);
    changed.spec.egress = [{ cidr: "fd00::/64", ports: [{ protocol: "TCP", port: 8443 }] }];
    store.put(changed);
    const next = r.resolve(PODS, NODE);
    const byName = (s: NodePolicyState, n: string) => s.pods.find((p) => p.name === n && p.namespace === "app")!;
    expect(byName(next, "web-1")).toBe(byName(first, "web-1"));
    expect(byName(next, "db-0")).toBe(byName(first, "db-0"));
    expect(byName(next, "dual")).not.toBe(byName(first, "dual"));
    expect(byName(next, "dual").egress).toEqual({ kind: "rules", rules: [{ cidr: "fd00::/64", except: [], ports: [{ protocol: "TCP", port: 8443 }] }] });
    expect(normalized(next)).toEqual(normalized(resolveNode([...policies.slice(0, 3), changed], PODS, NODE, "standard")));
  });

  test("a pod that takes another address, or a deleted policy, changes that pod's state", () => {
    const store = storeOf(policies);
    const r = new NodeResolver(store, "standard");
    r.resolve(PODS, NODE);
    const moved = { ...db, addresses: ["10.0.1.66"] }; // a new pod of the same name: the policies name the old address
    const s = r.resolve([web, moved, dual, other], NODE);
    expect(s.pods.find((p) => p.name === "db-0")!).toMatchObject({ addresses: ["10.0.1.66"], ingress: { kind: "open" }, egress: { kind: "open" } });
    store.delete("app/b");
    const w = r.resolve(PODS, NODE).pods.find((p) => p.name === "web-1" && p.namespace === "app")!;
    expect(w.egress).toEqual({ kind: "open" });
    expect(w.ingress.kind).toBe("rules");
  });

  test("the node's addresses unknown: nothing is selected", () => {
    const s = new NodeResolver(storeOf(policies), "strict").resolve(PODS, []);
    expect(s.pods.every((p) => p.ingress.kind === "deny" && p.egress.kind === "deny")).toBe(true);
  });
});
