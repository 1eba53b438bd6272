/**
 * ENI links and route tables, and host-wide rules (ip rules, sysctls, SNAT/connmark
 * iptables), for pool-manager. Idempotent: each call plans from what the kernel holds.
 */
import { eniLayout, planEniSetup, planEniTeardown, type EniRequest } from "../core/eni-setup.ts";
import { planHostNetwork } from "../core/host-network.ts";
import { parseSave, planIptables } from "../core/iptables-plan.ts";
import type { LinkInfo } from "../core/kernel-ops.ts";
import type { NetConfigSettings } from "../core/settings.ts";
import { snatLayout } from "../core/snat-rules.ts";
import { NetConfigError } from "../core/errors.ts";
import { checkCidr, checkIp, checkMac } from "../core/validation.ts";
import type { NetlinkKernel } from "../adapters/netlink-kernel.ts";
import type { Iptables } from "../adapters/iptables.ts";
import { describeStep } from "./pod-service.ts";

export interface HostRequest {
  vpcCidrs: string[];
  primaryIp: string;
  primaryMac: string;
}

export class HostService {
  private lastRequest: HostRequest | undefined;

  constructor(
    private readonly kernel: NetlinkKernel,
    private readonly iptables: Iptables,
    private readonly settings: () => NetConfigSettings,
    private readonly opts: { linkWaitMs: number; randomFully: boolean } = { linkWaitMs: 5000, randomFully: true },
  ) {}

  /** Called after each application of the SNAT/connmark rules (awscni_connmark_reconcile_total). */
  connmarkApplied?: (ok: boolean) => void;

  /** The last host set-up asked for: reconcile re-applies it. */
  get lastHost(): HostRequest | undefined {
    return this.lastRequest;
  }

  linkByMac(mac: string): LinkInfo | undefined {
    return this.kernel.node.links().find((l) => l.mac === mac);
  }

  /** The ENI's link appears some time after EC2 attached it: wait for it, bounded. */
  async waitLink(mac: string, field: string): Promise<LinkInfo> {
    checkMac(mac, field);
    const deadline = Date.now() + this.opts.linkWaitMs;
    for (;;) {
      const link = this.linkByMac(mac);
      if (link) return link;
      if (Date.now() >= deadline) throw new NetConfigError("LINK_NOT_FOUND", `no link with MAC ${mac} after ${this.opts.linkWaitMs} ms`, field, 404);
      await Bun.sleep(100);
    }
  }

  /** Returns the steps performed (empty when the ENI was already right). */
  async setupEni(e: EniRequest): Promise<{ ifName: string; changed: string[] }> {
    eniLayout(e, "x"); // validate before waiting
    const link = await this.waitLink(e.mac, "mac");
    const n = this.kernel.node;
    const family = e.primaryIp.includes(":") ? 6 : 4;
    const seen = {
      link,
      addrs: n.addrs(family).filter((a) => a.index === link.index && a.scope === 0),
      routes: n.routes(family).filter((r) => r.dev === link.name),
      rules: n.rules(family),
    };
    const steps = planEniSetup(e, this.settings().eniMtu, seen);
    this.kernel.run(steps);
    return { ifName: link.name, changed: steps.map(describeStep) };
  }

  async teardownEni(e: EniRequest): Promise<{ changed: string[] }> {
    checkMac(e.mac);
    const link = this.linkByMac(e.mac);
    const family = e.primaryIp.includes(":") ? 6 : 4;
    const tableRoutes = this.kernel.node.routes(family).filter((r) => r.table === e.routeTable);
    const steps = planEniTeardown(e, link?.name, tableRoutes);
    const results = this.kernel.run(steps);
    return { changed: results.filter((r) => r.changed).map((r) => describeStep(r.step)) };
  }

  async setupHost(h: HostRequest): Promise<{ changed: string[]; iptablesChanged: string[] }> {
    h.vpcCidrs.forEach((c, i) => checkCidr(c, `vpcCidrs.${i}`));
    checkIp(h.primaryIp, "primaryIp");
    checkMac(h.primaryMac, "primaryMac");
    const s = this.settings();
    const primary = await this.waitLink(h.primaryMac, "primaryMac");
    const changed: string[] = [];
    const steps = planHostNetwork(s, primary.name, [...this.kernel.node.rules(4), ...this.kernel.node.rules(6)]);
    for (const r of this.kernel.run(steps)) if (r.changed && r.step.op.op !== "sysctl") changed.push(describeStep(r.step));
    const iptablesChanged = s.ipv6 ? [] : await this.applyIptables(h, primary.name);
    this.lastRequest = h;
    return { changed: [...changed, ...iptablesChanged], iptablesChanged };
  }

  /** SNAT and connmark rules: only the project's chains and rules, atomically. */
  async applyIptables(h: HostRequest, primaryIf: string): Promise<string[]> {
    const layout = snatLayout(this.settings(), { vpcCidrs: h.vpcCidrs, primaryIp: h.primaryIp, primaryIf, randomFullySupported: this.opts.randomFully });
    try {
      const plan = planIptables(layout, parseSave(await this.iptables.save()));
      if (plan.restore) await this.iptables.restoreNoflush(plan.restore);
      this.connmarkApplied?.(true);
      return plan.changes;
    } catch (err) {
      this.connmarkApplied?.(false);
      throw err;
    }
  }
}
