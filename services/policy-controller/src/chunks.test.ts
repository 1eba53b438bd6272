// Splitting over PolicyEndpoint objects: 200 per list per object, keep/fill/create/delete,
// one object kept for a policy selecting nothing, unchanged specs not written.
import { describe, expect, test } from "bun:test";
import type { EndpointInfo, PodEndpoint, PolicyEndpointSpec } from "../../../shared/contracts/policy.ts";
import { planChunks, sameSpec, type SpecHeader } from "./chunks.ts";

const header: SpecHeader = { policyRef: { name: "np", namespace: "default" }, podSelector: {}, podIsolation: ["Ingress"] };
const pods = (from: number, count: number): PodEndpoint[] => Array.from({ length: count }, (_, i) => ({ hostIP: "10.0.0.10", podIP: `10.1.${(from + i) >> 8}.${(from + i) & 255}`, name: `p${from + i}`, namespace: "default" }));
const peers = (from: number, count: number): EndpointInfo[] => Array.from({ length: count }, (_, i) => ({ cidr: `10.2.${(from + i) >> 8}.${(from + i) & 255}`, ports: [] }));
const wanted = (o: { pods?: PodEndpoint[]; ingress?: EndpointInfo[]; egress?: EndpointInfo[] }) => ({ podSelectorEndpoints: o.pods ?? [], ingress: o.ingress ?? [], egress: o.egress ?? [] });

describe("planChunks", () => {
  test("a new policy: 450 pods and 250 ingress peers become three objects of at most 200 per list", () => {
    const plan = planChunks(header, wanted({ pods: pods(0, 450), ingress: peers(0, 250) }), []);
    expect(plan.update).toEqual([]);
    expect(plan.delete).toEqual([]);
    expect(plan.create.map((s) => [s.podSelectorEndpoints?.length ?? 0, s.ingress?.length ?? 0])).toEqual([[200, 200], [200, 50], [50, 0]]);
    for (const spec of plan.create) expect(spec.policyRef).toEqual(header.policyRef);
    expect(new Set(plan.create.flatMap((s) => s.podSelectorEndpoints!.map((p) => p.name))).size).toBe(450);
  });

  test("a policy selecting nothing keeps exactly one object", () => {
    const plan = planChunks(header, wanted({}), []);
    expect(plan.create).toEqual([{ ...header }]);
    const existing = [{ name: "np-a", spec: { ...header, podSelectorEndpoints: pods(0, 3) } }, { name: "np-b", spec: { ...header, podSelectorEndpoints: pods(3, 3) } }];
    const emptied = planChunks(header, wanted({}), existing);
    expect(emptied).toEqual({ create: [], update: [{ name: "np-a", spec: { ...header } }], delete: ["np-b"] });
  });

  test("keep and fill: entries stay where they are, stale ones go, new ones fill free room before any object is created", () => {
    const existing = [
      { name: "np-a", spec: { ...header, podSelectorEndpoints: pods(0, 200) } },
      { name: "np-b", spec: { ...header, podSelectorEndpoints: pods(200, 100) } },
    ];
    // p0..p9 gone, 60 new ones (p300..p359): 10 fill np-a, 50 go to np-b (which then holds 150)
    const plan = planChunks(header, wanted({ pods: [...pods(10, 290), ...pods(300, 60)] }), existing);
    expect(plan.create).toEqual([]);
    expect(plan.delete).toEqual([]);
    const a = plan.update.find((u) => u.name === "np-a")!.spec.podSelectorEndpoints!;
    const b = plan.update.find((u) => u.name === "np-b")!.spec.podSelectorEndpoints!;
    expect(a.length).toBe(200);
    expect(a.slice(0, 190)).toEqual(pods(10, 190));
    expect(a.slice(190)).toEqual(pods(300, 10));
    expect(b).toEqual([...pods(200, 100), ...pods(310, 50)]);
  });

  test("more than fits: the remainder creates new objects; an object left empty is deleted", () => {
    const existing = [
      { name: "np-a", spec: { ...header, podSelectorEndpoints: pods(0, 200) } },
      { name: "np-b", spec: { ...header, ingress: peers(0, 5) } },
    ];
    const plan = planChunks(header, wanted({ pods: pods(0, 450) }), existing);
    // np-b's ingress is stale but it has room for 200 pods
    expect(plan.delete).toEqual([]);
    expect(plan.update.map((u) => [u.name, u.spec.podSelectorEndpoints?.length, u.spec.ingress?.length])).toEqual([["np-b", 200, undefined]]);
    expect(plan.create.map((s) => s.podSelectorEndpoints?.length)).toEqual([50]);
    const shrink = planChunks(header, wanted({ pods: pods(0, 10) }), [...existing, { name: "np-c", spec: { ...header, podSelectorEndpoints: pods(200, 50) } }]);
    expect(shrink.delete.sort()).toEqual(["np-b", "np-c"]);
    expect(shrink.update.map((u) => [u.name, u.spec.podSelectorEndpoints?.length])).toEqual([["np-a", 10]]);
  });

  test("an unchanged spec is not written, whatever the key order it was read back in", () => {
    const spec: PolicyEndpointSpec = { ...header, podSelectorEndpoints: pods(0, 2), ingress: [{ cidr: "10.0.0.0/8", except: ["10.1.0.0/16"], ports: [{ protocol: "TCP", port: 80 }] }] };
    const readBack = JSON.parse(JSON.stringify({ ingress: spec.ingress, podIsolation: spec.podIsolation, podSelectorEndpoints: spec.podSelectorEndpoints, policyRef: spec.policyRef, podSelector: {} }));
    expect(sameSpec(spec, readBack)).toBe(true);
    const plan = planChunks(header, wanted({ pods: pods(0, 2), ingress: spec.ingress }), [{ name: "np-a", spec: readBack }]);
    expect(plan).toEqual({ create: [], update: [], delete: [] });
  });

  test("a changed header (podIsolation) rewrites every object", () => {
    const existing = [{ name: "np-a", spec: { ...header, podSelectorEndpoints: pods(0, 1) } }];
    const plan = planChunks({ ...header, podIsolation: ["Ingress", "Egress"] }, wanted({ pods: pods(0, 1) }), existing);
    expect(plan.update).toEqual([{ name: "np-a", spec: { ...header, podIsolation: ["Ingress", "Egress"], podSelectorEndpoints: pods(0, 1) } }]);
  });

  test("a bad chunk size is refused", () => {
    expect(() => planChunks(header, wanted({}), [], 0)).toThrow("chunkSize");
  });
});
