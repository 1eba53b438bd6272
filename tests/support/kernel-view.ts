/**
 * Read-only views of the kernel state pods are wired with, as ip(8) reports it: the node
 * side (host veths, /32 routes, the rules at 512 and 1536) and the pod side (the
 * interface's addresses and routes). Tests compare them with what they expect.
 */

function ipJson<T>(argv: string[]): T {
  const r = Bun.spawnSync(["ip", ...argv], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${argv.join(" ")}: ${r.stderr.toString().trim()}`);
  const out = r.stdout.toString().trim();
  return (out === "" ? [] : JSON.parse(out)) as T;
}

export interface KernelView {
  /** Links whose name starts with the veth prefix. */
  veths: string[];
  /** Destinations of rules at priority 512 (to-pod rules). */
  rules512: string[];
  /** Rules at 1536 (from-pod rules of secondary ENIs): "from → table". */
  rules1536: string[];
  /** Host /32 routes in main: destination → device. */
  hostRoutes: Record<string, string>;
}

/** The pod-related kernel state of a node namespace. */
export function kernelView(netns: string, vethPrefix = "eni"): KernelView {
  const links = ipJson<Array<{ ifname: string }>>(["-n", netns, "-j", "link", "show"]);
  const rules = ipJson<Array<{ priority: number; dst?: string; src?: string; table?: string }>>(["-n", netns, "-j", "rule", "show"]);
  const routes = ipJson<Array<{ dst: string; dev?: string }>>(["-n", netns, "-j", "route", "show", "table", "main"]);
  const hostRoutes: Record<string, string> = {};
  for (const r of routes) if (r.dev?.startsWith(vethPrefix) && !r.dst.includes("/")) hostRoutes[r.dst] = r.dev;
  return {
    veths: links.map((l) => l.ifname).filter((n) => n.startsWith(vethPrefix)).sort(),
    rules512: rules.filter((r) => r.priority === 512 && r.dst).map((r) => r.dst!).sort(),
    rules1536: rules.filter((r) => r.priority === 1536).map((r) => `${r.src} → ${r.table}`).sort(),
    hostRoutes,
  };
}

/** A link's MAC address in a namespace; undefined when there is no such link. */
export function linkMac(netns: string, dev: string): string | undefined {
  const links = ipJson<Array<{ ifname: string; address?: string }>>(["-n", netns, "-j", "link", "show"]);
  return links.find((l) => l.ifname === dev)?.address;
}

export interface PodView {
  /** The interface's IPv4 addresses with their prefix ("10.0.1.5/32"); empty when it is gone. */
  addresses: string[];
  /** IPv4 routes of the main table: "default via 169.254.1.1 dev eth0", "169.254.1.1 dev eth0 scope link". */
  routes: string[];
}

/** A pod namespace's side of the wiring, for one interface. */
export function podView(netns: string, ifName = "eth0"): PodView {
  const links = ipJson<Array<{ ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>>(["-n", netns, "-j", "addr", "show"]);
  const link = links.find((l) => l.ifname === ifName);
  const routes = ipJson<Array<{ dst: string; gateway?: string; dev?: string; scope?: string }>>(["-n", netns, "-4", "-j", "route", "show", "table", "main"]);
  return {
    addresses: (link?.addr_info ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
    routes: routes
      .filter((r) => r.dev === ifName)
      .map((r) => [r.dst, r.gateway && `via ${r.gateway}`, `dev ${r.dev}`, r.scope && r.scope !== "global" && `scope ${r.scope}`].filter(Boolean).join(" "))
      .sort(),
  };
}
