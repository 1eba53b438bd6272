/**
 * Kernel operations over rtnetlink in one namespace. One long-lived socket per namespace;
 * a pod's namespace gets a socket for the duration of its wiring only (a socket pins its
 * namespace).
 */
import type { AddrSpec, Family, KernelOp, LinkInfo, NeighSpec, RouteSpec, RuleSpec } from "../../core/kernel-ops.ts";
import type { NetnsHandle } from "../netns.ts";
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RTM } from "./codec.ts";
import * as msg from "./messages.ts";
import { NetlinkError, NetlinkSocket } from "./socket.ts";

const ENOENT = 2, ESRCH = 3, EEXIST = 17, ENODEV = 19, EOPNOTSUPP = 95, EADDRNOTAVAIL = 99;

export class Rtnl {
  readonly sock: NetlinkSocket;
  private constructor(readonly ns: NetnsHandle) {
    this.sock = NetlinkSocket.open(ns);
  }

  static open(ns: NetnsHandle): Rtnl {
    return new Rtnl(ns);
  }

  close(): void {
    this.sock.close();
  }

  link(name: string): LinkInfo | undefined {
    const m = this.sock.get(`get link ${name}`, RTM.GETLINK, msg.ifinfomsg(), msg.linkByName(name));
    return m ? msg.decodeLink(m) : undefined;
  }

  /** ifindex by name, remembered until a link is created or deleted through this socket. */
  private readonly indexes = new Map<string, number>();

  private index(dev: string): number {
    const known = this.indexes.get(dev);
    if (known !== undefined) return known;
    const l = this.link(dev);
    if (!l) throw new NetlinkError(ENODEV, `find link ${dev}`);
    this.indexes.set(dev, l.index);
    return l.index;
  }

  /** Forget remembered ifindexes (links may have changed behind this socket's back). */
  forgetLinks(): void {
    this.indexes.clear();
  }

  links(): LinkInfo[] {
    return this.sock.dump("dump links", RTM.GETLINK, msg.ifinfomsg()).filter((m) => m.type === RTM.NEWLINK).map(msg.decodeLink);
  }

  private names(): Map<number, string> {
    return new Map(this.links().map((l) => [l.index, l.name]));
  }

  addrs(family: Family | 0 = 0): Array<AddrSpec & { index: number; scope: number }> {
    const names = this.names();
    return this.sock.dump("dump addresses", RTM.GETADDR, msg.addrDumpHeader(family)).filter((m) => m.type === RTM.NEWADDR).map((m) => msg.decodeAddr(m, names));
  }

  routes(family: Family): Array<RouteSpec & { protocol: number }> {
    const names = this.names();
    const out: Array<RouteSpec & { protocol: number }> = [];
    for (const m of this.sock.dump("dump routes", RTM.GETROUTE, msg.routeDumpHeader(family))) {
      const r = m.type === RTM.NEWROUTE ? msg.decodeRoute(m, names) : undefined;
      if (r) out.push(r);
    }
    return out;
  }

  rules(family: Family): RuleSpec[] {
    return this.sock.dump("dump rules", RTM.GETRULE, msg.ruleDumpHeader(family)).filter((m) => m.type === RTM.NEWRULE).map(msg.decodeRule);
  }

  neighbours(family: Family): Array<NeighSpec & { permanent: boolean }> {
    const names = this.names();
    return this.sock.dump("dump neighbours", RTM.GETNEIGH, msg.neighDumpHeader(family)).filter((m) => m.type === RTM.NEWNEIGH).map((m) => msg.decodeNeigh(m, names));
  }

  /**
   * Takes a link down and renames it (two quick requests; renaming needs it down), putting it
   * in link group `group` when given. Returns false when there is no link `dev`. Throws
   * NETLINK_EEXIST when `newName` is taken.
   */
  retire(dev: string, newName: string, group?: number): boolean {
    this.indexes.clear();
    const l = this.link(dev);
    if (!l) return false;
    const gone = this.tolerate([ENODEV], () => this.sock.request(`set link ${dev} down`, RTM.NEWLINK, 0, msg.ifinfomsg(l.index, false), []));
    if (!gone) return false;
    return this.tolerate([ENODEV], () => this.sock.request(`rename link ${dev} to ${newName}`, RTM.NEWLINK, 0, msg.ifinfomsg(l.index), group === undefined ? msg.linkByName(newName) : [...msg.linkByName(newName), msg.linkGroup(group)]));
  }

