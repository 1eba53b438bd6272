// Where a pod's volumes live on a simulated node and how a container mounts them. Pure.
//
// hostPath volumes map to the node's own directories: the CNI and aws-node paths to the
// node's layout (what its services use), the kernel's views (/proc, /sys, bpf, netns,
// modules) to the machine's own, and any other path to `<node root>/host/<path>` — each
// simulated node has a root filesystem of its own. emptyDir and configMap volumes are
// directories under the pod's directory, removed with the pod.
import { isAbsolute, join, normalize } from "node:path";
import { assertDnsLabel } from "./names.ts";
import type { Container, Pod, Volume } from "./pod-types.ts";
import { PodSpecError } from "./spec-error.ts";

export class VolumeError extends PodSpecError {}

export interface NodePaths {
  /** The node's root: `<dir>/nodes/<index>`. */
  root: string;
  cniConfDir: string;
  cniBinDir: string;
  runDir: string;
  logDir: string;
}

/** Host paths that are the machine's own on every simulated node (the kernel's views). */
const MACHINE_PATHS = ["/proc", "/sys", "/sys/fs/bpf", "/var/run/netns", "/run/netns", "/lib/modules"];

function nodeMappings(node: NodePaths): Array<[string, string]> {
  return [
    ["/etc/cni/net.d", node.cniConfDir],
    ["/opt/cni/bin", node.cniBinDir],
    ["/var/run/aws-node", node.runDir],
    ["/run/aws-node", node.runDir],
    ["/var/log/aws-routed-eni", node.logDir],
    ...MACHINE_PATHS.map((p): [string, string] => [p, p]),
  ];
}

/** A path with no `..`, `:` or `,` (podman's `-v` separators), made absolute and normalized. */
export function cleanAbsolutePath(value: unknown, field: string): string {
  if (typeof value !== "string" || !isAbsolute(value)) throw new VolumeError("KUBELET_VOLUME_PATH", field, `${JSON.stringify(value)} is not an absolute path`);
  if (value.split("/").includes("..")) throw new VolumeError("KUBELET_VOLUME_PATH", field, `${JSON.stringify(value)} must not contain '..'`);
  if (/[:,\0\n]/.test(value)) throw new VolumeError("KUBELET_VOLUME_PATH", field, `${JSON.stringify(value)} must not contain ':', ',' or control characters`);
  const n = normalize(value);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

function relativePath(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "" || isAbsolute(value) || value.split("/").includes("..") || /[:,\0\n]/.test(value)) {
    throw new VolumeError("KUBELET_VOLUME_PATH", field, `${JSON.stringify(value)} must be a relative path without '..', ':' or ','`);
  }
  return normalize(value);
}

/** Where a hostPath volume's path is on this simulated node. */
export function hostPathOnNode(path: string, node: NodePaths): string {
  const clean = cleanAbsolutePath(path, "hostPath.path");
  let best: [string, string] | undefined;
  for (const m of nodeMappings(node)) {
    const [from] = m;
    if ((clean === from || clean.startsWith(`${from}/`)) && (!best || from.length > best[0].length)) best = m;
  }
  if (best) return best[1] + clean.slice(best[0].length);
  return clean === "/" ? join(node.root, "host") : join(node.root, "host", clean);
}

export type VolumeSource =
  | { kind: "hostPath"; path: string; type: string; machine: boolean }
  | { kind: "serviceAccount"; path: string; serviceAccount: string; namespace: string }
  | { kind: "emptyDir"; path: string }
  | { kind: "configMap"; path: string; configMap: string; items?: Array<{ key: string; path: string; mode?: number }>; defaultMode: number; optional: boolean };

export const HOST_PATH_TYPES = ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"];

/** The directory that holds a pod's volumes and logs on its node. */
export function podDir(node: NodePaths, uid: string): string {
  return join(node.root, "pods", uid);
}

function volumeSource(v: Volume, at: string, node: NodePaths, dir: string): VolumeSource {
  const name = assertDnsLabel(v.name, `${at}.name`);
  if (v.hostPath) {
    const path = cleanAbsolutePath(v.hostPath.path, `${at}.hostPath.path`);
    const type = v.hostPath.type ?? "";
    if (!HOST_PATH_TYPES.includes(type)) throw new VolumeError("KUBELET_VOLUME_TYPE", `${at}.hostPath.type`, `unsupported value ${JSON.stringify(type)}: supported values: ${HOST_PATH_TYPES.filter(Boolean).join(", ")}`);
    const mapped = hostPathOnNode(path, node);
    return { kind: "hostPath", path: mapped, type, machine: MACHINE_PATHS.some((p) => mapped === p || mapped.startsWith(`${p}/`)) };
  }
  if (v.emptyDir) return { kind: "emptyDir", path: join(dir, "volumes/empty-dir", name) };
  if (v.configMap) {
    if (!v.configMap.name) throw new VolumeError("KUBELET_VOLUME_REF", `${at}.configMap.name`, "required");
    const items = v.configMap.items?.map((item, j) => {
      if (!item.key) throw new VolumeError("KUBELET_VOLUME_REF", `${at}.configMap.items[${j}].key`, "required");
      return { key: item.key, path: relativePath(item.path, `${at}.configMap.items[${j}].path`), ...(item.mode === undefined ? {} : { mode: item.mode }) };
    });
    return { kind: "configMap", path: join(dir, "volumes/configmap", name), configMap: v.configMap.name, ...(items ? { items } : {}), defaultMode: v.configMap.defaultMode ?? 0o644, optional: v.configMap.optional ?? false };
  }
  throw new VolumeError("KUBELET_VOLUME_KIND", at, "unsupported volume source (hostPath, emptyDir and configMap are)");
}

