// SecurityGroupPolicy matching as upstream's filterPodSecurityGroups: namespace only, pod and
// ServiceAccount selectors that must both hold when present, `{}` matches all, policies with no
// selector or no groups skipped, groups deduplicated.
import { describe, expect, test } from "bun:test";
import { KubeStore } from "../../sim-kube/store.ts";
import type { KubeObject } from "../../sim-kube/validate.ts";
import { labelSelectorMatches, matchingSecurityGroups, podEniRequest, SGP_KEY } from "./sgp.ts";

function world(policies: Array<{ ns?: string; name: string; spec: Record<string, unknown> }>) {
  const store = new KubeStore();
  for (const p of policies) store.create(SGP_KEY, { apiVersion: "vpcresources.k8s.aws/v1beta1", kind: "SecurityGroupPolicy", metadata: { name: p.name, namespace: p.ns ?? "apps" }, spec: p.spec });
  store.create("serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "db-sa", namespace: "apps", labels: { role: "db" } } });
  return store;
}

const pod = (labels: Record<string, string>, serviceAccountName?: string, ns = "apps"): KubeObject => ({
  apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: ns, labels }, spec: { containers: [{ name: "c", image: "x" }], ...(serviceAccountName ? { serviceAccountName } : {}) },
});

describe("SecurityGroupPolicy matching", () => {
  test("pod and ServiceAccount selectors, union without duplicates, other namespaces ignored", () => {
    const store = world([
      { name: "by-pod", spec: { podSelector: { matchLabels: { app: "db" } }, securityGroups: { groupIds: ["sg-1", "sg-2"] } } },
      { name: "by-sa", spec: { serviceAccountSelector: { matchExpressions: [{ key: "role", operator: "In", values: ["db"] }] }, securityGroups: { groupIds: ["sg-2", "sg-3"] } } },
      { name: "both", spec: { podSelector: { matchLabels: { app: "db" } }, serviceAccountSelector: { matchLabels: { role: "web" } }, securityGroups: { groupIds: ["sg-4"] } } },
      { name: "no-selector", spec: { securityGroups: { groupIds: ["sg-5"] } } },
      { name: "no-groups", spec: { podSelector: {}, securityGroups: { groupIds: [] } } },
      { name: "elsewhere", ns: "other", spec: { podSelector: {}, securityGroups: { groupIds: ["sg-6"] } } },
    ]);
    expect(matchingSecurityGroups(store, pod({ app: "db" }, "db-sa"))).toEqual(["sg-1", "sg-2", "sg-3"]);
    expect(matchingSecurityGroups(store, pod({ app: "db" }))).toEqual(["sg-1", "sg-2"]);
    expect(matchingSecurityGroups(store, pod({ app: "web" }))).toEqual([]);
    expect(matchingSecurityGroups(store, pod({ app: "db" }, undefined, "other"))).toEqual(["sg-6"]);
  });

  test("label selector operators; an invalid requirement matches nothing", () => {
    const labels = { app: "db", tier: "back" };
    expect(labelSelectorMatches({}, labels)).toBe(true);
    expect(labelSelectorMatches({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["front"] }, { key: "app", operator: "Exists" }] }, labels)).toBe(true);
    expect(labelSelectorMatches({ matchExpressions: [{ key: "zone", operator: "DoesNotExist" }] }, labels)).toBe(true);
    expect(labelSelectorMatches({ matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, labels)).toBe(false);
    expect(labelSelectorMatches({ matchExpressions: [{ key: "app", operator: "In", values: [] }] }, labels)).toBe(false);
    expect(labelSelectorMatches({ matchExpressions: [{ key: "app", operator: "Gt", values: ["1"] }] }, labels)).toBe(false);
    expect(labelSelectorMatches(null, labels)).toBe(false);
  });

  test("the pod-eni count is the sum over containers", () => {
    const p = pod({});
    (p.spec as { containers: unknown[] }).containers = [
      { name: "a", resources: { requests: { "vpc.amazonaws.com/pod-eni": "1" } } },
      { name: "b", resources: { limits: { "vpc.amazonaws.com/pod-eni": "2" } } },
      { name: "c" },
    ];
    expect(podEniRequest(p)).toBe(3);
    expect(podEniRequest(pod({}))).toBe(0);
  });
});
