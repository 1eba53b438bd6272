// `up --ipv6` through the CLI (root, real namespaces, --cloud-only: the VPC alone): a dual-stack
// VPC whose nodes have their primary IPv6 on eth0 and reach each other and the IPv6 outside
// with it, IMDS telling each node its IPv6, unassigned VPC IPv6 unrouted in the router, and the
// nodes still reaching the IPv4 outside with their IPv4 address (what IPv4 egress of IPv6 pods
// will need). SIGTERM leaves nothing behind. Bad combinations fail before anything is made.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { contains, parseCidr } from "../../shared/ip.ts";
import { runCommand } from "../../deploy/local/vpc/command.ts";
import { stackNames } from "../../deploy/local/vpc/names.ts";
import { askEcho, execIn, ping } from "../../deploy/local/vpc/test-support.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { leftovers, runDown, startUp, tempDir, type UpProcess } from "./up-process.ts";

const MAIN = new URL("../../deploy/local/main.ts", import.meta.url).pathname;
const inCidr = (cidr: string, ip: string) => contains(parseCidr(cidr)!, ip);

requires(...LOCAL_DEPLOYMENT).describe("up --ipv6 via the CLI (root)", () => {
  const dir = tempDir("up-ipv6");
  let up: UpProcess | undefined;

  beforeAll(async () => {
    up = await startUp(dir, ["--ipv6", "--nodes", "2", "--cloud-only"]);
  });

  afterAll(async () => {
    try {
      if (up && up.proc.exitCode === null) {
        up.proc.kill("SIGTERM");
        expect(await up.proc.exited).toBe(0);
      }
      expect(await leftovers(dir)).toEqual([]);
    } finally {
      await runDown(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("stack.json: an IPv6 stack, the VPC's /56, each node's primary IPv6 inside it, the IPv6 echo", () => {
    const s = up!.stack;
    expect(s.ipv6).toBe(true);
    expect(s.vpc.ipv6Cidrs).toEqual(["2001:db8:1000::/56"]);
    expect(s.outside.echo6).toMatch(/^\[2001:db8:ffff::10\]:\d+$/);
    const v6 = s.nodes.map((n) => n.primaryIpv6!);
    expect(new Set(v6).size).toBe(2);
    for (const a of v6) expect(inCidr("2001:db8:1000::/64", a)).toBe(true);
  });

  test("each node: its primary IPv6 on eth0, default via fe80:ec2::1; IMDS tells it the same", async () => {
    for (const n of up!.stack.nodes) {
      const addrs = await execIn(n.netns, ["ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"]);
      expect(addrs.stdout).toContain(` ${n.primaryIpv6}/128 `);
      const route = await execIn(n.netns, ["ip", "-6", "route", "show", "default"]);
      expect(route.stdout).toContain("default via fe80:ec2::1 dev eth0");
      const token = await execIn(n.netns, ["curl", "-s", "-m", "5", "-X", "PUT", "-H", "x-aws-ec2-metadata-token-ttl-seconds: 60", "http://169.254.169.254/latest/api/token"]);
      const imds = await execIn(n.netns, ["curl", "-s", "-m", "5", "-H", `x-aws-ec2-metadata-token: ${token.stdout}`, "http://169.254.169.254/latest/meta-data/ipv6"]);
      expect(imds.stdout).toBe(n.primaryIpv6!);
    }
  });

  test("node to node over IPv6; an unassigned VPC IPv6 address is unanswered, the router has no route for it", async () => {
    const [a, b] = up!.stack.nodes as [NonNullable<UpProcess["stack"]["nodes"][0]>, NonNullable<UpProcess["stack"]["nodes"][0]>];
    expect(await ping(a.netns, b.primaryIpv6!)).toBe(true);
    expect(await ping(b.netns, a.primaryIpv6!)).toBe(true);
    const unassigned = "2001:db8:1000:0:ffff::1";
    expect(await ping(a.netns, unassigned)).toBe(false);
    // The router's answer for it: the /56's unreachable route (only assigned addresses have a route to an ENI).
    const route = await runCommand(["ip", "-n", stackNames(dir).routerNs, "-6", "route", "get", unassigned]);
    expect(route.stdout + route.stderr).toMatch(/unreachable|No route to host/);
    const routed = await runCommand(["ip", "-n", stackNames(dir).routerNs, "-6", "route", "get", b.primaryIpv6!]);
    expect(routed.stdout).toContain("dev n1-eth0");
  });

  test("the IPv6 outside sees each node's primary IPv6; the IPv4 outside still sees its IPv4 address", async () => {
    for (const n of up!.stack.nodes) {
      for (const proto of ["tcp", "udp"] as const) expect(await askEcho(n.netns, up!.stack.outside.echo6!, proto)).toMatch(new RegExp(`^from ${n.primaryIpv6!.replaceAll(".", "\\.")}:\\d+\\n$`));
      expect(await askEcho(n.netns, up!.stack.outside.echo, "tcp")).toMatch(new RegExp(`^from ${n.primaryIp.replaceAll(".", "\\.")}:\\d+\\n$`));
    }
  });
});

requires(...LOCAL_DEPLOYMENT).test("up --ipv6 with --env ENABLE_IPv4=true: exit 2 naming the variable, nothing made", async () => {
  const dir = tempDir("up-ipv6-bad");
  try {
    const r = await runCommand([process.execPath, "run", MAIN, "up", "--dir", dir, "--ipv6", "--env", "ENABLE_IPv4=true"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("LOCAL_BAD_ENV");
    expect(r.stderr).toContain("ENABLE_IPv");
    expect(existsSync(join(dir, "stack.json"))).toBe(false);
    expect(await leftovers(dir)).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
