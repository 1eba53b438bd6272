// Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for, with the columns
// the real API server prints (priority 1 columns only with -o wide).
import { humanDuration, podReadyCell, podRestartsCell, podStatusCell } from "./pod-printing.ts";
import type { ResourceDef } from "./resources.ts";
import type { KubeObject } from "./validate.ts";

interface Column {
  name: string;
  type: string;
  cell: (object: KubeObject) => string | number;
  /** 1: shown only with -o wide. */
  priority?: number;
}

export function humanAge(creation: string | undefined, now: Date): string {
  if (creation === undefined) return "<unknown>";
  return humanDuration((now.getTime() - Date.parse(creation)) / 1000);
}

type Loose = Record<string, unknown>;

function field(object: unknown, ...path: string[]): unknown {
  let node: unknown = object;
  for (const key of path) node = typeof node === "object" && node !== null ? (node as Loose)[key] : undefined;
  return node;
}

function nodeStatus(node: KubeObject): string {
  const conditions = field(node, "status", "conditions");
  const ready = Array.isArray(conditions) ? conditions.find((condition) => field(condition, "type") === "Ready") : undefined;
  const status = field(ready, "status") === "True" ? "Ready" : "NotReady";
  return field(node, "spec", "unschedulable") === true ? `${status},SchedulingDisabled` : status;
}

function nodeRoles(node: KubeObject): string {
  const prefix = "node-role.kubernetes.io/";
  const roles = Object.keys(node.metadata.labels ?? {})
    .filter((label) => label.startsWith(prefix))
    .map((label) => label.slice(prefix.length));
  return roles.length > 0 ? roles.join(",") : "<none>";
}

function labelsText(labels: unknown): string {
  if (typeof labels !== "object" || labels === null) return "<none>";
  const pairs = Object.entries(labels as Record<string, string>).map(([key, value]) => `${key}=${value}`);
  return pairs.length > 0 ? pairs.sort().join(",") : "<none>";
}

/** metav1.FormatLabelSelector: `k=v,k2 in (a,b)`. */
function selectorText(selector: unknown): string {
  const matchLabels = field(selector, "matchLabels");
  const expressions = field(selector, "matchExpressions");
  const parts = typeof matchLabels === "object" && matchLabels !== null ? Object.entries(matchLabels as Record<string, string>).map(([key, value]) => `${key}=${value}`) : [];
  for (const expression of Array.isArray(expressions) ? expressions : []) {
    const key = String(field(expression, "key"));
    const values = field(expression, "values");
    const list = Array.isArray(values) ? values.join(",") : "";
    switch (field(expression, "operator")) {
      case "In": parts.push(`${key} in (${list})`); break;
      case "NotIn": parts.push(`${key} notin (${list})`); break;
      case "Exists": parts.push(key); break;
      case "DoesNotExist": parts.push(`!${key}`); break;
    }
  }
  return parts.length > 0 ? parts.join(",") : "<none>";
}

/** `80/TCP,53/UDP` (kubectl's Port(s) column; `<none>` without ports). */
function servicePorts(service: KubeObject): string {
  const ports = field(service, "spec", "ports");
  if (!Array.isArray(ports) || ports.length === 0) return "<none>";
  return ports.map((port) => `${String(field(port, "port"))}/${String(field(port, "protocol") ?? "TCP")}`).join(",");
}

function containerList(object: KubeObject, key: "name" | "image"): string {
  const containers = field(object, "spec", "template", "spec", "containers");
  return Array.isArray(containers) ? containers.map((container) => String(field(container, key) ?? "")).join(",") : "";
}

function nodeAddress(node: KubeObject, type: string): string {
  const addresses = field(node, "status", "addresses");
  const found = Array.isArray(addresses) ? addresses.find((address) => field(address, "type") === type) : undefined;
  return String(field(found, "address") ?? "<none>");
}

function count(object: KubeObject, ...path: string[]): number {
  const value = field(object, ...path);
  return typeof value === "number" ? value : 0;
}

function eventObject(event: KubeObject): string {
  const kind = String(field(event, "involvedObject", "kind") ?? "").toLowerCase();
  return `${kind}/${String(field(event, "involvedObject", "name") ?? "")}`;
}

function eventLastSeen(event: KubeObject, now: Date): string {
  const last = field(event, "lastTimestamp") ?? field(event, "eventTime") ?? event.metadata.creationTimestamp;
  return typeof last === "string" ? humanAge(last, now) : "<unknown>";
}

