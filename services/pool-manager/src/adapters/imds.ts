/**
 * The IMDS port over @aws-sdk/ec2-metadata-service (IMDSv2 tokens, a timeout, a few
 * retries). A missing leaf (404, e.g. ipv4-prefix on an ENI without prefixes) is "none".
 */
import { MetadataService } from "@aws-sdk/ec2-metadata-service";
import type { ImdsInterface, ImdsPort } from "../core/ports.ts";

export interface ImdsAdapterOptions {
  /** e.g. http://169.254.169.254 (default) or the simulated IMDS. */
  endpoint?: string;
  timeoutMs?: number;
  retries?: number;
}

export class SdkImds implements ImdsPort {
  private readonly svc: MetadataService;
  constructor(o: ImdsAdapterOptions = {}) {
    this.svc = new MetadataService({
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      httpOptions: { timeout: o.timeoutMs ?? 5_000 },
      retries: o.retries ?? 3,
    });
  }

  private get(path: string): Promise<string> {
    return this.svc.request(`/latest/meta-data/${path}`, {});
  }

  /** A leaf that may be absent. */
  private async optional(path: string): Promise<string[]> {
    try {
      return split(await this.get(path));
    } catch (e) {
      if (/404|not found/i.test(String((e as Error)?.message ?? e))) return [];
      throw e;
    }
  }

  instanceId = () => this.get("instance-id").then((s) => s.trim());
  instanceType = () => this.get("instance-type").then((s) => s.trim());
  availabilityZone = () => this.get("placement/availability-zone").then((s) => s.trim());
  primaryMac = () => this.get("mac").then((s) => s.trim().toLowerCase());
  localIpv4 = () => this.get("local-ipv4").then((s) => s.trim());

  async interfaces(): Promise<ImdsInterface[]> {
    const macs = split(await this.get("network/interfaces/macs/")).map((m) => m.replace(/\/$/, "").toLowerCase());
    return Promise.all(
      macs.map(async (mac) => {
        const p = `network/interfaces/macs/${mac}/`;
        const [dev, id, subnet, subnetCidr, vpcCidrs, sgs, v4s, prefixes, v6s, v6prefixes] = await Promise.all([
          this.get(p + "device-number"),
          this.get(p + "interface-id"),
          this.get(p + "subnet-id"),
          this.optional(p + "subnet-ipv4-cidr-block"),
          this.optional(p + "vpc-ipv4-cidr-blocks"),
          this.optional(p + "security-group-ids"),
          this.optional(p + "local-ipv4s"),
          this.optional(p + "ipv4-prefix"),
          this.optional(p + "ipv6s"),
          this.optional(p + "ipv6-prefix"),
        ]);
        return {
          mac,
          deviceNumber: Number(dev.trim()),
          interfaceId: id.trim(),
          subnetId: subnet.trim(),
          subnetCidr: subnetCidr[0] ?? "",
          vpcCidrs,
          securityGroupIds: sgs,
          localIpv4s: v4s,
          ipv4Prefixes: prefixes,
          ipv6s: v6s,
          ipv6Prefixes: v6prefixes,
        };
      }),
    );
  }
}

function split(s: string): string[] {
  return s
    .split("\n")
    .map((x) => x.trim())
    .filter(Boolean);
}
