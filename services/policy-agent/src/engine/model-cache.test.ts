// compileStateCached's reuse: the same input object, shared direction states, and the JSON digest for fresh copies — same models, same errors.
import { describe, expect, test } from "bun:test";
import type { DirectionState, NodePolicyState, PodPolicyState } from "../../../../shared/contracts/policy.ts";
import { compileState, compileStateCached, podDigest } from "./model.ts";
import { errorOf } from "./test-support/error-of.ts";

const rules = (n: number): DirectionState => ({ kind: "rules", rules: Array.from({ length: n }, (_, k) => ({ cidr: `10.200.${k}.7/32`, except: [], ports: [{ protocol: "TCP" as const, port: 8080 }] })) });
const pod = (i: number, ingress: DirectionState, egress: DirectionState, over: Partial<PodPolicyState> = {}): PodPolicyState => ({ namespace: "ns", name: `web-${i}`, hostVeth: `eni${i}`, addresses: [`10.1.0.${i}`], ingress, egress, ...over });

describe("compile cache", () => {
  test("pods sharing direction states compile to the same models as fresh copies would", () => {
    const [ing, eg] = [rules(50), { kind: "rules", rules: [{ cidr: "172.16.0.0/24", except: [], ports: [{ protocol: "TCP", port: 443 }] }] } as DirectionState];
    const shared: NodePolicyState = { nodeAddresses: ["10.1.0.1"], pods: [1, 2, 3].map((i) => pod(i, ing, eg)) };
    const first = compileStateCached(shared);
    const again = compileStateCached(structuredClone(shared), first.cache);
    const fresh = compileState(structuredClone(shared));
    expect(first.model.pods.map(podDigest)).toEqual(fresh.pods.map(podDigest));
    expect(again.model.pods.map(podDigest)).toEqual(fresh.pods.map(podDigest));
    expect(first.model.pods[0]!.ingress).toBe(first.model.pods[2]!.ingress); // compiled once
    expect(first.model).toEqual(fresh);
  });

  test("equal content in new shared objects, applied again and again, keeps one model per direction for all pods", () => {
    // as the agent's resolver hands them over after a PolicyEndpoint update that left this node's pods alike: new
    // direction objects, shared by every pod, equal to the last apply's
    const state = (): NodePolicyState => {
      const [ing, eg] = [rules(20), rules(3)];
      return { nodeAddresses: ["10.1.0.1"], pods: Array.from({ length: 6 }, (_, i) => pod(i + 1, ing, eg)) };
    };
    let r = compileStateCached(state());
    for (let k = 0; k < 8; k++) r = compileStateCached(state(), r.cache);
    expect(new Set(r.model.pods.map((p) => p.ingress)).size).toBe(1);
    expect(new Set(r.model.pods.map((p) => p.egress)).size).toBe(1);
    expect(r.model.pods.map(podDigest)).toEqual(compileState(state()).pods.map(podDigest));
  });

  test("the same pod object applied again keeps its model; a new object of other content does not", () => {
    const p = pod(1, rules(3), { kind: "open" });
    const first = compileStateCached({ nodeAddresses: [], pods: [p] });
    const same = compileStateCached({ nodeAddresses: [], pods: [p] }, first.cache);
    expect(same.model.pods[0]).toBe(first.model.pods[0]!);
    const changed = compileStateCached({ nodeAddresses: [], pods: [{ ...p, egress: { kind: "deny" } }] }, same.cache);
    expect(changed.model.pods[0]!.egress).toEqual({ kind: "rules", groups: [] });
    expect(podDigest(changed.model.pods[0]!)).not.toBe(podDigest(first.model.pods[0]!));
  });

  test("with its directions compiled already, a pod's own fields are still validated, naming the field", () => {
    const [ing, eg] = [rules(2), { kind: "open" } as DirectionState];
    const ok = compileStateCached({ nodeAddresses: [], pods: [pod(1, ing, eg)] });
    for (const [over, field] of [
      [{ name: "a b" }, "pods.1.name"],
      [{ hostVeth: 'a"b' }, "pods.1.hostVeth"],
      [{ addresses: ["10.1.0.300"] }, "pods.1.addresses.0"],
      [{ hostVeth: "eni1", name: "web-9" }, "pods.1.hostVeth"], // a veth used twice
    ] as Array<[Partial<PodPolicyState>, string]>) {
      const e = errorOf(() => compileStateCached({ nodeAddresses: [], pods: [pod(1, ing, eg), pod(2, ing, eg, over)] }, ok.cache));
      expect(e?.code).toBe("POLICY_STATE_INVALID");
      expect(e?.field).toBe(field);
    }
  });

  test("an invalid direction is refused every time, also once another pod's directions are cached", () => {
    const bad: DirectionState = { kind: "rules", rules: [{ cidr: "10.0.0.300/8", except: [], ports: [] }] };
    const ok = compileStateCached({ nodeAddresses: [], pods: [pod(1, rules(1), { kind: "open" })] });
    for (let i = 0; i < 2; i++) expect(errorOf(() => compileStateCached({ nodeAddresses: [], pods: [pod(2, bad, { kind: "open" })] }, ok.cache))?.field).toBe("pods.0.ingress.rules.0.cidr");
  });
});
