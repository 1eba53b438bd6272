// Names the kubelet gives what it creates (containers, sandbox namespaces, sandbox IDs) and
// the labels by which `down`, `main.ts exec` and `main.ts logs` find them. Pure.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { assertNetnsName } from "../vpc/names.ts";
import { PodSpecError } from "./spec-error.ts";

export class KubeletNameError extends PodSpecError {
  constructor(field: string, message: string) {
    super("KUBELET_BAD_NAME", field, message);
  }
}

export const LABEL = {
  namespace: "io.kubernetes.pod.namespace",
  pod: "io.kubernetes.pod.name",
  uid: "io.kubernetes.pod.uid",
  container: "io.kubernetes.container.name",
  stack: "aws-vpc-cni.local/stack",
  node: "aws-vpc-cni.local/node",
  /** Which attempt of the container this is (its restartCount when it was started). */
  attempt: "aws-vpc-cni.local/attempt",
  /** "init" or "app". */
  kind: "aws-vpc-cni.local/container-kind",
} as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const UID = /^[A-Za-z0-9-]{1,64}$/;
const PREFIX = /^[a-z][a-z0-9]{0,15}$/;
/** podman's own rule for container names, kept to a length every tool prints whole. */
export const MAX_CONTAINER_NAME = 63;

/** A container, volume or port name: an RFC 1123 label, as the API server would insist. */
export function assertDnsLabel(value: unknown, field: string): string {
  if (typeof value !== "string" || !DNS_LABEL.test(value)) {
    throw new KubeletNameError(field, `${JSON.stringify(value)} is not a lowercase RFC 1123 label (1-63 of [a-z0-9-], alphanumeric at both ends)`);
  }
  return value;
}

export function assertPodName(value: unknown, field = "metadata.name"): string {
  if (typeof value !== "string" || !DNS_SUBDOMAIN.test(value)) throw new KubeletNameError(field, `${JSON.stringify(value)} is not a lowercase RFC 1123 subdomain`);
  return value;
}

export function assertUid(value: unknown, field = "metadata.uid"): string {
  if (typeof value !== "string" || !UID.test(value)) throw new KubeletNameError(field, `${JSON.stringify(value)} is not a UID`);
  return value;
}

export function assertStackPrefix(value: string): string {
  if (!PREFIX.test(value)) throw new KubeletNameError("prefix", `${JSON.stringify(value)} is not a stack prefix`);
  return value;
}

function hex(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/**
 * `<prefix>-<node>-<pod>-<container>`; past 63 characters the pod and container parts are
 * shortened and a hash of the full name keeps it unique. `salt` (the pod's namespace and
 * UID) is hashed in when the plain name is taken by another pod of the node.
 */
export function containerName(prefix: string, nodeIndex: number, pod: string, container: string, salt?: string): string {
  assertStackPrefix(prefix);
  assertPodName(pod);
  assertDnsLabel(container, "container name");
  const plain = `${prefix}-${nodeIndex}-${pod}-${container}`;
  if (salt === undefined && plain.length <= MAX_CONTAINER_NAME) return plain;
  const suffix = hex(`${plain}/${salt ?? ""}`, 8);
  const room = MAX_CONTAINER_NAME - `${prefix}-${nodeIndex}---${suffix}`.length;
  const podPart = pod.slice(0, Math.max(1, Math.ceil(room / 2))).replace(/[.-]+$/, "");
  const containerPart = container.slice(0, Math.max(1, room - podPart.length)).replace(/-+$/, "");
  return `${prefix}-${nodeIndex}-${podPart}-${containerPart}-${suffix}`;
}

/** The network namespace of a pod's sandbox: under the stack's prefix, so `down` removes leftovers. */
export function sandboxNetns(prefix: string, uid: string): string {
  return assertNetnsName(`${assertStackPrefix(prefix)}-pod-${hex(assertUid(uid), 10)}`);
}

/** The sandbox's ID (K8S_POD_INFRA_CONTAINER_ID, CNI_CONTAINERID): 64 hex characters, one per pod UID. */
export function sandboxId(uid: string): string {
  return hex(`sandbox/${assertUid(uid)}`, 64);
}

/** The labels of a container the kubelet creates. */
export function containerLabels(p: { prefix: string; nodeIndex: number; namespace: string; pod: string; uid: string; container: string; attempt: number; init: boolean }): Record<string, string> {
  return {
    [LABEL.namespace]: p.namespace,
    [LABEL.pod]: p.pod,
    [LABEL.uid]: p.uid,
    [LABEL.container]: p.container,
    [LABEL.stack]: p.prefix,
    [LABEL.node]: String(p.nodeIndex),
    [LABEL.attempt]: String(p.attempt),
    [LABEL.kind]: p.init ? "init" : "app",
  };
}

/** The stack-wide files of its kubelets, under DIR. */
export function kubeletFiles(dir: string): { containersConf: string; rootfs: string } {
  return { containersConf: join(dir, "kubelet", "containers.conf"), rootfs: join(dir, "kubelet", "rootfs") };
}
