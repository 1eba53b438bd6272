// Which policies a pod, namespace or Service change re-resolves.
import { expect, test } from "bun:test";
import { podChangeMatters, policyTouchesPod, policyUsesNamespaces, policyUsesServices } from "./triggers.ts";
import { namespace, pod, policy } from "./test-cluster.ts";

const namespaces = new Map([["default", namespace("default")], ["other", namespace("other", { team: "b" })]]);

test("a pod matters to the policies it is a target or a peer of, and to named egress ports resolved anywhere", () => {
  const target = policy({ podSelector: { matchLabels: { app: "web" } } });
  const peerElsewhere = policy({ podSelector: { matchLabels: { app: "api" } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "b" } }, podSelector: { matchLabels: { role: "db" } } }] }] });
  const ipBlockOnly = policy({ podSelector: { matchLabels: { app: "none" } }, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8" } }], ports: [{ protocol: "TCP", port: 80 }] }] });
  const namedAnywhere = policy({ podSelector: { matchLabels: { app: "none" } }, egress: [{ ports: [{ protocol: "TCP", port: "http" }] }] });
  const web = pod("w", { labels: { app: "web" }, ip: "10.0.1.1" });
  const db = pod("d", { ns: "other", labels: { role: "db" }, ip: "10.0.2.1" });
  const dbHere = pod("d2", { labels: { role: "db" }, ip: "10.0.1.2" });
  expect([target, peerElsewhere, ipBlockOnly, namedAnywhere].map((p) => policyTouchesPod(p, web, namespaces))).toEqual([true, false, false, true]);
  expect([target, peerElsewhere, ipBlockOnly, namedAnywhere].map((p) => policyTouchesPod(p, db, namespaces))).toEqual([false, true, false, true]);
  // the same labels in a namespace the peer's namespaceSelector does not match
  expect(policyTouchesPod(peerElsewhere, dbHere, namespaces)).toBe(false);
  expect(policyTouchesPod(target, dbHere, namespaces)).toBe(false);
  expect([target, peerElsewhere, ipBlockOnly].map(policyUsesNamespaces)).toEqual([false, true, false]);
  expect([target, peerElsewhere, ipBlockOnly, policy({ podSelector: {}, egress: [{ to: [{ podSelector: {} }] }] })].map(policyUsesServices)).toEqual([false, false, false, true]);
});

test("a pod update matters only when labels, annotations, deletion, address, phase or node address change", () => {
  const before = pod("p", { labels: { app: "web" }, ip: "10.0.1.1" });
  const same = structuredClone(before);
  same.metadata.resourceVersion = "99";
  expect(podChangeMatters(before, same)).toBe(false);
  expect(podChangeMatters(before, { ...before, metadata: { ...before.metadata, labels: { app: "db" } } })).toBe(true);
  expect(podChangeMatters(before, { ...before, status: { ...before.status, phase: "Succeeded" } })).toBe(true);
  expect(podChangeMatters(before, { ...before, status: { ...before.status, podIP: "10.0.1.9" } })).toBe(true);
  expect(podChangeMatters(before, { ...before, metadata: { ...before.metadata, deletionTimestamp: "2026-12-04T00:00:00Z" } })).toBe(true);
  expect(podChangeMatters(undefined, before)).toBe(true);
  expect(podChangeMatters(before, undefined)).toBe(true);
});
