/**
 * A pod's egress interface (egress-cni): wire, unwire, check. The plan is the core's
 * (core/egress-wiring.ts); processes do the work (adapters/egress-kernel.ts). An ADD that
 * fails part-way is undone before the error is returned, so a retry starts clean.
 */
import { NetConfigError } from "../core/errors.ts";
import {
  blockRuleRestore, checkEgressHostVeth, egressLayout, nodeBatch, podBatch, podV6DefaultRoute, snatProblems, snatRemoval, snatRestore,
  type EgressLayout, type EgressRequest,
} from "../core/egress-wiring.ts";
import { checkNetnsPath } from "../core/validation.ts";
import { NsShell, type JsonLink } from "../adapters/egress-kernel.ts";
import type { Iptables } from "../adapters/iptables.ts";
import { resolveNetnsPath, type NetnsRef } from "../adapters/netns.ts";

export interface EgressWireAnswer {
  hostVeth: string;
  hostMac: string;
  podIf: string;
  podMac: string;
}

/** How long IPv6 egress waits for the host veth's link-local address (upstream waits 10 s for DAD). */
const LINK_LOCAL_WAIT_MS = 10_000;

export class EgressService {
  private readonly node: NsShell;
  private iptablesLock: Promise<unknown> = Promise.resolve();

  constructor(
    nodeNs: NetnsRef,
    private readonly iptables: Iptables,
    private readonly randomFully: boolean,
  ) {
    this.node = new NsShell(nodeNs);
  }

  async wire(req: EgressRequest & { netnsPid?: number | undefined }): Promise<EgressWireAnswer> {
    checkNetnsPath(req.netns);
    const l = egressLayout(req);
    const pod = new NsShell({ path: resolveNetnsPath(req.netns, req.netnsPid) });
    const hostVeth = `veth${Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString("hex")}`;
    const lines = podBatch(l, hostVeth, req.mtu, this.node.path);
    try {
      // A retried ADD finds the interface of the first try: start clean, as upstream's SetupVeth would fail otherwise.
      await pod.deleteLink(l.podIf);
      if (l.family === 4) {
        this.node.sysctl("net/ipv4/ip_forward", "1");
        await pod.batch(lines);
      } else {
        pod.sysctl(`net/ipv6/conf/${req.ifName}/disable_ipv6`, "1");
        await pod.batch(lines.slice(0, 1));
        pod.sysctl(`net/ipv6/conf/${l.podIf}/disable_ipv6`, "0");
        await pod.batch(lines.slice(1));
      }
      await this.node.batch(nodeBatch(l, hostVeth));
      if (l.family === 6) await pod.batch([podV6DefaultRoute(l, await this.waitLinkLocal(hostVeth))]);
      await this.applySnat(l, req);
      const [host, podLink] = await Promise.all([this.node.link(hostVeth), pod.link(l.podIf)]);
      if (!host || !podLink) throw new NetConfigError("EGRESS_LINK_MISSING", `egress pair ${l.podIf}/${hostVeth} vanished during set-up`);
      return { hostVeth, hostMac: host.address, podIf: l.podIf, podMac: podLink.address };
    } catch (err) {
      try {
        await this.unwire({ ...req, hostVeth });
      } catch {
        // the original error is the one worth reporting
      }
      throw err;
    }
  }

  /** Removes the pair and the SNAT chain; succeeds when they are already gone, also without a netns. */
  async unwire(req: Omit<EgressRequest, "mtu" | "randomizeSnat" | "nodeIp"> & { nodeIp?: string; hostVeth?: string | undefined; netnsPid?: number | undefined }): Promise<{ removed: string[] }> {
    const l = egressLayout(req);
    const removed: string[] = [];
    if (req.netns !== "") {
      checkNetnsPath(req.netns);
      let pod: NsShell | undefined;
      try {
        pod = new NsShell({ path: resolveNetnsPath(req.netns, req.netnsPid) });
      } catch (err) {
        // The namespace is gone: so is its end of the pair.
        if (!(err instanceof NetConfigError && err.code === "NETNS_NOT_FOUND")) throw err;
      }
      if (pod && (await pod.deleteLink(l.podIf))) removed.push(`link ${l.podIf} in ${req.netns}`);
    }
    if (req.hostVeth) {
      checkEgressHostVeth(req.hostVeth);
      if (await this.node.deleteLink(req.hostVeth)) removed.push(`link ${req.hostVeth}`);
    }
    const chainGone = await this.iptablesTurn(async () => {
      const text = snatRemoval(l.chain, await this.iptables.save(l.family));
      if (text) await this.iptables.restoreNoflush(text, l.family);
      return text !== undefined;
    });
    if (chainGone) removed.push(`nat chain ${l.chain}`);
    return { removed };
  }

