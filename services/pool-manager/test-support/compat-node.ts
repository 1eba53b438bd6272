/**
 * A node driven as upstream's ipamd sees it, for the compat replay: a pool check every 5 s
 * of fake time, pods placed on the node's addresses (lowest device first) and deleted, their
 * addresses cooling until the test says the cooldown is over. Reads back EC2's state.
 */
import type { PoolManagerOptions } from "../src/app/pool-manager.ts";
import type { KubePort } from "../src/app/service-ports.ts";
import type { PoolSettings } from "../src/core/settings.ts";
import { FakeBroker } from "./fakes.ts";
import { fakeWorld, manager, type Harness } from "./harness.ts";

export const POOL_CHECK_MS = 5_000;

export class CompatNode {
  readonly broker = new FakeBroker();
  readonly h: Harness;
  /** CIDRs holding the node's pods, one entry per pod, in placement order. */
  private readonly pods: string[] = [];
  /** Labels the test put between calls ("-- 27 pods"), at the count of calls made by then. */
  private readonly marks: { at: number; label: string }[] = [];

  constructor(settings: PoolSettings, o: Partial<PoolManagerOptions> & { instanceType?: string; kube?: KubePort } = {}) {
    const { instanceType, kube, ...opts } = o;
    this.h = manager(fakeWorld(instanceType ? { instanceType } : {}), settings, opts, { broker: this.broker, ...(kube ? { kube } : {}) });
  }

  /** Puts "-- label" into the timeline at this point. */
  mark(label: string): void {
    this.marks.push({ at: this.h.w.ec2.log.length, label: `-- ${label}` });
  }

  /**
   * The mutating calls with the test's marks between them. A DeleteNetworkInterface refused
   * as "in use" right after its detach is left out (upstream retries it the same way; how
   * many times depends on timing, not on the pool's decisions): `deleteRetries` counts them.
   */
  timeline(): { calls: string[]; deleteRetries: number } {
    const calls: string[] = [];
    let deleteRetries = 0;
    const lines = this.h.w.ec2.mutations();
    const log = this.h.w.ec2.log;
    for (let i = 0; i <= log.length; i++) {
      for (const m of this.marks) if (m.at === i) calls.push(m.label);
      if (i === log.length) break;
      if (log[i]!.api === "DeleteNetworkInterface" && log[i]!.error === "InvalidParameterValue") deleteRetries++;
      else calls.push(lines[i]!);
    }
    return { calls, deleteRetries };
  }

  async start(): Promise<void> {
    await this.h.start();
  }

  /** One 5 s pool check (usage as addr-broker reports it, then plan and act). */
  async tick(): Promise<void> {
    await this.h.w.clock.advance(POOL_CHECK_MS);
    await this.h.run(this.h.pm.refreshUsage());
    await this.h.run(this.h.pm.cycle());
  }

  /** Pool checks until `quietTicks` in a row make no mutating call (75 s by default: past the 60 s ENI minimum age). */
  async settle(quietTicks = 15, maxTicks = 400): Promise<void> {
    let quiet = 0;
    for (let i = 0; i < maxTicks && quiet < quietTicks; i++) {
      const before = this.h.w.ec2.log.length;
      await this.tick();
      quiet = this.h.w.ec2.log.length === before ? quiet + 1 : 0;
    }
    if (quiet < quietTicks) throw new Error("the pool did not settle");
  }

  /** Places `n` pods on free addresses, lowest device first; throws when the node has too few. */
  place(n: number): void {
    for (let i = 0; i < n; i++) {
      const cidr = this.freeCidr();
      if (!cidr) throw new Error(`no free address for pod ${i + 1} of ${n}`);
      const u = this.broker.use.get(cidr) ?? { assigned: 0, cooling: 0 };
      this.broker.use.set(cidr, { ...u, assigned: u.assigned + 1 });
      this.pods.push(cidr);
    }
  }

  /** Deletes the `n` pods placed last: their addresses cool. */
  remove(n: number): void {
    for (let i = 0; i < n; i++) {
      const cidr = this.pods.pop();
      if (!cidr) throw new Error("no pod left to delete");
      const u = this.broker.use.get(cidr)!;
      this.broker.use.set(cidr, { assigned: u.assigned - 1, cooling: u.cooling + 1 });
    }
  }

  /** IP_COOLDOWN_PERIOD is over for every deleted pod's address. */
  cooled(): void {
    for (const [cidr, u] of this.broker.use) this.broker.use.set(cidr, { ...u, cooling: 0 });
  }

  /** The node's ENIs in EC2: how many, secondary addresses and prefixes. */
  counts(): { enis: number; addresses: number; prefixes: number } {
    const enis = this.h.enis();
    return { enis: enis.length, addresses: enis.reduce((n, e) => n + e.secondaryIps.length, 0), prefixes: enis.reduce((n, e) => n + e.ipv4Prefixes.length, 0) };
  }

  mutations(): string[] {
    return this.h.w.ec2.mutations();
  }

  stop(): void {
    this.h.pm.stop();
  }

  private freeCidr(): string | undefined {
    for (const e of this.h.enis()) {
      const cidrs = [...e.secondaryIps.map((ip) => ({ cidr: `${ip}/32`, size: 1 })), ...e.ipv4Prefixes.map((p) => ({ cidr: p, size: 16 }))];
      for (const c of cidrs) {
        const u = this.broker.use.get(c.cidr) ?? { assigned: 0, cooling: 0 };
        // A cooling address is not handed out (upstream waits for the cooldown too).
        if (u.assigned + u.cooling < c.size) return c.cidr;
      }
    }
    return undefined;
  }
}
