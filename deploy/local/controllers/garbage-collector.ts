// The garbage collector: an object whose owners (ownerReferences) are all gone is deleted (the
// Background propagation kubectl delete asks for by default); an owner deleted with
// propagationPolicy Foreground waits, with its foregroundDeletion finalizer, until its
// dependents are gone; one deleted with Orphan has its dependents released (their reference
// to it removed). Pods bound to a node that no longer exists are deleted at once after
// `orphanedPodQuarantineMs`, as the pod GC does: no kubelet is left to finish them.
import { FOREGROUND_FINALIZER, ORPHAN_FINALIZER } from "../sim-kube/deletion.ts";
import { apiVersionOf, resourceKey } from "../sim-kube/resources.ts";
import type { ResourceDef } from "../sim-kube/resources.ts";
import type { StoredChange } from "../sim-kube/store.ts";
import type { KubeObject, OwnerReference } from "../sim-kube/validate.ts";
import { EVENTS, NODES, PODS } from "./cluster.ts";
import type { ClusterApi } from "./cluster.ts";
import { ReconcileLoop, SILENT_LOG } from "./reconcile-loop.ts";
import type { ControllerLog } from "./reconcile-loop.ts";

export interface GarbageCollectorOptions {
  log?: ControllerLog;
  /** How long a pod may stay bound to a node that does not exist (default 40 s). */
  orphanedPodQuarantineMs?: number;
}

interface Tracked {
  def: ResourceDef;
  object: Readonly<KubeObject>;
}

/**
 * Whether a change can make something collectable or finish an owner: a deletion, an object
 * that has (or had) owners, one being deleted, a pod bound to a node, a node. Others — a new
 * NetworkPolicy, a ConfigMap edited — cannot, and start no pass.
 */
function mayCollect(change: StoredChange): boolean {
  if (change.resource === "events") return false;
  if (change.type === "DELETED" || change.resource === resourceKey(NODES)) return true;
  const owned = (o: KubeObject | undefined) => (o?.metadata.ownerReferences?.length ?? 0) > 0;
  if (owned(change.object) || owned(change.previous) || change.object.metadata.deletionTimestamp !== undefined) return true;
  return change.resource === resourceKey(PODS) && ((change.object.spec as { nodeName?: string } | undefined)?.nodeName ?? "") !== "";
}

export class GarbageCollector {
  readonly #loop: ReconcileLoop;
  readonly #log: ControllerLog;
  readonly #quarantineMs: number;
  /** Pod uid → when it was first seen bound to a missing node. */
  readonly #orphanedSince = new Map<string, number>();

  constructor(private readonly cluster: ClusterApi, options: GarbageCollectorOptions = {}) {
    this.#log = options.log ?? SILENT_LOG;
    this.#loop = new ReconcileLoop("garbage-collector", () => this.#pass(), this.#log);
    this.#quarantineMs = options.orphanedPodQuarantineMs ?? 40_000;
  }

