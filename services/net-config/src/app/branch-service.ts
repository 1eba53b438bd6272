/**
 * Branch-ENI pods (security groups for pods): the core plans (core/branch-wiring.ts), the
 * netlink adapter performs. The VLAN's parent is the link carrying the trunk ENI's MAC,
 * looked up afresh for every ADD (upstream's getTrunkLinkIndex). An ADD that fails part-way
 * is undone before the error is returned.
 */
import { branchLayout, checkBranchWiring, planBranchUnwire, planBranchWire, type BranchNodeObservation, type BranchRequest } from "../core/branch-wiring.ts";
import type { Family } from "../core/kernel-ops.ts";
import type { NetConfigSettings } from "../core/settings.ts";
import { NetConfigError } from "../core/errors.ts";
import { checkMac, checkNetnsPath } from "../core/validation.ts";
import type { NetlinkKernel } from "../adapters/netlink-kernel.ts";
import { randomLocalMac } from "../adapters/random-mac.ts";
import { resolveNetnsPath } from "../adapters/netns.ts";
import { describeStep, type WireAnswer } from "./pod-service.ts";

type Req = BranchRequest & { netnsPid?: number };

export class BranchService {
  constructor(
    private readonly kernel: NetlinkKernel,
    private readonly settings: () => NetConfigSettings,
    /** Told of every pod wired or unwired (a running reconcile round leaves it alone). */
    private readonly onTouch: (hostVeth: string, podCidr: string) => void = () => {},
  ) {}

  /** The node's link with the trunk ENI's MAC (not a VLAN made on it, which carries a branch's MAC). */
  trunkLink(trunkMac: string): string {
    checkMac(trunkMac, "trunkMac");
    const link = this.kernel.node.links().find((l) => l.mac === trunkMac && l.kind !== "vlan" && l.kind !== "macvlan");
    if (!link) throw new NetConfigError("TRUNK_LINK_MISSING", `trunkMac: no link on the node has the trunk ENI's MAC ${trunkMac}`, "trunkMac", 409);
    return link.name;
  }

  wire(req: Req): WireAnswer {
    const settings = this.settings();
    const hostMac = randomLocalMac();
    const { layout, steps } = planBranchWire(req, settings, hostMac, this.trunkLink(req.trunkMac), settings.branchLinkKind);
    this.onTouch(layout.hostVeth, layout.podCidr);
    try {
      const podLink = this.kernel.runThenPodLink(steps, resolveNetnsPath(req.netns, req.netnsPid), layout.podIf);
      if (!podLink) throw new NetConfigError("POD_LINK_MISSING", `pod interface ${layout.podIf} vanished during set-up`, "ifName");
      return { hostVeth: layout.hostVeth, podMac: podLink.mac, podIfIndex: podLink.index, hostMac };
    } catch (err) {
      try {
        this.kernel.run(planBranchUnwire({ ...req, netns: "" }, settings).steps);
      } catch {
        // the original error is the one worth reporting
      }
      throw err;
    }
  }

  unwire(req: Parameters<typeof planBranchUnwire>[0] & { netnsPid?: number }): { removed: string[] } {
    const { layout, steps } = planBranchUnwire(req, this.settings());
    this.onTouch(layout.hostVeth, layout.podCidr);
    const results = this.kernel.run(steps);
    return { removed: results.filter((r) => r.changed).map((r) => describeStep(r.step)) };
  }

  observeNode(family: Family): BranchNodeObservation {
    return { links: this.kernel.node.links(), routes: this.kernel.node.routes(family), rules: this.kernel.node.rules(family) };
  }

  check(req: Req): { ok: boolean; problems: string[] } {
    checkNetnsPath(req.netns);
    const settings = this.settings();
    const layout = branchLayout(req, settings);
    let pod;
    try {
      pod = this.kernel.observePod(resolveNetnsPath(req.netns, req.netnsPid), layout);
    } catch (err) {
      if (!(err instanceof NetConfigError && err.code === "NETNS_NOT_FOUND")) throw err;
    }
    const problems = checkBranchWiring(layout, req, req.mtu ?? settings.podMtu, this.observeNode(layout.family), pod);
    return { ok: problems.length === 0, problems };
  }
}
