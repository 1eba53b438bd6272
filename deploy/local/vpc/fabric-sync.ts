// What the VPC fabric follows from the simulated EC2's state rather than from its events
// (EniMirror.follow runs `sync` after a debounced batch of changes, on the mirror's queue):
//
//   - branch ENIs: every trunk association whose trunk has a link gets its branch's
//     addresses routed to that link (fabric-branch.ts); a gone association, its routes removed;
//   - security groups: the router's nftables table regenerated from the state (sg-nft.ts)
//     and applied in one transaction when its text changed.
//
// Desired state against applied state: each sync converges whatever happened in between.
import type { Ec2State } from "../sim-ec2/types.ts";
import { eniAddresses } from "../sim-ec2/sg-filter.ts";
import type { BranchRoute } from "./fabric-branch.ts";
import type { MirroredLink, StateFollower } from "./mirror.ts";
import { routerEniLink } from "./names.ts";

export interface BranchPort {
  routeBranch(branch: BranchRoute): Promise<void>;
  unrouteBranch(branch: BranchRoute): Promise<void>;
}

export interface FabricEni {
  eniId: string;
  /** The router-side link the ENI's traffic crosses (a branch: its trunk's link). */
  link: string;
  /** Branch ENIs only: its MAC, which tells its frames from the trunk's on the shared link. */
  branchMac?: string;
  /** Branch ENIs only: its addresses, which tell traffic to it from traffic to the trunk. */
  branchCidrs?: string[];
}

/** Applies a security group ruleset for the ENIs of the fabric (sg-enforcer.ts). */
export interface SgPort {
  enforce(state: Ec2State, enis: FabricEni[]): Promise<void>;
}

/** The branch routes the state asks for, by branch ENI id. Pure. */
export function desiredBranches(state: Ec2State, links: ReadonlyMap<string, MirroredLink>): Map<string, BranchRoute> {
  const out = new Map<string, BranchRoute>();
  for (const a of Object.values(state.trunkAssociations)) {
    const trunk = links.get(a.trunkEniId);
    const branch = state.enis[a.branchEniId];
    if (!trunk || !branch) continue;
    out.set(branch.id, {
      branchEniId: branch.id,
      trunkLink: routerEniLink(trunk.nodeIndex, trunk.deviceIndex, trunk.networkCard),
      mac: branch.mac,
      primaryIp: branch.primaryIp,
      cidrs: eniAddresses(branch),
      vlanId: a.vlanId,
    });
  }
  return out;
}

/** Every ENI with traffic through the router: each linked ENI, and each carried branch. Pure. */
export function fabricEnis(links: ReadonlyMap<string, MirroredLink>, branches: ReadonlyMap<string, BranchRoute>): FabricEni[] {
  const out: FabricEni[] = [...links.values()].map((l) => ({ eniId: l.eniId, link: routerEniLink(l.nodeIndex, l.deviceIndex, l.networkCard) }));
  for (const b of branches.values()) out.push({ eniId: b.branchEniId, link: b.trunkLink, branchMac: b.mac, branchCidrs: b.cidrs });
  return out;
}

const same = (a: BranchRoute, b: BranchRoute) => JSON.stringify(a) === JSON.stringify(b);

export class FabricFollower implements StateFollower {
  private readonly applied = new Map<string, BranchRoute>();

  constructor(
    private readonly state: () => Ec2State,
    private readonly branches: BranchPort,
    private readonly sg?: SgPort,
  ) {}

  /** The branch routes in place now, for /debug and tests. */
  branchRoutes(): BranchRoute[] {
    return [...this.applied.values()];
  }

  async sync(links: ReadonlyMap<string, MirroredLink>): Promise<void> {
    const state = this.state();
    const want = desiredBranches(state, links);
    for (const [id, have] of [...this.applied]) {
      const next = want.get(id);
      if (next && same(next, have)) continue;
      await this.branches.unrouteBranch(have);
      this.applied.delete(id);
    }
    for (const [id, next] of want) {
      if (this.applied.has(id)) continue;
      await this.branches.routeBranch(next);
      this.applied.set(id, next);
    }
    await this.sg?.enforce(state, fabricEnis(links, this.applied));
  }
}
