// The `podman run` argv of one container of a pod. Pure.
import type { SecurityContext } from "./pod-types.ts";
import { PodSpecError } from "./spec-error.ts";
import { mountArgs, type MountSpec } from "./volumes.ts";

export class ContainerSpecError extends PodSpecError {}

/** containerd's default capability set (what a Kubernetes container gets without add/drop). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_MKNOD",
  "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
];

const CAPABILITY = /^(CAP_)?[A-Z_]{2,32}$/;

function capName(value: unknown, field: string): string {
  const upper = typeof value === "string" ? value.toUpperCase() : "";
  if (!CAPABILITY.test(upper)) throw new ContainerSpecError("KUBELET_BAD_CAPABILITY", field, `${JSON.stringify(value)} is not a capability name`);
  return upper === "ALL" || upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
}

/** The container's capability set: containerd's defaults, minus drop (ALL: none), plus add (ALL: every one). */
export function effectiveCapabilities(sc: SecurityContext | undefined, field: string): string[] | "all" {
  const add = (sc?.capabilities?.add ?? []).map((c, i) => capName(c, `${field}.securityContext.capabilities.add[${i}]`));
  const drop = (sc?.capabilities?.drop ?? []).map((c, i) => capName(c, `${field}.securityContext.capabilities.drop[${i}]`));
  if (add.includes("ALL")) return "all";
  const set = new Set(drop.includes("ALL") ? [] : DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c)));
  for (const c of add) set.add(c);
  return [...set].sort();
}

export type RootFilesystem = { kind: "image"; ref: string } | { kind: "rootfs"; path: string };

export interface ContainerRunSpec {
  name: string;
  labels: Record<string, string>;
  /** The network namespace to join: the sandbox's or, for hostNetwork pods, the node's. */
  netnsPath: string;
  hostname: string;
  logPath: string;
  logMaxSize: string;
  env: ReadonlyArray<[string, string]>;
  workingDir?: string;
  user?: string;
  privileged: boolean;
  capabilities: string[] | "all";
  readOnlyRoot: boolean;
  mounts: readonly MountSpec[];
  root: RootFilesystem;
  /** Kubernetes `command` (the image's ENTRYPOINT replaced) and `args` (its CMD replaced). */
  command?: readonly string[];
  args?: readonly string[];
}

/** The busybox root filesystem has no ENTRYPOINT and `sh` as its CMD, as the busybox image. */
function rootfsArgv(command: readonly string[] | undefined, args: readonly string[] | undefined): string[] {
  const argv = [...(command ?? []), ...(args ?? [])];
  return argv.length > 0 ? argv : ["sh"];
}

export function runArgs(s: ContainerRunSpec): string[] {
  const argv = ["run", "-d", "--name", s.name];
  for (const [k, v] of Object.entries(s.labels)) argv.push("--label", `${k}=${v}`);
  argv.push("--network", `ns:${s.netnsPath}`, "--hostname", s.hostname);
  argv.push("--log-driver", "k8s-file", "--log-opt", `path=${s.logPath}`, "--log-opt", `max-size=${s.logMaxSize}`);
  // Kubernetes runs containers without a seccomp profile unless the pod asks for one.
  argv.push("--security-opt", "seccomp=unconfined");
  if (s.privileged) argv.push("--privileged");
  else {
    argv.push("--cap-drop", "all");
    if (s.capabilities === "all") argv.push("--cap-add", "all");
    else for (const c of s.capabilities) argv.push("--cap-add", c);
  }
  if (s.readOnlyRoot) argv.push("--read-only");
  if (s.user !== undefined) argv.push("--user", s.user);
  if (s.workingDir !== undefined) argv.push("--workdir", s.workingDir);
  for (const [k, v] of s.env) argv.push("--env", `${k}=${v}`);
  argv.push(...mountArgs(s.mounts));
  if (s.root.kind === "rootfs") {
    // :O — an overlay per container over the shared busybox tree, which stays untouched.
    argv.push("--rootfs", `${s.root.path}:O`, ...rootfsArgv(s.command, s.args));
  } else {
    if (s.command !== undefined && s.command.length > 0) argv.push("--entrypoint", JSON.stringify(s.command));
    argv.push(s.root.ref, ...(s.args ?? []));
  }
  return argv;
}

/**
 * runAsUser/runAsGroup of the container, else of the pod, as podman's `--user`. With
 * runAsNonRoot the user must be set and not 0: this kubelet does not read an image's own user
 * (the images run here, the aws-node image and busybox, run as root), as the kubelet refuses
 * an image whose user it cannot verify as non-root.
 */
export function userOf(container: SecurityContext | undefined, pod: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean } | undefined, field: string): string | undefined {
  const uid = container?.runAsUser ?? pod?.runAsUser;
  const gid = container?.runAsGroup ?? pod?.runAsGroup;
  for (const [v, f] of [[uid, "runAsUser"], [gid, "runAsGroup"]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1)) throw new ContainerSpecError("KUBELET_BAD_USER", `${field}.securityContext.${f}`, `${JSON.stringify(v)} is not a user/group ID`);
  }
  if ((container?.runAsNonRoot ?? pod?.runAsNonRoot) === true && (uid === undefined || uid === 0)) {
    throw new ContainerSpecError("KUBELET_RUN_AS_ROOT", `${field}.securityContext.runAsNonRoot`, uid === 0 ? "container's runAsUser breaks non-root policy" : "no runAsUser: the image's user cannot be verified as non-root");
  }
  if (uid === undefined) return gid === undefined ? undefined : `0:${gid}`;
  return gid === undefined ? String(uid) : `${uid}:${gid}`;
}
