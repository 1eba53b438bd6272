/**
 * The kernel as egress wiring reaches it: `ip -batch -` and `ip -json` processes, in the
 * node's namespace or (through nsenter) in a pod's; sysctls written from inside the namespace. Only egress pods pay these
 * processes; a pod without egress never comes here. Argv arrays only; every name in a batch
 * line was validated by the core's plan.
 */
import { NetConfigError } from "../core/errors.ts";
import { checkIfName } from "../core/validation.ts";
import { spawn, type Ran } from "./iptables.ts";
import { NetnsHandle, type NetnsRef } from "./netns.ts";


export interface JsonAddr {
  family: "inet" | "inet6";
  local: string;
  prefixlen: number;
  scope: string;
}
export interface JsonLink {
  ifname: string;
  ifindex: number;
  address: string;
  mtu: number;
  operstate: string;
  flags: string[];
  addr_info?: JsonAddr[];
}
export interface JsonRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  scope?: string;
  prefsrc?: string;
}

/** One namespace: "self" (net-config's own) or a path nsenter enters. */
export class NsShell {
  /** Throws NETNS_NOT_FOUND (404) when the path is not a namespace net-config can enter; validates it first. */
  constructor(readonly ns: NetnsRef) {
    NetnsHandle.open(ns).close();
  }

  /** The path another process names this namespace by (a veth's peer goes there). */
  get path(): string {
    return this.ns === "self" ? `/proc/${process.pid}/ns/net` : this.ns.path;
  }

  private argv(cmd: string[]): string[] {
    return this.ns === "self" ? cmd : ["nsenter", `--net=${this.ns.path}`, ...cmd];
  }

  async run(cmd: string[], stdin?: string): Promise<Ran> {
    return spawn(this.argv(cmd), stdin);
  }

  /** `ip -batch -`: stops at the first failing line, which is thrown with its text. */
  async batch(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const r = await this.run(["ip", "-batch", "-"], lines.join("\n") + "\n");
    if (r.code !== 0) throw new NetConfigError("EGRESS_KERNEL_FAILED", `ip -batch in ${this.describe()}: ${r.err.trim() || `exit ${r.code}`}`);
  }

  /** Deletes a link; false when there was none (or the namespace is gone). */
  async deleteLink(dev: string): Promise<boolean> {
    checkIfName(dev, "dev");
    const r = await this.run(["ip", "link", "del", "dev", dev]);
    return r.code === 0;
  }

  sysctl(key: string, value: string): void {
    if (!/^[a-z0-9_]+(\/[A-Za-z0-9_.\-]+)+$/.test(key) || !/^[0-9]+$/.test(value)) throw new NetConfigError("INVALID_SYSCTL", `sysctl ${key}=${value} is not a valid setting`);
    const h = NetnsHandle.open(this.ns);
    try {
      h.writeSysctl(key, value);
    } catch (err) {
      throw new NetConfigError("EGRESS_KERNEL_FAILED", `sysctl ${key}=${value} in ${this.describe()}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      h.close();
    }
  }

  /** The link with its addresses, or undefined when it (or the namespace) is not there. */
  async link(dev: string): Promise<JsonLink | undefined> {
    checkIfName(dev, "dev");
    const r = await this.run(["ip", "-json", "addr", "show", "dev", dev]);
    if (r.code !== 0) return undefined;
    return (JSON.parse(r.out || "[]") as JsonLink[])[0];
  }

  async routes(family: 4 | 6): Promise<JsonRoute[]> {
    const r = await this.run(["ip", "-json", family === 4 ? "-4" : "-6", "route", "show", "table", "main"]);
    if (r.code !== 0) throw new NetConfigError("EGRESS_KERNEL_FAILED", `ip route show in ${this.describe()}: ${r.err.trim()}`);
    return JSON.parse(r.out || "[]") as JsonRoute[];
  }

  private describe(): string {
    return this.ns === "self" ? "the node namespace" : this.ns.path;
  }
}
