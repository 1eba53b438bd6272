// The controllers' way to the API: in process, through the very operations the HTTP handlers
// call (validation, defaults, resourceVersion, watch events), reading from the store directly.
// Reads are consistent with the controllers' own writes, so no informer lag to guard against.
import { bindPod } from "../sim-kube/binding.ts";
import { deleteObject } from "../sim-kube/deletion.ts";
import type { DeleteOptions } from "../sim-kube/deletion.ts";
import { createObject, patchObject } from "../sim-kube/operations.ts";
import { MERGE_PATCH, STRATEGIC_MERGE_PATCH } from "../sim-kube/patch.ts";
import { ResourceRegistry } from "../sim-kube/registry.ts";
import { RESOURCES, resourceKey } from "../sim-kube/resources.ts";
import type { ResourceDef } from "../sim-kube/resources.ts";
import type { KubeStore, StoredChange } from "../sim-kube/store.ts";
import type { KubeObject } from "../sim-kube/validate.ts";

function builtin(kind: string): ResourceDef {
  const def = RESOURCES.find((candidate) => candidate.kind === kind && candidate.version === "v1");
  if (def === undefined) throw new Error(`no built-in resource of kind ${kind}`);
  return def;
}

export const PODS = builtin("Pod");
export const NODES = builtin("Node");
export const DAEMONSETS = builtin("DaemonSet");
export const DEPLOYMENTS = builtin("Deployment");
export const EVENTS = builtin("Event");
export const CONFIGMAPS = builtin("ConfigMap");

export class ClusterApi {
  readonly registry: ResourceRegistry;

  constructor(readonly store: KubeStore) {
    this.registry = new ResourceRegistry(store);
  }

  now(): Date {
    return this.store.now();
  }

  list(def: ResourceDef, namespace?: string): KubeObject[] {
    return this.store.list(resourceKey(def), namespace);
  }

  /** Every stored object of a resource, not copied (store.peek): read only. */
  peek(def: ResourceDef): readonly Readonly<KubeObject>[] {
    return this.store.peek(resourceKey(def));
  }

  get(def: ResourceDef, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(resourceKey(def), namespace, name);
  }

  create(def: ResourceDef, namespace: string | undefined, body: KubeObject): KubeObject {
    return createObject(this.store, { def, namespace }, body, false);
  }

  /** A patch of the object or of its /status: strategic (lists merge by key, the default) or JSON merge (lists replaced). */
  patch(def: ResourceDef, object: KubeObject, patch: unknown, options: { subresource?: "status"; type?: "strategic" | "merge" } = {}): KubeObject {
    const contentType = options.type === "merge" ? MERGE_PATCH : STRATEGIC_MERGE_PATCH;
    return patchObject(this.store, { def, namespace: object.metadata.namespace }, object.metadata.name ?? "", contentType, patch, options.subresource, false);
  }

  delete(def: ResourceDef, object: KubeObject, options: Omit<DeleteOptions, "dryRun"> = {}): KubeObject {
    return deleteObject(this.store, { def, namespace: object.metadata.namespace }, object.metadata.name ?? "", { dryRun: false, ...options });
  }

  bind(pod: KubeObject, nodeName: string): void {
    const body = { apiVersion: "v1", kind: "Binding", metadata: { name: pod.metadata.name, uid: pod.metadata.uid }, target: { apiVersion: "v1", kind: "Node", name: nodeName } };
    bindPod(this.store, { def: PODS, namespace: pod.metadata.namespace }, pod.metadata.name ?? "", body, false);
  }

  /** Calls `listener` for every stored change of the given resources. */
  subscribe(defs: readonly ResourceDef[] | "all", listener: (change: StoredChange) => void): () => void {
    const keys = defs === "all" ? undefined : new Set(defs.map(resourceKey));
    return this.store.subscribe((change) => {
      if (keys === undefined || keys.has(change.resource)) listener(change);
    });
  }
}