  start(): void {
    this.#loop.start((onChange) => this.cluster.subscribe("all", (change) => {
      if (mayCollect(change)) onChange();
    }));
  }

  stop(): void {
    this.#loop.stop();
  }

  #pass(): number | undefined {
    const defs = this.cluster.registry.all().filter((def) => def !== EVENTS);
    // the stored objects as they are (not copies): a pass over a few thousand objects after each
    // change would otherwise copy them all, and the API server shares the pass's event loop
    const all: Tracked[] = defs.flatMap((def) => this.cluster.peek(def).map((object) => ({ def, object })));
    const byUid = new Map(all.map((tracked) => [tracked.object.metadata.uid ?? "", tracked]));
    for (const tracked of all) this.#collect(tracked, byUid, defs);
    for (const tracked of all) this.#finishOwner(tracked, all);
    return this.#collectOrphanedPods();
  }

  /** The owner an ownerReference names if it still exists (same uid); "unknown" for a kind not served. */
  #owner(dependent: KubeObject, reference: OwnerReference, byUid: Map<string, Tracked>, defs: ResourceDef[]): Tracked | "absent" | "unknown" {
    const def = defs.find((candidate) => apiVersionOf(candidate) === reference.apiVersion && candidate.kind === reference.kind);
    if (def === undefined) return "unknown";
    const owner = byUid.get(reference.uid);
    if (owner === undefined || owner.def !== def) return "absent";
    if (def.namespaced && owner.object.metadata.namespace !== dependent.metadata.namespace) return "absent";
    return owner;
  }

  #collect({ def, object }: Tracked, byUid: Map<string, Tracked>, defs: ResourceDef[]): void {
    const references = object.metadata.ownerReferences ?? [];
    const owners = references.map((reference) => this.#owner(object, reference, byUid, defs));
    // an owner of a kind this server does not serve cannot be checked: leave the object alone
    if (references.length === 0 || owners.includes("unknown")) return;
    const present = (index: number) => (typeof owners[index] === "object" ? (owners[index] as Tracked).object : undefined);
    const deleting = object.metadata.deletionTimestamp !== undefined;
    try {
      const allGone = owners.every((owner) => owner === "absent");
      const foreground = references.some((_, index) => present(index)?.metadata.finalizers?.includes(FOREGROUND_FINALIZER));
      if (allGone || foreground) {
        if (!deleting) this.cluster.delete(def, object, { preconditions: { uid: object.metadata.uid } });
        return;
      }
      // drop references to owners that are gone, and to owners being deleted with Orphan
      const kept = references.filter((_, index) => present(index) !== undefined && !present(index)?.metadata.finalizers?.includes(ORPHAN_FINALIZER));
      if (kept.length < references.length) this.cluster.patch(def, object, { metadata: { ownerReferences: kept.length === 0 ? null : kept } }, { type: "merge" });
    } catch (error) {
      this.#log.warn({ object: `${def.plural}/${object.metadata.namespace ?? ""}/${object.metadata.name}`, error: String(error) }, "garbage collection failed");
    }
  }

  /** Drops the collector's finalizer of an owner whose dependents are gone (Foreground) or released (Orphan). */
  #finishOwner({ def, object }: Tracked, all: Tracked[]): void {
    const finalizers = object.metadata.finalizers ?? [];
    if (object.metadata.deletionTimestamp === undefined) return;
    if (!finalizers.includes(FOREGROUND_FINALIZER) && !finalizers.includes(ORPHAN_FINALIZER)) return;
    const dependents = all.filter((tracked) => (tracked.object.metadata.ownerReferences ?? []).some((reference) => reference.uid === object.metadata.uid));
    if (dependents.length > 0) return;
    const current = this.cluster.get(def, object.metadata.namespace, object.metadata.name ?? "");
    if (current === undefined) return;
    this.cluster.patch(def, current, { metadata: { "$deleteFromPrimitiveList/finalizers": [FOREGROUND_FINALIZER, ORPHAN_FINALIZER] } });
  }

  /** Force-deletes pods bound to missing nodes once quarantined; returns when to look again. */
  #collectOrphanedPods(): number | undefined {
    const nodes = new Set(this.cluster.peek(NODES).map((node) => node.metadata.name));
    const seen = new Set<string>();
    let again: number | undefined;
    for (const pod of this.cluster.peek(PODS)) {
      const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName ?? "";
      if (nodeName === "" || nodes.has(nodeName)) continue;
      const uid = pod.metadata.uid ?? "";
      seen.add(uid);
      const since = this.#orphanedSince.get(uid) ?? Date.now();
      this.#orphanedSince.set(uid, since);
      const wait = since + this.#quarantineMs - Date.now();
      if (wait > 0) {
        again = Math.min(again ?? Infinity, wait);
        continue;
      }
      this.cluster.delete(PODS, pod, { gracePeriodSeconds: 0, preconditions: { uid } });
      this.#log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, node: nodeName }, "deleted a pod bound to a node that does not exist");
    }
    for (const uid of this.#orphanedSince.keys()) if (!seen.has(uid)) this.#orphanedSince.delete(uid);
    return again;
  }
}
