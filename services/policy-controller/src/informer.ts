/**
 * A watched cache of one resource (client-go's informer, small): list, then watch from the
 * list's resourceVersion; a watch that ends is resumed from the last version seen, and an
 * expired version (410 Gone) relists. Every change reaches `onChange(old, new)`. The
 * controller's own writes are put in with `remember`/`forget` at once, so a reconcile right
 * after a write sees it; an older watch event never overwrites a newer object.
 */
import type { KubeRest } from "../../../shared/kube-rest.ts";
import { keyOf, type Meta } from "./objects.ts";

export type Change<T> = (old: T | undefined, current: T | undefined) => void;

export interface InformerLog {
  warn(obj: object, msg: string): void;
}

function version(object: { metadata: Meta }): number {
  const n = Number(object.metadata.resourceVersion);
  return Number.isFinite(n) ? n : 0;
}

export class Informer<T extends { metadata: Meta }> {
  readonly items = new Map<string, T>();
  #synced = false;
  #stopped = false;
  #watch: AbortController | undefined;
  #version = "";
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly kube: KubeRest,
    private readonly path: string,
    private readonly onChange: Change<T>,
    private readonly log: InformerLog,
    private readonly query: Record<string, string> = {},
  ) {}

  get synced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first list is in (again: nothing more, once synced). */
  async start(): Promise<void> {
    if (this.#synced) return;
    await this.#list();
    this.#synced = true;
    void this.#watchFrom();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#watch?.abort();
  }

  values(): T[] {
    return [...this.items.values()];
  }

  /**
   * Puts an object the controller wrote (a newer version than the cache's wins), without
   * calling onChange: the watch event of the same version that follows does, with both sides
   * at that version, so a listener can tell its own writes from others'.
   */
  remember(object: T): void {
    this.#apply(object, false);
  }

  /** Drops an object the controller deleted, without calling onChange (its DELETED event then finds nothing). */
  forget(object: T): void {
    this.items.delete(keyOf(object.metadata));
  }

  #apply(object: T, notify = true): void {
    const key = keyOf(object.metadata);
    const old = this.items.get(key);
    if (old !== undefined && version(old) > version(object)) return;
    this.items.set(key, object);
    if (notify) this.onChange(old, object);
  }

  #deleted(object: T): void {
    const old = this.items.get(keyOf(object.metadata));
    if (old === undefined) return;
    this.items.delete(keyOf(object.metadata));
    this.onChange(old, undefined);
  }

  async #list(): Promise<void> {
    const list = await this.kube.request<{ metadata: { resourceVersion: string }; items: T[] }>("GET", this.path, { query: this.query });
    const seen = new Set<string>();
    for (const item of list.items) {
      seen.add(keyOf(item.metadata));
      this.#apply(item);
    }
    for (const [key, old] of [...this.items]) {
      if (seen.has(key)) continue;
      this.items.delete(key);
      this.onChange(old, undefined);
    }
    this.#version = list.metadata.resourceVersion;
  }

  async #watchFrom(): Promise<void> {
    if (this.#stopped) return;
    let gone = false;
    const ended = new Promise<unknown>((resolve) => {
      void this.kube
        .watch(this.path, { ...this.query, resourceVersion: this.#version, allowWatchBookmarks: true }, (type, raw) => {
          const object = raw as T & { code?: number };
          if (type === "ERROR") {
            gone = object.code === 410;
            return;
          }
          if (object?.metadata?.resourceVersion) this.#version = object.metadata.resourceVersion;
          if (type === "ADDED" || type === "MODIFIED") this.#apply(object);
          else if (type === "DELETED") this.#deleted(object);
        }, resolve)
        .then((controller) => (this.#watch = controller));
    });
    const err = await ended;
    if (this.#stopped) return;
    if (gone || (err as { statusCode?: number } | null)?.statusCode === 410) {
      try {
        await this.#list();
      } catch (error) {
        this.log.warn({ path: this.path, error: String(error) }, "relist failed; retrying");
      }
    } else if (err) this.log.warn({ path: this.path, error: String(err) }, "watch ended; resuming");
    this.#retry = setTimeout(() => void this.#watchFrom(), err ? 500 : 0);
  }
}
