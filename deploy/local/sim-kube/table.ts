// Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for.
import type { ResourceDef } from "./resources.ts";
import type { KubeObject } from "./validate.ts";

interface Column {
  name: string;
  type: string;
  cell: (object: KubeObject) => string | number;
}

/** Kubernetes' short duration: 45s, 12m, 3h, 2d. */
export function humanAge(creation: string | undefined, now: Date): string {
  if (creation === undefined) return "<unknown>";
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(creation)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
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

function podReady(pod: KubeObject): string {
  const containers = field(pod, "spec", "containers");
  const statuses = field(pod, "status", "containerStatuses");
  const total = Array.isArray(containers) ? containers.length : 0;
  const ready = Array.isArray(statuses) ? statuses.filter((status) => field(status, "ready") === true).length : 0;
  return `${ready}/${total}`;
}

function columnsFor(def: ResourceDef, now: Date): Column[] {
  const name: Column = { name: "Name", type: "string", cell: (o) => o.metadata.name ?? "" };
  const age: Column = { name: "Age", type: "string", cell: (o) => humanAge(o.metadata.creationTimestamp, now) };
  switch (def.kind) {
    case "Node":
      return [
        name,
        { name: "Status", type: "string", cell: nodeStatus },
        { name: "Roles", type: "string", cell: nodeRoles },
        age,
        { name: "Version", type: "string", cell: (o) => String(field(o, "status", "nodeInfo", "kubeletVersion") ?? "") },
      ];
    case "Pod":
      return [
        name,
        { name: "Ready", type: "string", cell: podReady },
        { name: "Status", type: "string", cell: (o) => String(field(o, "status", "phase") ?? "Unknown") },
        { name: "Restarts", type: "string", cell: () => "0" },
        age,
        { name: "IP", type: "string", cell: (o) => String(field(o, "status", "podIP") ?? "<none>") },
        { name: "Node", type: "string", cell: (o) => String(field(o, "spec", "nodeName") ?? "<none>") },
      ];
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
    columnDefinitions: columns.map((column, index) => ({
      name: column.name,
      type: column.type,
      format: column.name === "Name" ? "name" : "",
      description: column.name,
      priority: def.kind === "Pod" && index >= 5 ? 1 : 0,
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
