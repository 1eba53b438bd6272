// Helpers for root tests of the local VPC: run commands inside a namespace and read links.
import { assertNetnsName } from "./names.ts";
import { runCommand, type CommandResult } from "./command.ts";

export function execIn(ns: string, argv: readonly string[], stdin?: string): Promise<CommandResult> {
  return runCommand(["ip", "netns", "exec", assertNetnsName(ns), ...argv], stdin);
}

/** One ICMP echo, 1 s deadline; true when answered. */
export async function ping(ns: string, target: string, source?: string): Promise<boolean> {
  const argv = ["busybox", "ping", "-c", "1", "-W", "1"];
  if (source !== undefined) argv.push("-I", source);
  const r = await execIn(ns, [...argv, target]);
  return r.exitCode === 0;
}

export interface LinkInfo {
  ifname: string;
  address: string;
  operstate: string;
  flags: string[];
}

export async function linksIn(ns: string | undefined): Promise<LinkInfo[]> {
  const argv = ns === undefined ? ["ip", "-j", "link", "show"] : ["ip", "-n", assertNetnsName(ns), "-j", "link", "show"];
  const r = await runCommand(argv);
  if (r.exitCode !== 0) return [];
  return JSON.parse(r.stdout) as LinkInfo[];
}

/** A TCP or UDP exchange with the outside echo service (`ip:port` or `[ipv6]:port`), from inside `ns`. */
export async function askEcho(ns: string, address: string, proto: "tcp" | "udp"): Promise<string> {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = address.slice(colon + 1);
  const script = proto === "tcp"
    ? `const s=await Bun.connect({hostname:${JSON.stringify(host)},port:${Number(port)},socket:{data(_s,d){process.stdout.write(d);},close(){process.exit(0);}}});setTimeout(()=>process.exit(2),3000);`
    : `const s=await Bun.udpSocket({hostname:${JSON.stringify(host.includes(":") ? "::" : "0.0.0.0")},socket:{data(_s,d){process.stdout.write(d);process.exit(0);}}});s.send("hi",${Number(port)},${JSON.stringify(host)});setTimeout(()=>process.exit(2),3000);`;
  const r = await execIn(ns, [process.execPath, "-e", script]);
  return r.stdout;
}

const PROBE = new URL("./probe.ts", import.meta.url).pathname;

/** One TCP connection or UDP datagram to an echo service from inside `ns` (probe.ts): its answer, or undefined when refused or silent. */
export async function probe(ns: string, proto: "tcp" | "udp", host: string, port: number, opts: { source?: string; timeoutMs?: number } = {}): Promise<string | undefined> {
  const r = await execIn(ns, [process.execPath, "run", PROBE, proto, host, String(port), opts.source ?? "-", String(opts.timeoutMs ?? 1000)]);
  return r.exitCode === 0 ? r.stdout : undefined;
}

/**
 * What net-config's stand-in makes for a branch ENI on this kernel (no 802.1Q): the trunk link
 * up, `vlan.eth.<vlanId>` a macvlan of it with the branch's MAC and address, and a route
 * table (100 + VLAN) with a rule for traffic from the branch's address. Returns stderr of
 * what failed ("" when all went well).
 */
export async function branchStandIn(ns: string, p: { trunkLink: string; vlanId: number; mac: string; ip: string; gateway: string }): Promise<string> {
  const link = `vlan.eth.${p.vlanId}`;
  const table = String(100 + p.vlanId);
  let errors = "";
  for (const argv of [
    ["ip", "link", "set", p.trunkLink, "up"],
    ["ip", "link", "add", "link", p.trunkLink, "name", link, "address", p.mac, "type", "macvlan", "mode", "bridge"],
    ["ip", "link", "set", link, "up"],
    ["ip", "addr", "add", `${p.ip}/32`, "dev", link],
    ["ip", "route", "add", "default", "via", p.gateway, "dev", link, "onlink", "table", table],
    ["ip", "rule", "add", "from", p.ip, "table", table, "priority", "10"],
  ]) errors += (await execIn(ns, argv)).stderr;
  return errors;
}
