/**
 * In-process fakes of addr-broker's peers, built from the same contracts and keeping real
 * state: net-config (wired pods; a pod's veth exists while its netns path does) and
 * pool-manager (a versioned capacity with a real long poll; usage reports recorded).
 */
import { existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { Hono } from "hono";
import type { CapacitySnapshot } from "../../../shared/contracts/capacity.ts";
import { getCapacity } from "../../../shared/contracts/capacity.ts";
import { checkPod, listPodLinks, unwirePod, wirePod } from "../../../shared/contracts/netconfig.ts";
import { postUsage, type UsageReport } from "../../../shared/contracts/usage.ts";
import { ServiceError } from "../../../shared/ipc/errors.ts";
import { handle, serveUnix, type UnixServer } from "../../../shared/ipc/server.ts";
import { hostVethName } from "../../../shared/naming.ts";

export interface WiredPod {
  containerId: string;
  ifName: string;
  netns: string;
  address: string;
  hostVeth: string;
}

const mac = (seed: string) => "02:" + (createHash("sha1").update(seed).digest("hex").slice(0, 10).match(/../g) ?? []).join(":");

export class FakeNetConfig {
  readonly pods = new Map<string, WiredPod>();
  /** Upcoming wire calls that fail (as a kernel refusal would). */
  failWires = 0;
  /** When set, unwire calls wait for it before answering (a slow kernel). */
  unwireGate: Promise<void> | undefined;
  /** When set, wire calls wait for it before making anything (a slow kernel). */
  wireGate: Promise<void> | undefined;
  readonly app = new Hono();

  constructor(
    readonly vethPrefix = "eni",
    /** Whether a netns path exists (tests without root pass a stand-in). */
    readonly netnsExists: (path: string) => boolean = existsSync,
  ) {
    handle(this.app, wirePod, async (p) => {
      await this.wireGate;
      if (this.failWires > 0) {
        this.failWires--;
        throw new ServiceError("KERNEL_REFUSED", "RTNETLINK answers: File exists (injected)", 500);
      }
      if (!this.netnsExists(p.netns)) throw new ServiceError("NETNS_NOT_FOUND", `netns ${p.netns} does not exist`, 404, "netns");
      for (const other of this.pods.values()) {
        if (other.address === p.address && (other.containerId !== p.containerId || other.ifName !== p.ifName)) {
          throw new ServiceError("ADDRESS_IN_USE", `${p.address} is already wired to ${other.containerId}`, 409, "address");
        }
      }
      // A multi-homed pod's interface n ≥ 1 is named after "<namespace>.<pod>.<n>", as net-config names it.
      const name = p.podName !== undefined && (p.index ?? 0) > 0 ? `${p.podName}.${p.index}` : p.podName;
      const hostVeth = hostVethName(p.vethPrefix ?? this.vethPrefix, { namespace: p.podNamespace, name, containerId: p.containerId, ifName: p.ifName });
      this.pods.set(`${p.containerId}/${p.ifName}`, { containerId: p.containerId, ifName: p.ifName, netns: p.netns, address: p.address, hostVeth });
      return { hostVeth, podMac: mac(`pod${p.containerId}${p.ifName}`), podIfIndex: 2 + (p.index ?? 0), hostMac: mac(`host${p.containerId}${p.ifName}`) };
    });
    handle(this.app, unwirePod, async (p) => {
      await this.unwireGate;
      const key = `${p.containerId}/${p.ifName}`;
      const had = this.pods.get(key);
      if (had && had.address === p.address) this.pods.delete(key);
      return { removed: had ? [had.hostVeth] : [] };
    });
    handle(this.app, checkPod, (p) => {
      const w = this.pods.get(`${p.containerId}/${p.ifName}`);
      const problems: string[] = [];
      if (!w) problems.push(`no veth for ${p.containerId}/${p.ifName}`);
      else if (w.address !== p.address) problems.push(`veth routes ${w.address}, not ${p.address}`);
      return { ok: problems.length === 0, problems };
    });
    handle(this.app, listPodLinks, () => ({ hostVeths: [...this.pods.values()].filter((w) => this.netnsExists(w.netns)).map((w) => w.hostVeth) }));
  }

  serve(path: string): Promise<UnixServer> {
    return serveUnix(this.app, path);
  }
}

export class FakePoolManager {
  readonly app = new Hono();
  readonly usage: UsageReport[] = [];
  private waiters: Array<() => void> = [];
  snapshot: CapacitySnapshot | undefined;

  constructor(snapshot?: CapacitySnapshot) {
    this.snapshot = snapshot;
    handle(this.app, getCapacity, async (q) => {
      const fresh = () => this.snapshot && (this.snapshot.version > q.since || this.snapshot.epoch !== q.epoch);
      if (!fresh() && q.waitMs > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, q.waitMs);
          this.waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      if (!this.snapshot) throw new ServiceError("NOT_READY", "no capacity yet", 503);
      return this.snapshot;
    });
    handle(this.app, postUsage, (u) => {
      this.usage.push(u);
      return { ok: true as const };
    });
  }

  publish(snapshot: CapacitySnapshot): void {
    this.snapshot = snapshot;
    for (const w of this.waiters.splice(0)) w();
  }

  serve(path: string): Promise<UnixServer> {
    return serveUnix(this.app, path);
  }
}

/** A ready IPv4 capacity: ENI 0 with /32s 10.0.1.1…N, or /28 prefixes. */
export function testCapacity(opts: { addresses?: number; prefixes?: string[]; version?: number; epoch?: string; shortage?: string } = {}): CapacitySnapshot {
  const cidrs = opts.prefixes
    ? opts.prefixes.map((cidr) => ({ cidr, kind: "prefix" as const, draining: false }))
    : Array.from({ length: opts.addresses ?? 8 }, (_, i) => ({ cidr: `10.0.${1 + Math.floor((i + 1) / 256)}.${(i + 1) % 256}/32`, kind: "address" as const, draining: false }));
  return {
    version: opts.version ?? 1,
    epoch: opts.epoch ?? "test",
    family: "ipv4",
    prefixDelegation: !!opts.prefixes,
    vpcCidrs: ["10.0.0.0/16"],
    ready: true,
    shortage: opts.shortage,
    enis: [
      {
        id: "eni-0a",
        deviceNumber: 0,
        networkCard: 0,
        routeTable: 254,
        mac: "02:00:00:00:00:01",
        subnetId: "subnet-1",
        subnetCidr: "10.0.0.0/16",
        gateway: "10.0.0.1",
        primaryIp: "10.0.0.10",
        primary: true,
        usable: true,
        cidrs,
      },
    ],
  };
}

/**
 * ENABLE_MULTI_NIC: testCapacity() (card 0's ENI with 10.0.1.1…8) plus network card 1's set-up
 * ENI (device 0, route table 10100, primary 10.1.0.4 in 10.1.0.0/16, gateway 10.1.0.1) holding
 * `card1` (default 10.1.0.5 and 10.1.0.6), and card 1 named as managed.
 */
export function multiCardCapacity(card1: string[] = ["10.1.0.5", "10.1.0.6"]): CapacitySnapshot {
  const base = testCapacity();
  const eni = {
    id: "eni-c1d0",
    deviceNumber: 0,
    networkCard: 1,
    routeTable: 10100,
    mac: "02:00:00:00:c1:00",
    subnetId: "subnet-1",
    subnetCidr: "10.1.0.0/16",
    gateway: "10.1.0.1",
    primaryIp: "10.1.0.4",
    primary: false,
    usable: false,
    cidrs: card1.map((a) => ({ cidr: `${a}/32`, kind: "address" as const, draining: false })),
  };
  return { ...base, networkCards: [1], enis: [...base.enis, eni] };
}
