/** The pool-manager's view of its peer services and of Kubernetes (implemented in src/adapters). */
import type { Assignment, EniSetup, UsageReport } from "../../../../shared/contracts/index.ts";

export interface NetConfigPort {
  setupHost(h: { vpcCidrs: string[]; primaryIp: string; primaryMac: string }): Promise<void>;
  setupEni(e: EniSetup): Promise<void>;
  teardownEni(e: EniSetup): Promise<void>;
}

export interface BrokerPort {
  getUsage(): Promise<UsageReport>;
  /** `releaseCooling`: cooling addresses do not hold a CIDR back (upstream's release). */
  drain(cidrs: string[], releaseCooling?: boolean): Promise<{ granted: string[]; refused: { cidr: string; reason: string }[] }>;
  /** The pods' addresses (introspection's /v1/enis); absent = not known. */
  assignments?(): Promise<Assignment[]>;
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
  /** The pod watch is live (pendingPods sees pods as they are scheduled); absent = ask debug(). */
  podsWatched?(): boolean;
  /** The kubelet's max pods (Node status.capacity.pods), as upstream sizes the pool by it; undefined when unknown. */
  nodeMaxPods?(): Promise<number | undefined>;
  /** The ENIConfig name the Node selects (external label, annotation, label, else "default"), as upstream's /v1/eni-configs. */
  eniConfigName?(): Promise<string>;
  /** Node tainted node.kubernetes.io/unschedulable:NoSchedule. */
  nodeUnschedulable(): Promise<boolean>;
  /** ENABLE_POD_ENI on a trunking-capable instance: trunk label and CNINode feature (idempotent). */
  ensureSecurityGroupsForPods?(): Promise<void>;
  /** EC2 answered UnauthorizedOperation for `action`: a (deduplicated) Warning event on the Node. */
  ec2Unauthorized?(action: string, detail?: string): Promise<void>;
  /** The API answered the last request (upstream's withApiServer); absent = never. */
  connected?(): boolean;
  /** Reachability and what was last read, for /debug. */
  debug?(): Record<string, unknown>;
}
