/**
 * Stateful fakes of the pool-manager's peers behind their ports: net-config (the ENIs it set
 * up), addr-broker (usage per CIDR; grants a drain only for CIDRs with nothing assigned, nor
 * cooling unless asked to release cooling addresses, as its contract says) and Kubernetes as the node sees it (its ENIConfig, taint,
 * capacity, pending pods, events; unreachable on demand).
 */
import type { UsageReport } from "../../../shared/contracts/index.ts";
import type { BrokerPort, EniConfig, KubePort, NetConfigPort } from "../src/app/service-ports.ts";

export class FakeNetConfig implements NetConfigPort {
  host: { vpcCidrs: string[]; primaryIp: string; primaryMac: string } | undefined;
  /** ENIs set up, with their route table. */
  readonly enis = new Map<string, number>();
  async setupHost(h: { vpcCidrs: string[]; primaryIp: string; primaryMac: string }) {
    this.host = h;
  }
  async setupEni(e: { eniId: string; routeTable: number }) {
    this.enis.set(e.eniId, e.routeTable);
  }
  async teardownEni(e: { eniId: string }) {
    this.enis.delete(e.eniId);
  }
}

export class FakeBroker implements BrokerPort {
  readonly use = new Map<string, { assigned: number; cooling: number }>();
  /** addr-broker's cumulative miss counter. */
  misses = 0;
  waiting = 0;
  readonly drained = new Set<string>();
  async getUsage(): Promise<UsageReport> {
    const cidrs = [...this.use].map(([cidr, u]) => ({ cidr, ...u }));
    return { capacityVersion: -1, assigned: cidrs.reduce((n, c) => n + c.assigned, 0), cooling: cidrs.reduce((n, c) => n + c.cooling, 0), cidrs, misses: this.misses, waiting: this.waiting };
  }
  async drain(cidrs: string[], releaseCooling = false) {
    const granted: string[] = [];
    const refused: { cidr: string; reason: string }[] = [];
    for (const c of cidrs) {
      const u = this.use.get(c);
      if (u && (u.assigned > 0 || (u.cooling > 0 && !releaseCooling))) refused.push({ cidr: c, reason: "in use" });
      else {
        granted.push(c);
        this.drained.add(c);
        if (u) u.cooling = 0; // the cooling addresses leave with their CIDR
      }
    }
    return { granted, refused };
  }
}

/** Kubernetes as one node sees it. Changes made through `change` tell the pool-manager, as the adapter's watch does. */
export class FakeKube implements KubePort {
  reachable = true;
  /** The ENIConfig the node selects (label or annotation), and the ENIConfigs that exist. */
  selected = "default";
  readonly eniConfigs = new Map<string, Omit<EniConfig, "name">>();
  unschedulable = false;
  /** The Node's status.capacity.pods, when the kubelet reported it. */
  capacityPods: number | undefined;
  /** Pods scheduled to the node without an IP; the watch is live unless `watching` is false. */
  pending = 0;
  watching = true;
  /** Warning events on the Node, by EC2 action. */
  readonly iamEvents = new Set<string>();
  /** The trunk label and CNINode feature for security groups for pods are in place. */
  securityGroupsForPods = false;
  onChange: (() => void) | undefined;

  /** Changes the cluster, then tells the pool-manager (the adapter's watch event). */
  change(fn: (k: this) => void): void {
    fn(this);
    this.onChange?.();
  }

  private api(): void {
    if (!this.reachable) throw new Error("Kubernetes API unreachable at https://fake-kube");
  }

  async myEniConfig(): Promise<EniConfig | { missing: string }> {
    if (!this.reachable) return { missing: "Kubernetes API unreachable at https://fake-kube" };
    const cfg = this.eniConfigs.get(this.selected);
    return cfg ? { name: this.selected, ...cfg } : { missing: `no ENIConfig named ${this.selected}` };
  }
  async pendingPods(): Promise<number> {
    return this.reachable ? this.pending : 0;
  }
  podsWatched(): boolean {
    return this.reachable && this.watching;
  }
  async nodeMaxPods(): Promise<number | undefined> {
    this.api();
    return this.capacityPods;
  }
  async nodeUnschedulable(): Promise<boolean> {
    this.api();
    return this.unschedulable;
  }
  async ensureSecurityGroupsForPods(): Promise<void> {
    this.api();
    this.securityGroupsForPods = true;
  }
  async ec2Unauthorized(action: string): Promise<void> {
    this.api();
    this.iamEvents.add(action);
  }
}
