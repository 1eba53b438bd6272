/**
 * Pod wiring, unwiring and CHECK: the core plans, the netlink adapter performs. ADD that
 * fails part-way is undone before the error is returned, so a retry starts clean.
 */
import { describeRoute, describeRule, type Step } from "../core/kernel-ops.ts";
import { checkWiring, planUnwire, planWire, podLayout, type PodRequest } from "../core/pod-wiring.ts";
import type { NetConfigSettings } from "../core/settings.ts";
import { NetConfigError } from "../core/errors.ts";
import type { NetlinkKernel } from "../adapters/netlink-kernel.ts";
import { randomLocalMac } from "../adapters/random-mac.ts";
import { checkNetnsPath } from "../core/validation.ts";
import { resolveNetnsPath } from "../adapters/netns.ts";
import { RETIRED_GROUP, type VethReaper } from "../adapters/veth-reaper.ts";

export interface WireAnswer {
  hostVeth: string;
  podMac: string;
  podIfIndex: number;
  hostMac: string;
}

/**
 * Requests are validated and planned in the runtime's form of the netns path; the kernel is
 * reached through the path as net-config sees it (adapters/netns.ts: the caller's mount
 * namespace, the host's /proc).
 */
function openableNetns(req: PodRequest & { netnsPid?: number }): string {
  return resolveNetnsPath(req.netns, req.netnsPid);
}

export class PodService {
  constructor(
    private readonly kernel: NetlinkKernel,
    private readonly settings: () => NetConfigSettings,
    /** Told of every pod wired or unwired (a running reconcile round leaves it alone). */
    private readonly onTouch: (hostVeth: string, podCidr: string) => void = () => {},
    /** When given, unwire retires the host veth (down + renamed) and the reaper deletes it off the request path. */
    private readonly reaper?: VethReaper,
  ) {}

  wire(req: PodRequest): WireAnswer {
    const settings = this.settings();
    const hostMac = randomLocalMac();
    const { layout, steps } = planWire(req, settings, hostMac);
    this.onTouch(layout.hostVeth, layout.podCidr);
    try {
      const podLink = this.kernel.runThenPodLink(steps, openableNetns(req), layout.podIf);
      if (!podLink) throw new NetConfigError("POD_LINK_MISSING", `pod interface ${layout.podIf} vanished during set-up`, "ifName");
      return { hostVeth: layout.hostVeth, podMac: podLink.mac, podIfIndex: podLink.index, hostMac };
    } catch (err) {
      try {
        this.kernel.run(planUnwire({ ...req, netns: "" }, settings).steps);
      } catch {
        // the original error is the one worth reporting
      }
      throw err;
    }
  }

  /** Removes rules, route and veth; succeeds when they are already gone or the netns is. */
  unwire(req: PodRequest): { removed: string[] } {
    const { layout, steps } = planUnwire(req, this.settings());
    const netns = openableNetns(req);
    this.onTouch(layout.hostVeth, layout.podCidr);
    const deferVeth = this.reaper !== undefined;
    const results = this.kernel.run(deferVeth ? steps.filter((s) => !(s.side === "node" && s.op.op === "link.del" && s.op.dev === layout.hostVeth)) : steps);
    const removed = results.filter((r) => r.changed).map((r) => describeStep(r.step));
    let vethGone = results.some((r) => r.step.op.op === "link.del" && r.changed);
    if (this.reaper) {
      // Rules and route are gone: down + rename cuts the pod off and frees the name at once; the pair is deleted shortly after.
      vethGone = this.retireHostVeth(this.reaper, layout.hostVeth);
      if (vethGone) {
        removed.push(`link ${layout.hostVeth}`);
        // The pod's end too, so an ADD into the same namespace right after finds ifName free.
        if (netns !== "") this.retirePodIf(this.reaper, netns, layout.podIf);
      }
    }
    if (!vethGone && netns !== "") {
      // The host end may carry another name (pod renamed, other prefix): remove the pair from the pod side.
      try {
        const podSide = this.kernel.run([{ side: "pod", op: { op: "link.del", dev: layout.podIf, missingOk: true } }], netns);
        if (podSide[0]?.changed) removed.push(`link ${layout.podIf} in ${req.netns}`);
      } catch (err) {
        if (!(err instanceof NetConfigError && err.code === "NETNS_NOT_FOUND")) throw err;
      }
    }
    return { removed };
  }

  private retireHostVeth(reaper: VethReaper, hostVeth: string): boolean {
    const retired = reaper.retiredName();
    try {
      if (!this.kernel.retireLink(hostVeth, retired, RETIRED_GROUP)) return false;
    } catch (err) {
      if (!(err instanceof NetConfigError && err.code === "NETLINK_EEXIST")) throw err;
      // The retired name is taken (a leftover): delete synchronously instead.
      return this.kernel.run([{ side: "node", op: { op: "link.del", dev: hostVeth, missingOk: true } }])[0]?.changed ?? false;
    }
    reaper.enqueue(retired);
    return true;
  }

  private retirePodIf(reaper: VethReaper, netns: string, podIf: string): void {
    try {
      this.kernel.withPod(netns, (pod) => pod.retire(podIf, reaper.retiredName()));
    } catch (err) {
      // Namespace already gone, or the name taken: the pair's deletion from the host side removes this end anyway.
      if (!(err instanceof NetConfigError)) throw err;
    }
  }

  check(req: PodRequest): { ok: boolean; problems: string[] } {
    checkNetnsPath(req.netns);
    const settings = this.settings();
    const layout = podLayout(req, settings);
    const node = this.kernel.observeNode(layout);
    let pod;
    try {
      pod = this.kernel.observePod(openableNetns(req), layout);
    } catch (err) {
      if (!(err instanceof NetConfigError && err.code === "NETNS_NOT_FOUND")) throw err;
    }
    const problems = checkWiring(layout, req.mtu ?? settings.podMtu, node, pod);
    return { ok: problems.length === 0, problems };
  }
}

export function describeStep(step: Step): string {
  const op = step.op;
  switch (op.op) {
    case "veth.create":
      return `veth ${op.podIf}/${op.hostVeth}`;
    case "vlan.create":
      return `vlan ${op.dev} (id ${op.vlanId} on ${op.parent})`;
    case "link.set":
    case "link.del":
      return `link ${op.dev}`;
    case "addr.add":
    case "addr.del":
      return `address ${op.addr.cidr} dev ${op.addr.dev}`;
    case "route.replace":
    case "route.del":
      return `route ${describeRoute(op.route)}`;
    case "neigh.replace":
      return `neighbour ${op.neigh.ip} dev ${op.neigh.dev}`;
    case "rule.add":
    case "rule.del":
      return `rule ${describeRule(op.rule)}`;
    case "sysctl":
      return `sysctl ${op.key}=${op.value}`;
  }
}
