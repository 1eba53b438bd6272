/**
 * A network namespace the adapter works in, named by path (/proc/<pid>/ns/net,
 * /run/netns/<name>, /var/run/netns/<name>) or "self" (the process's own namespace).
 *
 * Work inside another namespace happens synchronously on the calling thread: setns there,
 * do the syscalls (create a socket, open a sysctl file), setns back. Nothing else runs on
 * the JS thread in between, and other threads of the process are never moved (setns is
 * per thread), so the rest of the process keeps its namespace.
 */
import { closeSync, fstatSync, openSync, writeSync, readFileSync } from "node:fs";
import { close, setns } from "./netlink/libc.ts";
import { invalid, NetConfigError } from "../core/errors.ts";
import { checkNetnsPath } from "../core/validation.ts";

export type NetnsRef = "self" | { path: string };

let ownNsFd: number | undefined;
function ownNamespaceFd(): number {
  // The JS thread's namespace at first use: the one to return to.
  ownNsFd ??= openSync("/proc/thread-self/ns/net", "r");
  return ownNsFd;
}

/** True when the open file is a namespace file (nsfs), not e.g. the empty mount point a bind mount left behind. */
function isNamespaceFile(fd: number): boolean {
  return fstatSync(fd).dev === fstatSync(ownNamespaceFd()).dev;
}

/**
 * Where the host's /proc is seen by this process: "/proc" when net-config runs in the host's
 * PID namespace (a process on the node), e.g. "/host/proc" in the DaemonSet's container, which
 * mounts the host's /proc there. Netns paths a runtime passes (/proc/<pid>/ns/net, the runtime's
 * /run/netns files) name host processes and the host's mount namespace.
 */
let hostProc = "/proc";
const HOST_PROC = /^\/[A-Za-z0-9_.\-]+(\/[A-Za-z0-9_.\-]+)*$/;

export function configureHostProc(dir: string): void {
  if (!HOST_PROC.test(dir) || dir.split("/").includes("..")) throw invalid("hostProc", `${JSON.stringify(dir)} must be an absolute path`);
  hostProc = dir;
}

/** The path as validated (a runtime's form), with the host's /proc re-rooted where net-config sees it. */
function checkOpenablePath(path: string): void {
  if (hostProc !== "/proc" && path.startsWith(`${hostProc}/`)) checkNetnsPath(`/proc${path.slice(hostProc.length)}`, "netns");
  else checkNetnsPath(path, "netns");
}

/**
 * The path net-config must open for a pod's netns. A runtime in another mount namespace (a
 * runtime in its own container, podman under `ip netns exec`, or net-config in the DaemonSet's
 * container) may bind-mount the netns file where net-config sees only an empty mount point or
 * nothing; the caller's view of the same path is <host proc>/<caller pid>/root<path>. Paths
 * that are namespaces here are used as they are; /proc/<pid>/... paths name host pids.
 */
export function resolveNetnsPath(path: string, callerPid?: number): string {
  if (path === "") return path;
  if (path.startsWith("/proc/")) return hostProc === "/proc" ? path : `${hostProc}${path.slice("/proc".length)}`;
  if (callerPid === undefined || !/^\/(var\/)?run\/netns\//.test(path)) return path;
  try {
    const fd = openSync(path, "r");
    try {
      if (isNamespaceFile(fd)) return path;
    } finally {
      closeSync(fd);
    }
  } catch {
    // not visible here: try the caller's view
  }
  return `${hostProc}/${callerPid}/root${path}`;
}

export function describeNetns(ns: NetnsRef): string {
  return ns === "self" ? "self" : ns.path;
}

/** An open handle on a namespace (an fd that pins it); close() releases it. */
export class NetnsHandle {
  private constructor(
    readonly ref: NetnsRef,
    readonly fd: number | undefined,
  ) {}

  static open(ref: NetnsRef): NetnsHandle {
    if (ref === "self") return new NetnsHandle(ref, undefined);
    checkOpenablePath(ref.path);
    let fd: number;
    try {
      fd = openSync(ref.path, "r");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new NetConfigError("NETNS_NOT_FOUND", `cannot open network namespace ${ref.path}: ${code ?? err}`, "netns", 404);
    }
    if (!isNamespaceFile(fd)) {
      closeSync(fd);
      throw new NetConfigError("NETNS_NOT_FOUND", `${ref.path} is not a network namespace as net-config sees it (a netns bind mount made in another mount namespace?)`, "netns", 404);
    }
    return new NetnsHandle(ref, fd);
  }

  /** An fd naming this namespace for IFLA_NET_NS_FD (the process's own for "self"). */
  peerFd(): number {
    return this.fd ?? ownNamespaceFd();
  }

  /** Run `fn` with the calling thread inside this namespace; `fn` must be synchronous. */
  within<T>(fn: () => T): T {
    if (this.fd === undefined) return fn();
    const home = ownNamespaceFd();
    setns(this.fd);
    try {
      return fn();
    } finally {
      setns(home);
    }
  }

  /** Write a sysctl (path relative to /proc/sys, e.g. "net/ipv6/conf/eni1/accept_ra") of this namespace. */
  writeSysctl(key: string, value: string): void {
    this.within(() => {
      const fd = openSync(`/proc/sys/${key}`, "w");
      try {
        writeSync(fd, value);
      } finally {
        closeSync(fd);
      }
    });
  }

  readSysctl(key: string): string | undefined {
    return this.within(() => {
      try {
        return readFileSync(`/proc/sys/${key}`, "utf8").trim();
      } catch {
        return undefined;
      }
    });
  }

  close(): void {
    if (this.fd !== undefined) close(this.fd);
  }
}
