// Resolution case by case, against upstream's controller (pkg/resolvers/endpoints.go) and the
// Kubernetes e2e suite's expectations for named ports.
import { describe, expect, test } from "bun:test";
import { egressEntries, ingressEntries, mergeEntries, podSelectorEndpoints, resolvePolicy } from "./resolve.ts";
import { namespace, pod, policy, view } from "./test-cluster.ts";
import type { Service } from "./objects.ts";

const web = pod("web-1", { labels: { app: "web" }, ip: "10.0.1.1", ports: [{ name: "http", containerPort: 8080 }, { name: "dns", containerPort: 5353, protocol: "UDP" }] });
const client = pod("client-1", { labels: { role: "client" }, ip: "10.0.1.2" });
const otherClient = pod("client-2", { ns: "other", labels: { role: "client" }, ip: "10.0.2.2" });
const cluster = view([web, client, otherClient], [namespace("default"), namespace("other", { team: "b" })]);

describe("target pods (podSelectorEndpoints)", () => {
  test("pods with an IP, not finished, not hostNetwork, in the policy's namespace", () => {
    const pods = [
      web,
      pod("no-ip", { labels: { app: "web" } }),
      pod("done", { labels: { app: "web" }, ip: "10.0.1.3", phase: "Succeeded" }),
      pod("failed", { labels: { app: "web" }, ip: "10.0.1.4", phase: "Failed" }),
      pod("host", { labels: { app: "web" }, ip: "10.0.0.10", hostNetwork: true }),
      pod("annotated", { labels: { app: "web" }, annotations: { "vpc.amazonaws.com/pod-ips": "10.0.1.5" } }),
      pod("elsewhere", { ns: "other", labels: { app: "web" }, ip: "10.0.2.1" }),
    ];
    const got = podSelectorEndpoints(policy({ podSelector: { matchLabels: { app: "web" } } }), view(pods));
    expect(got).toEqual([
      { hostIP: "10.0.0.10", podIP: "10.0.1.1", name: "web-1", namespace: "default" },
      { hostIP: "10.0.0.10", podIP: "10.0.1.5", name: "annotated", namespace: "default" },
    ]);
  });

  test("matchExpressions: In, NotIn, Exists, DoesNotExist are ANDed with matchLabels", () => {
    const pods = [pod("a", { labels: { app: "web", tier: "1" }, ip: "10.0.1.1" }), pod("b", { labels: { app: "web", tier: "2", canary: "y" }, ip: "10.0.1.2" }), pod("c", { labels: { app: "db" }, ip: "10.0.1.3" })];
    const select = (spec: object) => podSelectorEndpoints(policy({ podSelector: spec }), view(pods)).map((p) => p.name);
    expect(select({ matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "In", values: ["2"] }] })).toEqual(["b"]);
    expect(select({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["2"] }] })).toEqual(["a", "c"]);
    expect(select({ matchExpressions: [{ key: "canary", operator: "Exists" }] })).toEqual(["b"]);
    expect(select({ matchExpressions: [{ key: "canary", operator: "DoesNotExist" }, { key: "app", operator: "In", values: ["web"] }] })).toEqual(["a"]);
    expect(select({})).toEqual(["a", "b", "c"]);
  });
});

