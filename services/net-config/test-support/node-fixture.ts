/**
 * The node namespace root tests of net-config's host side share: a namespace whose eth0 (a
 * veth, peer ext0) carries the primary ENI's MAC and 10.0.0.5/24, and a HostService/PodService
 * pair on it. Everything made is removed after the file's tests, also after a failure.
 */
import { afterAll } from "bun:test";
import { NetlinkKernel } from "../src/adapters/netlink-kernel.ts";
import { Iptables, type IptablesBackend } from "../src/adapters/iptables.ts";
import { HostService } from "../src/app/host-service.ts";
import { PodService } from "../src/app/pod-service.ts";
import type { NetConfigSettings } from "../src/core/settings.ts";
import { Namespaces } from "./namespaces.ts";

export const PRIMARY_MAC = "02:00:00:00:00:05";

export function nodeFixture() {
  const nss = new Namespaces();
  const opened: NetlinkKernel[] = [];
  afterAll(() => {
    for (const k of opened) k.close();
    nss.cleanup();
  });

  /** The node: eth0 (primary ENI, up, 10.0.0.5/24, `mtu` when given) and its peer ext0 (up). */
  function nodeNs(mtu?: number): { name: string; path: string } {
    const n = nss.add("n");
    nss.ip(n.name, ["link", "add", "eth0", ...(mtu ? ["mtu", String(mtu)] : []), "address", PRIMARY_MAC, "type", "veth", "peer", "name", "ext0"]);
    nss.ip(n.name, ["addr", "add", "10.0.0.5/24", "dev", "eth0"]);
    for (const l of ["eth0", "ext0"]) nss.ip(n.name, ["link", "set", l, "up"]);
    return n;
  }

  /** HostService and PodService on the node; `s.current` changes the settings they read. */
  function services(node: { path: string }, settings: NetConfigSettings, backend: IptablesBackend = "nft") {
    const kernel = new NetlinkKernel({ path: node.path });
    opened.push(kernel);
    const s = { current: settings };
    return {
      s,
      host: new HostService(kernel, new Iptables({ path: node.path }, backend), () => s.current, { linkWaitMs: 500, randomFully: true }),
      pods: new PodService(kernel, () => s.current),
    };
  }

  return { nss, nodeNs, services };
}