  async check(req: EgressRequest & { hostVeth: string; netnsPid?: number | undefined }): Promise<{ ok: boolean; problems: string[] }> {
    checkNetnsPath(req.netns);
    const l = egressLayout(req);
    checkEgressHostVeth(req.hostVeth);
    const problems: string[] = [];
    const host = await this.node.link(req.hostVeth);
    linkProblems(problems, "host veth", req.hostVeth, host, req.mtu);
    if (host && l.family === 4 && !host.addr_info?.some((a) => a.local === l.gateway && a.prefixlen === 32)) problems.push(`host veth ${req.hostVeth} lacks ${l.gateway}/32`);
    const hostRoutes = await this.node.routes(l.family);
    if (!hostRoutes.some((r) => r.dst === l.address && r.dev === req.hostVeth)) problems.push(`node route ${l.address} dev ${req.hostVeth} is missing`);
    let pod: NsShell | undefined;
    try {
      pod = new NsShell({ path: resolveNetnsPath(req.netns, req.netnsPid) });
    } catch (err) {
      if (!(err instanceof NetConfigError && err.code === "NETNS_NOT_FOUND")) throw err;
      problems.push("pod network namespace is missing");
    }
    if (pod) {
      const podLink = await pod.link(l.podIf);
      linkProblems(problems, "pod interface", l.podIf, podLink, req.mtu);
      if (podLink && !podLink.addr_info?.some((a) => a.local === l.address && a.prefixlen === l.prefix)) problems.push(`pod address ${l.address}/${l.prefix} on ${l.podIf} is missing`);
      const routes = await pod.routes(l.family);
      const dflt = routes.find((r) => r.dst === "default" && r.dev === l.podIf);
      if (!dflt) problems.push(`pod default route via ${l.podIf} is missing`);
      else if (l.family === 4 && dflt.gateway !== l.gateway) problems.push(`pod default route goes via ${dflt.gateway}, expected ${l.gateway}`);
      if (l.family === 4 && !routes.some((r) => r.dst === l.range.subnet && r.gateway === l.gateway && r.prefsrc === l.address)) {
        problems.push(`pod route ${l.range.subnet} via ${l.gateway} src ${l.address} is missing`);
      }
    }
    problems.push(...snatProblems(l, await this.iptables.save(l.family), req.randomizeSnat, this.randomFully));
    return { ok: problems.length === 0, problems };
  }

  /** Read-modify-write of the tables, one at a time (two pods' first ADDs must not both insert the FORWARD guard). */
  private iptablesTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.iptablesLock.then(fn, fn);
    this.iptablesLock = run.catch(() => undefined);
    return run;
  }

  private applySnat(l: EgressLayout, req: EgressRequest): Promise<void> {
    return this.iptablesTurn(async () => {
      const save = await this.iptables.save(l.family);
      await this.iptables.restoreNoflush(snatRestore(l, save, req.randomizeSnat, this.randomFully) + blockRuleRestore(l, save), l.family);
    });
  }

  private async waitLinkLocal(hostVeth: string): Promise<string> {
    const deadline = Date.now() + LINK_LOCAL_WAIT_MS;
    for (;;) {
      const link = await this.node.link(hostVeth);
      const ll = link?.addr_info?.find((a) => a.family === "inet6" && a.scope === "link");
      if (ll) return ll.local;
      if (Date.now() >= deadline) throw new NetConfigError("EGRESS_NO_LINK_LOCAL", `link-local IPv6 address not found on host interface ${hostVeth} (is IPv6 disabled on the node?)`);
      await Bun.sleep(50);
    }
  }
}

function linkProblems(problems: string[], what: string, name: string, link: JsonLink | undefined, mtu: number): void {
  if (!link) {
    problems.push(`${what} ${name} is missing`);
    return;
  }
  if (!link.flags.includes("UP")) problems.push(`${what} ${name} is down`);
  if (link.mtu !== mtu) problems.push(`${what} ${name} has MTU ${link.mtu}, expected ${mtu}`);
}