/** Where every container finds its pod's service account token (in-cluster clients read it there). */
export const SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";
/** The volume the API server's ServiceAccount admission adds to a pod (named kube-api-access-<random> there). */
const SERVICE_ACCOUNT_VOLUME = "kube-api-access";

/** Every volume of the pod by name, checked; with the service account's token unless the pod opts out. */
export function podVolumes(pod: Pod, node: NodePaths): Map<string, VolumeSource> {
  const dir = podDir(node, pod.metadata.uid ?? "");
  const out = new Map<string, VolumeSource>();
  for (const [i, v] of (pod.spec?.volumes ?? []).entries()) {
    const source = volumeSource(v, `spec.volumes[${i}]`, node, dir);
    if (out.has(v.name ?? "")) throw new VolumeError("KUBELET_VOLUME_DUPLICATE", `spec.volumes[${i}].name`, `duplicate volume ${JSON.stringify(v.name)}`);
    out.set(v.name ?? "", source);
  }
  if (pod.spec?.automountServiceAccountToken !== false && !out.has(SERVICE_ACCOUNT_VOLUME)) {
    const serviceAccount = assertDnsLabel(pod.spec?.serviceAccountName ?? "default", "spec.serviceAccountName");
    out.set(SERVICE_ACCOUNT_VOLUME, { kind: "serviceAccount", path: join(dir, "volumes/serviceaccount"), serviceAccount, namespace: pod.metadata.namespace ?? "default" });
  }
  return out;
}

export interface MountSpec {
  source: string;
  target: string;
  readOnly: boolean;
  /** Bind propagation: rprivate (None), rslave (HostToContainer), rshared (Bidirectional). */
  propagation: "rprivate" | "rslave" | "rshared";
}

const PROPAGATION: Record<string, MountSpec["propagation"]> = { None: "rprivate", HostToContainer: "rslave", Bidirectional: "rshared" };

export function containerMounts(container: Container, volumes: ReadonlyMap<string, VolumeSource>, field: string): MountSpec[] {
  const mounts = declaredMounts(container, volumes, field);
  const token = volumes.get(SERVICE_ACCOUNT_VOLUME);
  if (token?.kind === "serviceAccount" && !mounts.some((m) => m.target === SERVICE_ACCOUNT_MOUNT)) {
    mounts.push({ source: token.path, target: SERVICE_ACCOUNT_MOUNT, readOnly: true, propagation: "rprivate" });
  }
  return mounts;
}

function declaredMounts(container: Container, volumes: ReadonlyMap<string, VolumeSource>, field: string): MountSpec[] {
  const privileged = container.securityContext?.privileged === true;
  return (container.volumeMounts ?? []).map((m, i) => {
    const at = `${field}.volumeMounts[${i}]`;
    const volume = volumes.get(m.name ?? "");
    if (!volume) throw new VolumeError("KUBELET_VOLUME_REF", `${at}.name`, `no volume ${JSON.stringify(m.name)} in spec.volumes`);
    const target = cleanAbsolutePath(m.mountPath, `${at}.mountPath`);
    const propagation = PROPAGATION[m.mountPropagation ?? "None"];
    if (!propagation) throw new VolumeError("KUBELET_VOLUME_PROPAGATION", `${at}.mountPropagation`, `unsupported value ${JSON.stringify(m.mountPropagation)}: supported values: None, HostToContainer, Bidirectional`);
    if (propagation === "rshared" && !privileged) throw new VolumeError("KUBELET_VOLUME_PROPAGATION", `${at}.mountPropagation`, "Bidirectional mount propagation is available only to privileged containers");
    const source = m.subPath ? join(volume.path, relativePath(m.subPath, `${at}.subPath`)) : volume.path;
    return { source, target, readOnly: m.readOnly === true || volume.kind === "configMap", propagation };
  });
}

/** podman's `-v SOURCE:TARGET:OPTIONS` for each mount. */
export function mountArgs(mounts: readonly MountSpec[]): string[] {
  return mounts.flatMap((m) => ["-v", `${m.source}:${m.target}:${[m.readOnly ? "ro" : "rw", m.propagation].join(",")}`]);
}
