// The in-memory object store: one global resourceVersion counter, like etcd's revision, and a
// bounded history of changes so a watch can resume from a resourceVersion.
import type { KubeObject } from "./validate.ts";

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoredChange {
  type: ChangeType;
  /** The resource key (`pods`, `eniconfigs.crd.k8s.amazonaws.com`). */
  resource: string;
  resourceVersion: number;
  object: KubeObject;
  /** The object before a MODIFIED change, so watches with selectors see enter and leave. */
  previous?: KubeObject;
}

export interface KubeStoreOptions {
  /** Changes kept for watches that resume from a resourceVersion (default 10000). */
  historyLimit?: number;
  now?: () => Date;
}

type Listener = (change: StoredChange) => void;

/**
 * A mutating admission hook on create (as a MutatingWebhookConfiguration would call): it may
 * change the object in place, or throw a Status error to deny the request.
 */
export type CreateAdmission = (resource: string, object: KubeObject, store: KubeStore) => void;

function identity(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

export class KubeStore {
  #revision = 0;
  readonly #objects = new Map<string, Map<string, KubeObject>>();
  readonly #history: StoredChange[] = [];
  readonly #listeners = new Set<Listener>();
  readonly #admissions = new Set<CreateAdmission>();
  readonly #historyLimit: number;
  readonly now: () => Date;

  constructor(options: KubeStoreOptions = {}) {
    this.#historyLimit = options.historyLimit ?? 10000;
    this.now = options.now ?? (() => new Date());
  }

  get resourceVersion(): string {
    return String(this.#revision);
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const object = this.#objects.get(resource)?.get(identity(namespace, name));
    return object === undefined ? undefined : structuredClone(object);
  }

  /** Every object of a resource, optionally within one namespace, ordered by namespace/name. */
  list(resource: string, namespace?: string): KubeObject[] {
    const all = [...(this.#objects.get(resource)?.entries() ?? [])];
    return all
      .filter(([, object]) => namespace === undefined || object.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, object]) => structuredClone(object));
  }

  /**
   * The stored objects themselves, unordered and not copied: for in-process readers that only
   * read (a controller's pass over everything). A stored object is never changed in place (a
   * change stores a new one), so what this returns stays as it was; it must not be mutated.
   */
  peek(resource: string): readonly Readonly<KubeObject>[] {
    return [...(this.#objects.get(resource)?.values() ?? [])];
  }

  /** Stores a new object; the caller checked it does not exist. Fills uid, timestamps, rv. */
  create(resource: string, object: KubeObject): KubeObject {
    const stored = structuredClone(object);
    stored.metadata.uid ??= crypto.randomUUID();
    stored.metadata.creationTimestamp ??= this.now().toISOString().replace(/\.\d+Z$/, "Z");
    return this.#commit("ADDED", resource, stored);
  }

  /** Replaces an existing object, bumping its resourceVersion. */
  update(resource: string, object: KubeObject): KubeObject {
    return this.#commit("MODIFIED", resource, structuredClone(object));
  }

  delete(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const existing = this.#objects.get(resource)?.get(identity(namespace, name));
    if (existing === undefined) return undefined;
    return this.#commit("DELETED", resource, structuredClone(existing));
  }

  /** Changes after `resourceVersion`, or undefined when history no longer reaches back that far. */
  changesSince(resourceVersion: number): StoredChange[] | undefined {
    const oldest = this.#history[0]?.resourceVersion ?? this.#revision + 1;
    if (resourceVersion < oldest - 1) return undefined;
    return this.#history.filter((change) => change.resourceVersion > resourceVersion);
  }

  /** Adds a mutating admission hook run on every create (after defaults, before validation). */
  addCreateAdmission(hook: CreateAdmission): () => void {
    this.#admissions.add(hook);
    return () => this.#admissions.delete(hook);
  }

  admitCreate(resource: string, object: KubeObject): void {
    for (const hook of this.#admissions) hook(resource, object, this);
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #commit(type: ChangeType, resource: string, object: KubeObject): KubeObject {
    this.#revision += 1;
    object.metadata.resourceVersion = String(this.#revision);
    const key = identity(object.metadata.namespace, object.metadata.name ?? "");
    let objects = this.#objects.get(resource);
    if (objects === undefined) {
      objects = new Map();
      this.#objects.set(resource, objects);
    }
    const previous = objects.get(key);
    if (type === "DELETED") objects.delete(key);
    else objects.set(key, object);
    const change: StoredChange = {
      type,
      resource,
      resourceVersion: this.#revision,
      object,
      ...(type === "MODIFIED" && previous !== undefined ? { previous } : {}),
    };
    this.#history.push(change);
    if (this.#history.length > this.#historyLimit) this.#history.shift();
    for (const listener of this.#listeners) listener(change);
    return structuredClone(object);
  }
}
