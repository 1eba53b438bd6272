/** The pool-manager's view of its peer services and of Kubernetes (implemented in src/adapters). */
import type { EniSetup, UsageReport } from "../../../../shared/contracts/index.ts";

export interface NetConfigPort {
  setupHost(h: { vpcCidrs: string[]; primaryIp: string; primaryMac: string }): Promise<void>;
  setupEni(e: EniSetup): Promise<void>;
  teardownEni(e: EniSetup): Promise<void>;
}

export interface BrokerPort {
  getUsage(): Promise<UsageReport>;
  drain(cidrs: string[]): Promise<{ granted: string[]; refused: { cidr: string; reason: string }[] }>;
}

export interface EniConfig {
  name: string;
  subnetId: string;
  securityGroups: string[];
}

export interface KubePort {
  /** The ENIConfig this node should use (custom networking), or a reason there is none. */
  myEniConfig(): Promise<EniConfig | { missing: string }>;
  /** Pods scheduled to this node that have no IP yet. */
  pendingPods(): Promise<number>;
  /** Node tainted node.kubernetes.io/unschedulable:NoSchedule. */
  nodeUnschedulable(): Promise<boolean>;
}
