/**
 * Test fixture for the pure core: a pool that applies the planner's actions to itself the
 * way EC2 would (addresses out of a counter, ENIs at the next free device), so table tests
 * can drive the planner to its fixed point and check the resulting counts.
 */
import type { PlanAction } from "./actions.ts";
import { plan, type Plan } from "./planner.ts";
import type { PoolEni, PoolState, PoolUsage } from "./pool-state.ts";
import { NO_USAGE } from "./pool-state.ts";
import type { PoolLimits, PoolSettings } from "./settings.ts";

/** m5.large: 3 ENIs × 10 IPv4 addresses, trunking; max pods 29. */
export const M5_LARGE: PoolLimits = { instanceType: "m5.large", maxEnis: 3, ipv4PerEni: 10, ipv6PerEni: 10, trunking: true, maxPods: 29 };

export function freshNode(): PoolState {
  return {
    enis: [{ id: "eni-0", deviceNumber: 0, subnetId: "subnet-a", primary: true, trunk: false, efa: false, excluded: false, createdAtMs: -3_600_000, cidrs: [] }],
    unmanagedEnis: 0,
    node: { unschedulable: false, terminating: false },
  };
}

export class FakePool {
  private next = 1;
  private nextEni = 1;
  readonly history: Plan[] = [];
  constructor(
    public state: PoolState,
    public usage: PoolUsage = NO_USAGE,
  ) {}

  apply(actions: PlanAction[], now: number): void {
    for (const a of actions) {
      if (a.kind === "assign") this.eni(a.eniId).cidrs.push(...this.cidrs(a.cidrKind, a.count));
      else if (a.kind === "createEni") {
        const used = new Set(this.state.enis.map((e) => e.deviceNumber));
        let dev = 1;
        while (used.has(dev)) dev++;
        const eni: PoolEni = { id: `eni-${this.nextEni++}`, deviceNumber: dev, subnetId: "subnet-a", primary: false, trunk: false, efa: false, excluded: false, createdAtMs: now, cidrs: this.cidrs(a.cidrKind, a.count) };
        this.state.enis.push(eni);
      } else if (a.kind === "release") {
        const e = this.eni(a.eniId);
        e.cidrs = e.cidrs.filter((c) => !a.cidrs.includes(c.cidr));
        this.state.lastShrinkAtMs = now;
      } else {
        this.state.enis = this.state.enis.filter((e) => e.id !== a.eniId);
      }
    }
  }

  /** Plans and applies every `stepMs` until a whole shrink interval passes with no action. */
  settle(s: PoolSettings, limits: PoolLimits, start = 0, stepMs = 5_000, maxSteps = 200): number {
    let now = start;
    let quiet = 0;
    for (let i = 0; i < maxSteps && quiet < 20; i++) {
      const p = plan(this.state, this.usage, s, limits, now);
      this.history.push(p);
      quiet = p.actions.length === 0 ? quiet + 1 : 0;
      this.apply(p.actions, now);
      now += stepMs;
    }
    if (quiet < 20) throw new Error("the planner did not settle");
    return now;
  }

  eni(id: string): PoolEni {
    const e = this.state.enis.find((x) => x.id === id);
    if (!e) throw new Error(`no ENI ${id}`);
    return e;
  }

  counts(): { enis: number; addresses: number; prefixes: number } {
    const all = this.state.enis.flatMap((e) => e.cidrs);
    return { enis: this.state.enis.length, addresses: all.filter((c) => c.kind === "address").length, prefixes: all.filter((c) => c.kind === "prefix").length };
  }

  private cidrs(kind: "address" | "prefix", n: number) {
    return Array.from({ length: n }, () => {
      const i = this.next++;
      return kind === "address"
        ? { cidr: `10.0.${i >> 8}.${i & 255}/32`, kind, size: 1 }
        : { cidr: `10.1.${(i * 16) >> 8}.${(i * 16) & 255}/28`, kind, size: 16 };
    });
  }
}