describe("ingress", () => {
  test("omitted from: 0.0.0.0/0 and ::/0 with the rule's ports; no rules: nothing", () => {
    expect(ingressEntries(policy({ podSelector: {}, ingress: [{ ports: [{ protocol: "TCP", port: 80 }] }] }), cluster)).toEqual([
      { cidr: "0.0.0.0/0", ports: [{ protocol: "TCP", port: 80 }] },
      { cidr: "::/0", ports: [{ protocol: "TCP", port: 80 }] },
    ]);
    expect(ingressEntries(policy({ podSelector: {}, ingress: [{}] }), cluster)).toEqual([{ cidr: "0.0.0.0/0", ports: [] }, { cidr: "::/0", ports: [] }]);
    expect(ingressEntries(policy({ podSelector: {} }), cluster)).toEqual([]);
  });

  test("peers: podSelector alone is the policy's namespace; namespaceSelector {} is every namespace; both are ANDed; peers ORed", () => {
    const from = (peers: object[]) => ingressEntries(policy({ podSelector: {}, ingress: [{ from: peers }] }), cluster).map((e) => e.cidr);
    expect(from([{ podSelector: { matchLabels: { role: "client" } } }])).toEqual(["10.0.1.2"]);
    expect(from([{ namespaceSelector: {}, podSelector: { matchLabels: { role: "client" } } }])).toEqual(["10.0.1.2", "10.0.2.2"]);
    expect(from([{ namespaceSelector: { matchLabels: { team: "b" } } }])).toEqual(["10.0.2.2"]);
    expect(from([{ namespaceSelector: { matchLabels: { team: "b" } }, podSelector: { matchLabels: { app: "web" } } }])).toEqual([]);
    expect(from([{ podSelector: { matchLabels: { app: "web" } } }, { namespaceSelector: { matchLabels: { team: "b" } } }])).toEqual(["10.0.1.1", "10.0.2.2"]);
  });

  test("ipBlock with except; a hostNetwork peer counts with its (node) address", () => {
    const hostPeer = pod("agent", { labels: { role: "client" }, ip: "10.0.0.10", hostNetwork: true });
    const got = ingressEntries(policy({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: "172.16.0.0/12", except: ["172.16.1.0/24"] } }, { podSelector: { matchLabels: { role: "client" } } }] }] }), view([client, hostPeer]));
    expect(got).toEqual([
      { cidr: "172.16.0.0/12", except: ["172.16.1.0/24"], ports: [] },
      { cidr: "10.0.1.2", ports: [] },
      { cidr: "10.0.0.10", ports: [] },
    ]);
  });

  test("named ports resolve against the policy's own pods (name and protocol); none resolving drops the rule", () => {
    const np = (ports: object[]) => policy({ podSelector: { matchLabels: { app: "web" } }, ingress: [{ ports: ports as never }] });
    expect(ingressEntries(np([{ protocol: "TCP", port: "http" }, { protocol: "UDP", port: "dns" }]), cluster)[0]!.ports).toEqual([
      { protocol: "TCP", port: 8080 },
      { protocol: "UDP", port: 5353 },
    ]);
    // dns is UDP on the pod: asked as TCP it does not resolve, and the rule allows nothing
    expect(ingressEntries(np([{ protocol: "TCP", port: "dns" }]), cluster)).toEqual([]);
    // mixed with a number, the number still stands
    expect(ingressEntries(np([{ protocol: "TCP", port: "nope" }, { protocol: "TCP", port: 9000, endPort: 9010 }]), cluster)[0]!.ports).toEqual([{ protocol: "TCP", port: 9000, endPort: 9010 }]);
  });

  test("a protocol without a port stays a protocol-only entry", () => {
    expect(ingressEntries(policy({ podSelector: {}, ingress: [{ ports: [{ protocol: "SCTP" }] }] }), cluster)[0]!.ports).toEqual([{ protocol: "SCTP" }]);
  });
});

