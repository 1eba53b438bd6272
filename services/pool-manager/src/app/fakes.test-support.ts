/**
 * Test support: a pool-manager wired to the simulated EC2 (real SDK), an IMDS port that
 * reads the sim's IMDS view (with its propagation delay), and stateful fakes of
 * net-config and addr-broker that keep what they were told and refuse what they must.
 */
import type { UsageReport } from "../../../../shared/contracts/index.ts";
import type { ImdsPort } from "../core/ports.ts";
import type { PoolSettings } from "../core/settings.ts";
import { simWorld, type SimWorld } from "../adapters/sim-world.test-support.ts";
import { PoolManager, type PoolManagerOptions } from "./pool-manager.ts";
import type { BrokerPort, NetConfigPort } from "./service-ports.ts";

export function simImds(w: SimWorld): ImdsPort {
  const inst = () => w.model.state.instances[w.instanceId]!;
  return {
    instanceId: async () => w.instanceId,
    instanceType: async () => inst().instanceType,
    availabilityZone: async () => inst().az,
    primaryMac: async () => w.model.state.enis[inst().primaryEniId]!.mac,
    localIpv4: async () => inst().privateIp,
    interfaces: async () => w.model.imdsView(w.instanceId) ?? [],
  };
}

export class FakeNetConfig implements NetConfigPort {
  host: unknown;
  readonly enis = new Map<string, number>();
  async setupHost(h: { vpcCidrs: string[] }) {
    this.host = h;
  }
  async setupEni(e: { eniId: string; routeTable: number }) {
    this.enis.set(e.eniId, e.routeTable);
  }
  async teardownEni(e: { eniId: string }) {
    this.enis.delete(e.eniId);
  }
}

/** addr-broker as the contract says: grants a drain only for CIDRs with nothing assigned or cooling. */
export class FakeBroker implements BrokerPort {
  readonly use = new Map<string, { assigned: number; cooling: number }>();
  misses = 0;
  waiting = 0;
  readonly drained = new Set<string>();
  async getUsage(): Promise<UsageReport> {
    const cidrs = [...this.use].map(([cidr, u]) => ({ cidr, ...u }));
    return { capacityVersion: -1, assigned: cidrs.reduce((n, c) => n + c.assigned, 0), cooling: cidrs.reduce((n, c) => n + c.cooling, 0), cidrs, misses: this.misses, waiting: this.waiting };
  }
  async drain(cidrs: string[]) {
    const granted: string[] = [];
    const refused: { cidr: string; reason: string }[] = [];
    for (const c of cidrs) {
      const u = this.use.get(c);
      if (u && (u.assigned > 0 || u.cooling > 0)) refused.push({ cidr: c, reason: "in use" });
      else {
        granted.push(c);
        this.drained.add(c);
      }
    }
    return { granted, refused };
  }
}

export interface Harness {
  w: SimWorld;
  pm: PoolManager;
  net: FakeNetConfig;
  broker: FakeBroker;
}

export function manager(w: SimWorld, settings: PoolSettings, o: Partial<PoolManagerOptions> = {}, fakes: { net?: FakeNetConfig; broker?: FakeBroker } = {}): Harness {
  const net = fakes.net ?? new FakeNetConfig();
  const broker = fakes.broker ?? new FakeBroker();
  const pm = new PoolManager(settings, { ec2: w.ec2, imds: simImds(w), net, broker }, {
    additionalTags: {},
    subnetDiscovery: false,
    disableProvisioning: false,
    disableLeakedEniCleanup: false,
    now: Date.now,
    sleep: (ms) => Bun.sleep(Math.min(ms, 50)),
    imdsWait: { firstMs: 10, maxMs: 100, tries: 30 },
    // Faults are injected on purpose here: back off briefly, not for seconds.
    cycleBackoff: { firstMs: 20, maxMs: 200 },
    startupBackoff: { firstMs: 20, maxMs: 200 },
    ...o,
  });
  return { w, pm, net, broker };
}

export { simWorld };
