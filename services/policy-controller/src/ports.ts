/**
 * Port resolution, as upstream's controller does it: a NetworkPolicy port becomes a
 * PolicyEndpoint port `{protocol, port, endPort}`; a named port is looked up among a pod's
 * container ports (name and protocol), a numeric one always stands for itself; Service
 * ports map a policy's (target) port to the Service's listen port.
 */
import type { PolicyPort } from "../../../shared/contracts/policy.ts";
import { matches, type NetworkPolicyPort, type Pod, type Protocol, type Service } from "./objects.ts";

const protocolOf = (port: { protocol?: Protocol }): Protocol => port.protocol ?? "TCP";

export function isNamed(port: NetworkPolicyPort): boolean {
  return typeof port.port === "string";
}

function policyPort(protocol: Protocol, port: number | undefined, endPort: number | undefined): PolicyPort {
  return { protocol, ...(port === undefined ? {} : { port }), ...(endPort === undefined ? {} : { endPort }) };
}

/** A numeric or port-less policy port as is; undefined for a named one (it needs a pod to resolve). */
export function numericPort(port: NetworkPolicyPort): PolicyPort | undefined {
  if (port.port === undefined) return policyPort(protocolOf(port), undefined, port.endPort);
  if (typeof port.port === "string") return undefined;
  return policyPort(protocolOf(port), port.port, port.endPort);
}

/** The container port of `pod` a policy port names: by name and protocol; a number is itself. */
export function containerPortOf(pod: Pod, port: number | string, protocol: Protocol): number | undefined {
  for (const container of pod.spec?.containers ?? []) {
    for (const candidate of container.ports ?? []) {
      if (protocolOf(candidate) !== protocol) continue;
      if (typeof port === "string" ? candidate.name === port : candidate.containerPort === port) return candidate.containerPort;
    }
  }
  return typeof port === "number" ? port : undefined;
}

/** The rule's ports as they apply to one pod (upstream's getPortList): unresolvable named ports are left out. */
export function portsForPod(pod: Pod, ports: readonly NetworkPolicyPort[]): PolicyPort[] {
  const out: PolicyPort[] = [];
  for (const port of ports) {
    if (port.port === undefined) {
      out.push(policyPort(protocolOf(port), undefined, port.endPort));
      continue;
    }
    const resolved = containerPortOf(pod, port.port, protocolOf(port));
    if (resolved !== undefined) out.push(policyPort(protocolOf(port), resolved, port.endPort));
  }
  return out;
}

export function portKey(port: PolicyPort): string {
  return `${port.protocol ?? "TCP"}@${port.port ?? ""}@${port.endPort ?? ""}`;
}

/** Ports without repeats, in first-seen order. */
export function dedupPorts(ports: readonly PolicyPort[]): PolicyPort[] {
  const seen = new Map<string, PolicyPort>();
  for (const port of ports) if (!seen.has(portKey(port))) seen.set(portKey(port), port);
  return [...seen.values()];
}

/** Whether a container port is allowed by the policy's numeric (or port-less) ports of that protocol. */
function numericallyAllowed(port: number, protocol: Protocol, ports: readonly NetworkPolicyPort[]): boolean {
  return ports.some((candidate) => {
    if (protocolOf(candidate) !== protocol) return false;
    if (candidate.port === undefined) return true;
    if (typeof candidate.port !== "number") return false;
    return port >= candidate.port && port <= (candidate.endPort ?? candidate.port);
  });
}

function backends(service: Service, pods: readonly Pod[]): Pod[] {
  const selector = service.spec?.selector ?? {};
  return pods.filter((pod) => matches({ matchLabels: selector }, pod.metadata.labels));
}

/** The first container port matching by name (or number) and protocol, with its name (upstream's LookupContainerPortAndName). */
function namedContainerPort(pod: Pod, port: number | string, protocol: Protocol): { port: number; name: string } | undefined {
  for (const container of pod.spec?.containers ?? []) {
    for (const candidate of container.ports ?? []) {
      if (protocolOf(candidate) !== protocol) continue;
      if (typeof port === "string" ? candidate.name === port : candidate.containerPort === port) return { port: candidate.containerPort, name: candidate.name ?? "" };
    }
  }
  return typeof port === "number" ? { port, name: "" } : undefined;
}

/** The Service's listen port for a policy port: its targetPort equal, else through a backend pod's container port. */
function servicePortFor(service: Service, port: number | string, protocol: Protocol, pods: readonly Pod[]): number | undefined {
  const servicePorts = service.spec?.ports ?? [];
  const direct = servicePorts.find((candidate) => protocolOf(candidate) === protocol && typeof candidate.targetPort === typeof port && String(candidate.targetPort) === String(port));
  if (direct !== undefined) return direct.port;
  for (const pod of backends(service, pods)) {
    const container = namedContainerPort(pod, port, protocol);
    if (container === undefined) continue;
    const listen = servicePorts.find((candidate) => protocolOf(candidate) === protocol && (typeof candidate.targetPort === "string" ? candidate.targetPort === container.name : candidate.targetPort === container.port));
    if (listen !== undefined) return listen.port;
  }
  return undefined;
}

/**
 * A numeric policy port matched a Service port whose targetPort is a name: left out when that
 * name resolves, on some backend pod, to a container port the policy does not allow (the
 * ClusterIP entry would otherwise open it).
 */
function bypassesPolicy(service: Service, listenPort: number, protocol: Protocol, ports: readonly NetworkPolicyPort[], pods: readonly Pod[]): boolean {
  const servicePort = (service.spec?.ports ?? []).find((candidate) => candidate.port === listenPort && protocolOf(candidate) === protocol && typeof candidate.targetPort === "string");
  if (servicePort === undefined || typeof servicePort.targetPort !== "string") return false;
  return backends(service, pods).some((pod) => {
    const named = namedContainerPort(pod, servicePort.targetPort as string, protocol);
    return named !== undefined && !numericallyAllowed(named.port, protocol, ports);
  });
}

/**
 * The ports of a ClusterIP entry for a Service behind a pod peer, or undefined when the rule
 * names ports and none maps onto the Service. `pods`: every pod of the Service's namespace.
 */
export function servicePorts(service: Service, ports: readonly NetworkPolicyPort[], pods: readonly Pod[]): PolicyPort[] | undefined {
  const out: PolicyPort[] = [];
  for (const port of ports) {
    const protocol = protocolOf(port);
    if (port.port === undefined) {
      out.push(policyPort(protocol, undefined, port.endPort));
      continue;
    }
    const listen = servicePortFor(service, port.port, protocol, pods);
    if (listen === undefined) continue;
    if (typeof port.port === "number" && bypassesPolicy(service, listen, protocol, ports, pods)) continue;
    out.push(policyPort(protocol, listen, port.endPort));
  }
  return ports.length > 0 && out.length === 0 ? undefined : out;
}