describe("egress", () => {
  test("named ports resolve per destination pod; a pod without the port is left out", () => {
    const got = egressEntries(policy({ podSelector: {}, egress: [{ to: [{ podSelector: {} }], ports: [{ protocol: "TCP", port: "http" }] }] }), view([web, client]));
    expect(got).toEqual([{ cidr: "10.0.1.1", ports: [{ protocol: "TCP", port: 8080 }] }]);
  });

  test("no `to`: numeric ports on 0.0.0.0/0 and ::/0; named ports (better than upstream) on every pod that has them", () => {
    const got = egressEntries(policy({ podSelector: {}, egress: [{ ports: [{ protocol: "TCP", port: 53 }, { protocol: "TCP", port: "http" }] }] }), cluster);
    expect(got).toEqual([
      { cidr: "0.0.0.0/0", ports: [{ protocol: "TCP", port: 53 }] },
      { cidr: "::/0", ports: [{ protocol: "TCP", port: 53 }] },
      { cidr: "10.0.1.1", ports: [{ protocol: "TCP", port: 8080 }] },
    ]);
    // only named ports: upstream allows nothing; here the pods that have the port
    expect(egressEntries(policy({ podSelector: {}, egress: [{ ports: [{ protocol: "TCP", port: "http" }] }] }), cluster)).toEqual([{ cidr: "10.0.1.1", ports: [{ protocol: "TCP", port: 8080 }] }]);
  });

  test("ipBlock: numeric ports on the block; named ports on the pods inside it and outside its except", () => {
    const inside = pod("in", { ip: "10.0.9.1", ports: [{ name: "http", containerPort: 8081 }] });
    const excepted = pod("ex", { ip: "10.0.8.1", ports: [{ name: "http", containerPort: 8082 }] });
    const got = egressEntries(policy({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.8.0/21", except: ["10.0.8.0/24"] } }], ports: [{ protocol: "TCP", port: "http" }, { protocol: "UDP", port: 53 }] }] }), view([web, inside, excepted]));
    expect(got).toEqual([
      { cidr: "10.0.8.0/21", except: ["10.0.8.0/24"], ports: [{ protocol: "UDP", port: 53 }] },
      { cidr: "10.0.9.1", ports: [{ protocol: "TCP", port: 8081 }] },
    ]);
  });

  test("Services: ClusterIP of non-headless Services whose selector satisfies the peer, port mapped from targetPort", () => {
    const db = pod("db-1", { labels: { app: "db" }, ip: "10.0.1.9", ports: [{ name: "pg", containerPort: 5432 }] });
    const services: Service[] = [
      { metadata: { name: "db", namespace: "default" }, spec: { clusterIP: "10.100.0.10", selector: { app: "db" }, ports: [{ port: 15432, targetPort: 5432, protocol: "TCP" }] } },
      { metadata: { name: "db-headless", namespace: "default" }, spec: { clusterIP: "None", selector: { app: "db" }, ports: [{ port: 5432, targetPort: 5432 }] } },
      { metadata: { name: "web", namespace: "default" }, spec: { clusterIP: "10.100.0.11", selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] } },
    ];
    const got = egressEntries(policy({ podSelector: {}, egress: [{ to: [{ podSelector: { matchLabels: { app: "db" } } }], ports: [{ protocol: "TCP", port: 5432 }] }] }), view([db, web], [], services));
    expect(got).toEqual([
      { cidr: "10.0.1.9", ports: [{ protocol: "TCP", port: 5432 }] },
      { cidr: "10.100.0.10", ports: [{ protocol: "TCP", port: 15432 }] },
    ]);
    // named policy port: resolved through the backends' container port to the Service port
    const named = egressEntries(policy({ podSelector: {}, egress: [{ to: [{ podSelector: { matchLabels: { app: "db" } } }], ports: [{ protocol: "TCP", port: "pg" }] }] }), view([db], [], services));
    expect(named).toContainEqual({ cidr: "10.100.0.10", ports: [{ protocol: "TCP", port: 15432 }] });
  });

  test("a Service port whose named targetPort leads to a port the policy does not allow is left out", () => {
    const backend = pod("api-1", { labels: { app: "api" }, ip: "10.0.1.20", ports: [{ name: "admin", containerPort: 9000 }] });
    const services: Service[] = [{ metadata: { name: "api", namespace: "default" }, spec: { clusterIP: "10.100.0.20", selector: { app: "api" }, ports: [{ port: 443, targetPort: 443 }, { port: 8443, targetPort: "admin" }] } }];
    const ports = [{ protocol: "TCP" as const, port: 8443 }];
    const got = egressEntries(policy({ podSelector: {}, egress: [{ to: [{ podSelector: { matchLabels: { app: "api" } } }], ports }] }), view([backend], [], services));
    expect(got.map((e) => e.cidr)).toEqual(["10.0.1.20"]);
  });
});

describe("merging", () => {
  test("equal cidr and except merge: ports unioned, an entry with no ports (everything) wins; empty lists left out", () => {
    expect(mergeEntries([
      { cidr: "10.0.1.1", ports: [{ protocol: "TCP", port: 80 }] },
      { cidr: "10.0.1.1", ports: [{ protocol: "TCP", port: 443 }, { protocol: "TCP", port: 80 }] },
      { cidr: "10.0.0.0/16", except: ["10.0.1.0/24"], ports: [{ protocol: "UDP", port: 53 }] },
      { cidr: "10.0.0.0/16", except: ["10.0.2.0/24"], ports: [{ protocol: "UDP", port: 53 }] },
      { cidr: "10.0.0.0/16", except: ["10.0.1.0/24"], ports: [] },
      { cidr: "::/0", except: [], ports: [] },
    ])).toEqual([
      { cidr: "10.0.1.1", ports: [{ protocol: "TCP", port: 80 }, { protocol: "TCP", port: 443 }] },
      { cidr: "10.0.0.0/16", except: ["10.0.1.0/24"] },
      { cidr: "10.0.0.0/16", except: ["10.0.2.0/24"], ports: [{ protocol: "UDP", port: 53 }] },
      { cidr: "::/0" },
    ]);
  });

  test("resolvePolicy: two rules naming the same peer give one entry", () => {
    const np = policy({ podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: "client" } } }], ports: [{ protocol: "TCP", port: 80 }] }, { from: [{ podSelector: { matchLabels: { role: "client" } } }], ports: [{ protocol: "TCP", port: 81 }] }] });
    expect(resolvePolicy(np, cluster).ingress).toEqual([{ cidr: "10.0.1.2", ports: [{ protocol: "TCP", port: 80 }, { protocol: "TCP", port: 81 }] }]);
  });
});
