// What every pod worker of one kubelet shares: the node's identity and paths, the API, the
// runtime, the back-offs and the log — each port narrowed to what a pod worker uses, so a
// worker can be driven by fakes that keep state.
import type { Logger } from "pino";
import type { KubeApi } from "./api.ts";
import type { Backoff } from "./backoff.ts";
import type { EventRecorder } from "./events.ts";
import type { Images } from "./images.ts";
import type { Limiter } from "./limiter.ts";
import type { Podman } from "./podman.ts";
import type { NetProber } from "./probes.ts";
import type { Sandboxes } from "./sandbox.ts";
import type { NodePaths } from "./volumes.ts";

export type PodApi = Pick<KubeApi, "configMaps" | "patchPodStatus" | "deletePodNow">;
export type PodRuntime = Pick<Podman, "runDetached" | "remove" | "stop" | "exec">;
export type PodSandboxes = Pick<Sandboxes, "create" | "destroy">;
export type EventSink = Pick<EventRecorder, "record">;
export type ImageSource = Pick<Images, "resolve">;
export type NetProbes = Pick<NetProber, "ask">;

export interface NodeContext {
  prefix: string;
  nodeIndex: number;
  nodeName: string;
  nodeNetns: string;
  hostIP: string;
  paths: NodePaths;
  api: PodApi;
  events: EventSink;
  podman: PodRuntime;
  sandboxes: PodSandboxes;
  net: NetProbes;
  images: ImageSource;
  /** Crashed containers: 10 s doubling to 5 min on a real node. */
  restarts: Backoff;
  /** Failed sandbox creation (CNI ADD) and other failed pod set-up. */
  setupRetry: Backoff;
  /** How many containers are started at once. */
  starts: Limiter;
  log: Logger;
  /** The container name for (pod, container), made unique on the node when another pod holds the plain one. */
  containerName(uid: string, namespace: string, pod: string, container: string): string;
  /** "no" while the kubelet runs; once it stops, whether pods are torn down or left running. */
  stopping(): "no" | "teardown" | "leave";
  /** Asks for a look at the node's containers soon (a container was stopped or may have died). */
  relist(): void;
}
