// The resources this API server serves, with what discovery and the handlers need to know.
import { defaultCrd, defaultDaemonSet, defaultDeployment, defaultPod } from "./defaults.ts";
import { defaultNetworkPolicy, defaultService, validateNetworkPolicy, validateService } from "./networking.ts";
import { validateDaemonSetUpdate, validatePodUpdate } from "./update-rules.ts";
import type { UpdateValidator } from "./update-rules.ts";
import type { KubeObject, Validator } from "./validate.ts";
import {
  validateClusterRole,
  validateCniNode,
  validateConfigMap,
  validateCrd,
  validateDaemonSet,
  validateEniConfig,
  validateNode,
  validatePod,
  validateRoleBinding,
} from "./validate.ts";

export interface ResourceDef {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  /** With a status subresource, the main endpoint keeps status and /status changes only it. */
  hasStatus: boolean;
  validate?: Validator;
  /** What an update may not change (immutable fields). */
  validateUpdate?: UpdateValidator;
  /** Field selector labels beyond metadata.name and metadata.namespace. */
  fields: Record<string, (object: KubeObject) => string>;
  /** Defaults the server fills on every write (only absent fields). */
  defaults?: (object: KubeObject) => void;
  /** metadata.generation is kept: 1 on create, +1 on every spec change. */
  generation?: boolean;
  /** Pods: the binding subresource, and deletion is graceful once bound to a node. */
  isPod?: boolean;
}

const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
export const VERBS = ALL_VERBS;

function at(object: unknown, ...path: string[]): string {
  let node: unknown = object;
  for (const key of path) node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[key] : undefined;
  return typeof node === "string" ? node : "";
}

function resource(def: Omit<ResourceDef, "shortNames" | "hasStatus" | "fields"> & Partial<ResourceDef>): ResourceDef {
  return { shortNames: [], hasStatus: false, fields: {}, ...def };
}

export const RESOURCES: readonly ResourceDef[] = [
  resource({ group: "", version: "v1", plural: "namespaces", singular: "namespace", kind: "Namespace", namespaced: false, shortNames: ["ns"], hasStatus: true, fields: { "status.phase": (o) => at(o, "status", "phase") }, defaults: (o) => { o.status ??= { phase: "Active" }; } }),
  resource({ group: "", version: "v1", plural: "nodes", singular: "node", kind: "Node", namespaced: false, shortNames: ["no"], hasStatus: true, validate: validateNode, fields: { "spec.unschedulable": (o) => String((o.spec as { unschedulable?: boolean } | undefined)?.unschedulable ?? false) } }),
  resource({
    group: "", version: "v1", plural: "pods", singular: "pod", kind: "Pod", namespaced: true, shortNames: ["po"], hasStatus: true, isPod: true, validate: validatePod, validateUpdate: validatePodUpdate,
    fields: {
      "spec.nodeName": (o) => at(o, "spec", "nodeName"),
      "spec.restartPolicy": (o) => at(o, "spec", "restartPolicy"),
      "spec.schedulerName": (o) => at(o, "spec", "schedulerName"),
      "spec.serviceAccountName": (o) => at(o, "spec", "serviceAccountName"),
      "spec.hostNetwork": (o) => String((o.spec as { hostNetwork?: boolean } | undefined)?.hostNetwork ?? false),
      "status.phase": (o) => at(o, "status", "phase"),
      "status.podIP": (o) => at(o, "status", "podIP"),
      "status.nominatedNodeName": (o) => at(o, "status", "nominatedNodeName"),
    },
    defaults: defaultPod,
  }),
  resource({
    group: "", version: "v1", plural: "events", singular: "event", kind: "Event", namespaced: true, shortNames: ["ev"],
    fields: Object.fromEntries([
      ...["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"].map((key) => [`involvedObject.${key}`, (o: KubeObject) => at(o, "involvedObject", key)]),
      ["reason", (o: KubeObject) => at(o, "reason")],
      ["type", (o: KubeObject) => at(o, "type")],
      ["reportingComponent", (o: KubeObject) => at(o, "reportingComponent")],
      ["source", (o: KubeObject) => at(o, "source", "component")],
    ]),
  }),
  resource({ group: "", version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap", namespaced: true, shortNames: ["cm"], validate: validateConfigMap }),
  resource({ group: "", version: "v1", plural: "services", singular: "service", kind: "Service", namespaced: true, shortNames: ["svc"], hasStatus: true, validate: validateService, defaults: defaultService }),
  resource({ group: "networking.k8s.io", version: "v1", plural: "networkpolicies", singular: "networkpolicy", kind: "NetworkPolicy", namespaced: true, shortNames: ["netpol"], generation: true, validate: validateNetworkPolicy, defaults: defaultNetworkPolicy }),
  resource({ group: "", version: "v1", plural: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount", namespaced: true, shortNames: ["sa"] }),
  resource({ group: "apps", version: "v1", plural: "daemonsets", singular: "daemonset", kind: "DaemonSet", namespaced: true, shortNames: ["ds"], hasStatus: true, generation: true, validate: validateDaemonSet, validateUpdate: validateDaemonSetUpdate, defaults: defaultDaemonSet }),
  // the Deployment controller (controllers/deployment.ts) runs them; the selector and template rules are the DaemonSet's
  resource({ group: "apps", version: "v1", plural: "deployments", singular: "deployment", kind: "Deployment", namespaced: true, shortNames: ["deploy"], hasStatus: true, generation: true, validate: validateDaemonSet, defaults: defaultDeployment }),
  resource({ group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", singular: "clusterrole", kind: "ClusterRole", namespaced: false, validate: validateClusterRole }),
  resource({ group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", singular: "clusterrolebinding", kind: "ClusterRoleBinding", namespaced: false, validate: validateRoleBinding }),
  resource({ group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", singular: "role", kind: "Role", namespaced: true, validate: validateClusterRole }),
  resource({ group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", singular: "rolebinding", kind: "RoleBinding", namespaced: true, validate: validateRoleBinding }),
  resource({ group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", singular: "customresourcedefinition", kind: "CustomResourceDefinition", namespaced: false, shortNames: ["crd", "crds"], hasStatus: true, generation: true, validate: validateCrd, defaults: defaultCrd }),
  resource({ group: "crd.k8s.amazonaws.com", version: "v1alpha1", plural: "eniconfigs", singular: "eniconfig", kind: "ENIConfig", namespaced: false, validate: validateEniConfig }),
  resource({ group: "vpcresources.k8s.aws", version: "v1alpha1", plural: "cninodes", singular: "cninode", kind: "CNINode", namespaced: false, shortNames: ["cnd"], validate: validateCniNode }),
];

export function apiVersionOf(def: ResourceDef): string {
  return def.group === "" ? def.version : `${def.group}/${def.version}`;
}

/** The store's key for a resource: `pods`, `eniconfigs.crd.k8s.amazonaws.com`. */
export function resourceKey(def: ResourceDef): string {
  return def.group === "" ? def.plural : `${def.plural}.${def.group}`;
}

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return RESOURCES.find((def) => def.group === group && def.version === version && def.plural === plural);
}

export function supportedFields(def: ResourceDef): string[] {
  return ["metadata.name", "metadata.namespace", ...Object.keys(def.fields)];
}

export function fieldValue(def: ResourceDef, object: KubeObject, field: string): string {
  if (field === "metadata.name") return object.metadata.name ?? "";
  if (field === "metadata.namespace") return object.metadata.namespace ?? "";
  return def.fields[field]?.(object) ?? "";
}