function columnsFor(def: ResourceDef, now: Date): Column[] {
  const name: Column = { name: "Name", type: "string", cell: (o) => o.metadata.name ?? "" };
  const age: Column = { name: "Age", type: "string", cell: (o) => humanAge(o.metadata.creationTimestamp, now) };
  const text = (title: string, cell: (o: KubeObject) => string, priority = 0): Column => ({ name: title, type: "string", cell, priority });
  const integer = (title: string, ...path: string[]): Column => ({ name: title, type: "integer", cell: (o) => count(o, ...path) });
  switch (def.kind) {
    case "Node":
      return [
        name,
        text("Status", nodeStatus),
        text("Roles", nodeRoles),
        age,
        text("Version", (o) => String(field(o, "status", "nodeInfo", "kubeletVersion") ?? "")),
        text("Internal-IP", (o) => nodeAddress(o, "InternalIP"), 1),
        text("External-IP", (o) => nodeAddress(o, "ExternalIP"), 1),
        text("OS-Image", (o) => String(field(o, "status", "nodeInfo", "osImage") ?? "<unknown>"), 1),
        text("Kernel-Version", (o) => String(field(o, "status", "nodeInfo", "kernelVersion") ?? "<unknown>"), 1),
        text("Container-Runtime", (o) => String(field(o, "status", "nodeInfo", "containerRuntimeVersion") ?? "<unknown>"), 1),
      ];
    case "Pod":
      return [
        name,
        text("Ready", podReadyCell),
        text("Status", podStatusCell),
        text("Restarts", (o) => podRestartsCell(o, now)),
        age,
        text("IP", (o) => String(field(o, "status", "podIP") ?? "<none>"), 1),
        text("Node", (o) => String(field(o, "spec", "nodeName") ?? "<none>"), 1),
        text("Nominated Node", (o) => String(field(o, "status", "nominatedNodeName") ?? "<none>"), 1),
        text("Readiness Gates", () => "<none>", 1),
      ];
    case "DaemonSet":
      return [
        name,
        integer("Desired", "status", "desiredNumberScheduled"),
        integer("Current", "status", "currentNumberScheduled"),
        integer("Ready", "status", "numberReady"),
        integer("Up-to-date", "status", "updatedNumberScheduled"),
        integer("Available", "status", "numberAvailable"),
        text("Node Selector", (o) => labelsText(field(o, "spec", "template", "spec", "nodeSelector"))),
        age,
        text("Containers", (o) => containerList(o, "name"), 1),
        text("Images", (o) => containerList(o, "image"), 1),
        text("Selector", (o) => selectorText(field(o, "spec", "selector")), 1),
      ];
    case "Deployment":
      return [
        name,
        text("Ready", (o) => `${count(o, "status", "readyReplicas")}/${count(o, "spec", "replicas")}`),
        integer("Up-to-date", "status", "updatedReplicas"),
        integer("Available", "status", "availableReplicas"),
        age,
        text("Containers", (o) => containerList(o, "name"), 1),
        text("Images", (o) => containerList(o, "image"), 1),
        text("Selector", (o) => selectorText(field(o, "spec", "selector")), 1),
      ];
    case "Event":
      return [
        text("Last Seen", (o) => eventLastSeen(o, now)),
        text("Type", (o) => String(field(o, "type") ?? "")),
        text("Reason", (o) => String(field(o, "reason") ?? "")),
        text("Object", eventObject),
        text("Subobject", (o) => String(field(o, "involvedObject", "fieldPath") ?? ""), 1),
        text("Source", (o) => String(field(o, "source", "component") ?? field(o, "reportingComponent") ?? ""), 1),
        text("Message", (o) => String(field(o, "message") ?? "")),
        text("First Seen", (o) => humanAge(String(field(o, "firstTimestamp") ?? o.metadata.creationTimestamp), now), 1),
        { name: "Count", type: "integer", cell: (o) => count(o, "count"), priority: 1 },
        { ...name, priority: 1 },
      ];
    case "NetworkPolicy":
      return [name, text("Pod-Selector", (o) => selectorText(field(o, "spec", "podSelector"))), age];
    case "Service":
      return [
        name,
        text("Type", (o) => String(field(o, "spec", "type") ?? "")),
        text("Cluster-IP", (o) => String(field(o, "spec", "clusterIP") ?? "<none>")),
        text("External-IP", () => "<none>"),
        text("Port(s)", servicePorts),
        age,
        text("Selector", (o) => labelsText(field(o, "spec", "selector")), 1),
      ];
    case "CustomResourceDefinition":
      return [name, text("Created At", (o) => o.metadata.creationTimestamp ?? "")];
    default:
      return [name, age];
  }
}

export function toTable(def: ResourceDef, objects: KubeObject[], resourceVersion: string, now: Date, includeObject: string | undefined) {
  const columns = columnsFor(def, now);
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: columns.map((column) => ({
      name: column.name,
      type: column.type,
      format: column.name === "Name" ? "name" : "",
      description: column.name,
      priority: column.priority ?? 0,
    })),
    rows: objects.map((object) => ({
      cells: columns.map((column) => column.cell(object)),
      object:
        includeObject === "Object"
          ? object
          : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata },
    })),
  };
}

/** Whether the Accept header asks for a Table (`application/json;as=Table;g=meta.k8s.io;v=v1`). */
export function wantsTable(accept: string | undefined): boolean {
  return accept !== undefined && accept.split(",").some((part) => /;\s*as=Table/.test(part));
}
