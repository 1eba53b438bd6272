/**
 * The same kernel operations performed with one `ip` (or `sysctl`) process each: the
 * baseline the netlink adapter is measured against (bench/netconfig-wire.ts), and a way to
 * cross-check it. Argv arrays only; names were validated by the core's plan.
 */
import type { KernelOp, RouteSpec, RuleSpec, Step } from "../core/kernel-ops.ts";
import { checkNetnsPath } from "../core/validation.ts";

function routeArgs(r: RouteSpec): string[] {
  const a = [r.family === 6 ? "-6" : "-4", "route"];
  const spec = [r.dst];
  if (r.gateway) spec.push("via", r.gateway);
  if (r.dev) spec.push("dev", r.dev);
  if (r.scope !== "universe" && r.family === 4) spec.push("scope", r.scope);
  spec.push("table", String(r.table));
  return [...a, "__verb__", ...spec];
}

function ruleArgs(r: RuleSpec): string[] {
  const a = [r.family === 6 ? "-6" : "-4", "rule", "__verb__", "priority", String(r.priority)];
  if (r.src) a.push("from", r.src);
  if (r.dst) a.push("to", r.dst);
  if (r.iif) a.push("iif", r.iif);
  if (r.ipproto !== undefined) a.push("ipproto", String(r.ipproto));
  if (r.fwmark !== undefined) a.push("fwmark", `0x${r.fwmark.toString(16)}/0x${(r.fwmask ?? 0xffffffff).toString(16)}`);
  if (r.table) a.push("lookup", String(r.table));
  return a;
}

const verb = (args: string[], v: string) => args.map((x) => (x === "__verb__" ? v : x));

/** argv of one operation, run inside the namespace at `nsPath`; `peerNsPath` names where a veth's peer goes. */
export function opArgv(op: KernelOp, nsPath: string, peerNsPath: string): string[] {
  checkNetnsPath(nsPath);
  const inNs = (argv: string[]) => ["nsenter", `--net=${nsPath}`, ...argv];
  switch (op.op) {
    case "veth.create":
      return inNs(["ip", "link", "add", op.podIf, "mtu", String(op.mtu), "up", "type", "veth", "peer", "name", op.hostVeth, "mtu", String(op.mtu), "address", op.hostMac, "netns", peerNsPath]);
    case "link.set":
      return inNs(["ip", "link", "set", "dev", op.dev, ...(op.mtu ? ["mtu", String(op.mtu)] : []), ...(op.up === undefined ? [] : [op.up ? "up" : "down"])]);
    case "link.del":
      return inNs(["ip", "link", "del", "dev", op.dev]);
    case "vlan.create":
      return inNs(["ip", "link", "add", "link", op.parent, "name", op.dev, "address", op.mac, "type", op.kind, ...(op.kind === "vlan" ? ["id", String(op.vlanId)] : [])]);
    case "addr.add":
      return inNs(["ip", "addr", "add", op.addr.cidr, "dev", op.addr.dev, ...(op.nodad ? ["nodad"] : [])]);
    case "addr.del":
      return inNs(["ip", "addr", "del", op.addr.cidr, "dev", op.addr.dev]);
    case "route.replace":
      return inNs(["ip", ...verb(routeArgs(op.route), "replace")]);
    case "route.del":
      return inNs(["ip", ...verb(routeArgs(op.route), "del")]);
    case "neigh.replace":
      return inNs(["ip", op.neigh.family === 6 ? "-6" : "-4", "neigh", "replace", op.neigh.ip, "lladdr", op.neigh.mac, "dev", op.neigh.dev, "nud", "permanent"]);
    case "rule.add":
      return inNs(["ip", ...verb(ruleArgs(op.rule), "add")]);
    case "rule.del":
      return inNs(["ip", ...verb(ruleArgs(op.rule), "del")]);
    case "sysctl":
      // procps sysctl accepts the slash form, which keeps dots in interface names intact.
      return inNs(["sysctl", "-q", "-w", `${op.key}=${op.value}`]);
  }
}

/** Perform steps with one process per operation; deletes of missing objects are not errors. */
export async function runWithSpawns(steps: Step[], nodeNsPath: string, podNsPath: string): Promise<void> {
  for (const s of steps) {
    const [ns, peer] = s.side === "pod" ? [podNsPath, nodeNsPath] : [nodeNsPath, podNsPath];
    const p = Bun.spawn(opArgv(s.op, ns, peer), { stdout: "ignore", stderr: "pipe" });
    const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    const missingOk = "missingOk" in s.op || s.op.op === "rule.del";
    if (code !== 0 && !(missingOk && /Cannot find|No such|not exist|Cannot assign/i.test(err))) {
      if (!(s.op.op === "sysctl" && s.op.missingOk)) throw new Error(`${opArgv(s.op, ns, peer).join(" ")}: ${err.trim()}`);
    }
  }
}