  /**
   * Perform one operation here. `peerNs` is the namespace a veth's peer goes to.
   * Returns false when a delete found nothing to delete.
   */
  perform(op: KernelOp, peerNs?: NetnsHandle): boolean {
    if (op.op === "veth.create" || op.op === "vlan.create" || op.op === "link.del") this.indexes.clear();
    switch (op.op) {
      case "veth.create": {
        const fd = peerNs?.peerFd() ?? this.ns.peerFd();
        const { header, attrs } = msg.vethCreate(op.podIf, op.hostVeth, op.mtu, op.hostMac, fd);
        this.sock.request(`create veth ${op.podIf}/${op.hostVeth}`, RTM.NEWLINK, NLM_F_CREATE | NLM_F_EXCL, header, attrs);
        return true;
      }
      case "vlan.create": {
        const { header, attrs } = msg.vlanCreate(op.dev, this.index(op.parent), op.vlanId, op.mac, op.kind);
        try {
          this.sock.request(`create ${op.kind} ${op.dev}`, RTM.NEWLINK, NLM_F_CREATE | NLM_F_EXCL, header, attrs);
        } catch (err) {
          // "Unknown device type": the kernel was built without 802.1Q (CONFIG_VLAN_8021Q).
          if (err instanceof NetlinkError && err.errno === EOPNOTSUPP) throw new NetlinkError(err.errno, `create ${op.kind} ${op.dev}`, `this kernel has no ${op.kind} links: branch-ENI pods need 802.1Q (CONFIG_VLAN_8021Q)`);
          throw err;
        }
        return true;
      }
      case "link.set":
        this.sock.request(`set link ${op.dev}`, RTM.NEWLINK, 0, msg.ifinfomsg(0, op.up), msg.linkSetAttrs(op.dev, op.mtu));
        return true;
      case "link.del":
        return this.tolerate([ENODEV], () => this.sock.request(`delete link ${op.dev}`, RTM.DELLINK, 0, msg.ifinfomsg(), msg.linkByName(op.dev)));
      case "addr.add": {
        const { header, attrs } = msg.addrMessage(op.addr, this.index(op.addr.dev), op.nodad);
        this.tolerate([EEXIST], () => this.sock.request(`add address ${op.addr.cidr} dev ${op.addr.dev}`, RTM.NEWADDR, NLM_F_CREATE | NLM_F_EXCL, header, attrs));
        return true;
      }
      case "addr.del": {
        const link = this.link(op.addr.dev);
        if (!link) return false;
        const { header, attrs } = msg.addrMessage(op.addr, link.index, false);
        return this.tolerate([EADDRNOTAVAIL, ENOENT], () => this.sock.request(`delete address ${op.addr.cidr} dev ${op.addr.dev}`, RTM.DELADDR, 0, header, attrs));
      }
      case "route.replace": {
        const oif = op.route.dev === undefined ? undefined : this.index(op.route.dev);
        const { header, attrs } = msg.routeMessage(op.route, oif, false);
        this.sock.request(`replace route ${op.route.dst}`, RTM.NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, header, attrs);
        return true;
      }
      case "route.del": {
        let oif: number | undefined;
        if (op.route.dev !== undefined) {
          const link = this.link(op.route.dev);
          if (!link) return false;
          oif = link.index;
        }
        const { header, attrs } = msg.routeMessage(op.route, oif, true);
        return this.tolerate([ESRCH, ENOENT, ENODEV], () => this.sock.request(`delete route ${op.route.dst}`, RTM.DELROUTE, 0, header, attrs));
      }
      case "neigh.replace": {
        const { header, attrs } = msg.neighMessage(op.neigh, this.index(op.neigh.dev));
        this.sock.request(`set neighbour ${op.neigh.ip}`, RTM.NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, header, attrs);
        return true;
      }
      case "rule.add": {
        const { header, attrs } = msg.ruleMessage(op.rule);
        this.tolerate([EEXIST], () => this.sock.request(`add rule priority ${op.rule.priority}`, RTM.NEWRULE, NLM_F_CREATE | NLM_F_EXCL, header, attrs));
        return true;
      }
      case "rule.del": {
        const { header, attrs } = msg.ruleMessage(op.rule);
        let any = false;
        for (let i = 0; i < 64; i++) {
          const gone = this.tolerate([ENOENT], () => this.sock.request(`delete rule priority ${op.rule.priority}`, RTM.DELRULE, 0, header, attrs));
          if (!gone) break;
          any = true;
          if (!op.all) break;
        }
        return any;
      }
      case "sysctl":
        try {
          this.ns.writeSysctl(op.key, op.value);
          return true;
        } catch (err) {
          if (op.missingOk && (err as NodeJS.ErrnoException).code === "ENOENT") return false;
          throw err;
        }
    }
  }

  /** Run `fn`; false when it failed with one of `errnos` (nothing to do), true when it succeeded. */
  private tolerate(errnos: number[], fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      if (err instanceof NetlinkError && errnos.includes(err.errno)) return false;
      throw err;
    }
  }
}
