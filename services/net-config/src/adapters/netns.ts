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
import { NetConfigError } from "../core/errors.ts";
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
 * The path net-config must open for a pod's netns. A runtime in a private mount namespace
 * (podman under `ip netns exec`, a runtime in its own container) bind-mounts the netns file
 * where net-config sees only the empty mount point; the caller's view of the same path is
 * /proc/<caller pid>/root<path>. Paths that are namespaces here are used as they are.
 */
export function resolveNetnsPath(path: string, callerPid?: number): string {
  if (path === "" || callerPid === undefined || !/^\/(var\/)?run\/netns\//.test(path)) return path;
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
  return `/proc/${callerPid}/root${path}`;
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
    checkNetnsPath(ref.path, "netns");
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
