// A ClusterView over plain arrays, and builders of the objects resolution reads (tests only).
import type { NetworkPolicy, Namespace, Pod, Service } from "./objects.ts";
import type { ClusterView } from "./resolve.ts";

export function view(pods: Pod[], namespaces: Namespace[] = [], services: Service[] = []): ClusterView {
  return {
    pods: (namespace) => (namespace === undefined ? pods : pods.filter((pod) => pod.metadata.namespace === namespace)),
    namespaces: () => namespaces,
    services: (namespace) => services.filter((service) => service.metadata.namespace === namespace),
  };
}

export function pod(name: string, o: { ns?: string; labels?: Record<string, string>; ip?: string; host?: string; phase?: string; hostNetwork?: boolean; ports?: Array<{ name?: string; containerPort: number; protocol?: "TCP" | "UDP" | "SCTP" }>; annotations?: Record<string, string> } = {}): Pod {
  return {
    metadata: { name, namespace: o.ns ?? "default", labels: o.labels ?? {}, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: { ...(o.hostNetwork ? { hostNetwork: true } : {}), containers: [{ name: "main", ports: o.ports ?? [] }] },
    status: { phase: o.phase ?? "Running", ...(o.ip === undefined ? {} : { podIP: o.ip }), hostIP: o.host ?? "10.0.0.10" },
  };
}

export function namespace(name: string, labels: Record<string, string> = {}): Namespace {
  return { metadata: { name, labels: { "kubernetes.io/metadata.name": name, ...labels } } };
}

export function policy(spec: NetworkPolicy["spec"], name = "np", ns = "default"): NetworkPolicy {
  return { metadata: { name, namespace: ns, uid: "uid-1" }, spec };
}
