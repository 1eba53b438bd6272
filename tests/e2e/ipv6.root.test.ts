// An IPv6 deployment end to end (`up --ipv6`, 2 nodes, processes mode): the IPv6 demo's steps
// (pods out of their node's /80, cross-node ICMPv6 and TCP, the IPv6 outside, the IPv4 outside
// through egress-cni, metrics, every /debug), then what EC2, the metrics and DEL show. Assumes: m5.large nodes in one subnet of a
// dual-stack VPC (10.0.0.0/16 + 2001:db8:1000::/56); in IPv6 mode each node's primary ENI gets
// one /80 and nothing else.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { DescribeNetworkInterfacesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { contains, parseCidr } from "../../shared/ip.ts";
import { hostVethName } from "../../shared/naming.ts";
import { DEMO_STEPS_IPV6 } from "../../deploy/local/demo/run.ts";
import { getJson } from "../../deploy/local/demo/observe.ts";
import { runCommand } from "../../deploy/local/vpc/command.ts";
import { execIn } from "../../deploy/local/vpc/test-support.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { demoDeployment, demoStepTests } from "./demo-deployment.ts";

const inCidr = (cidr: string, ip: string) => {
  const c = parseCidr(cidr);
  return c !== undefined && contains(c, ip);
};

requires(...LOCAL_DEPLOYMENT).describe("IPv6 deployment end to end (root)", () => {
  const d = demoDeployment("e2e-ipv6", { nodes: 2, ipv6: true, env: { IP_COOLDOWN_PERIOD: "5" } }, { burst: 0, growWaitMs: 0, shrinkWaitMs: 0, env: {} });
  demoStepTests(d, DEMO_STEPS_IPV6, 60_000);

  test("EC2 (through the SDK) shows each node's /80 on its primary ENI and the node's primary IPv6; the pods' addresses are inside", async () => {
    const ec2 = new EC2Client({ region: "us-west-2", endpoint: d.dep.stack.ec2.endpoint, credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" }, maxAttempts: 1 });
    try {
      for (const [i, node] of d.dep.stack.nodes.entries()) {
        const r = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: "attachment.instance-id", Values: [node.instanceId] }] }));
        const enis = r.NetworkInterfaces ?? [];
        // IPv6 mode: the primary ENI and nothing else; one /80.
        expect(enis.map((e) => e.NetworkInterfaceId)).toEqual([node.primaryEni]);
        const prefixes = enis[0]!.Ipv6Prefixes?.map((p) => p.Ipv6Prefix) ?? [];
        expect(prefixes.length).toBe(1);
        expect(prefixes[0]).toMatch(/\/80$/);
        expect(inCidr(d.dep.stack.vpc.ipv6Cidrs![0]!, prefixes[0]!.split("/")[0]!)).toBe(true);
        expect(enis[0]!.Ipv6Addresses).toEqual([{ Ipv6Address: node.primaryIpv6, IsPrimaryIpv6: true }]);
        const pod = [d.ctx.a!, d.ctx.b!].find((p) => p.nodeIndex === i)!;
        expect(inCidr(prefixes[0]!, pod.address)).toBe(true);
      }
    } finally {
      ec2.destroy();
    }
  }, 30_000);

  test("metrics show the IPv6 pool: the /80 with its 2^48 addresses and the one pod in it, no NaN", async () => {
    for (const [i, node] of d.dep.stack.nodes.entries()) {
      const r = await execIn(node.netns, ["curl", "-s", "-m", "5", node.metrics!]);
      expect(r.exitCode).toBe(0);
      const samples = r.stdout.split("\n").filter((l) => l && !l.startsWith("#"));
      expect(samples.filter((l) => /\bNaN\b/.test(l))).toEqual([]);
      const value = (series: string) => samples.filter((l) => l.startsWith(`${series} `)).map((l) => Number(l.split(" ").at(-1)));
      const prefix = d.dep.cloud.model.state.enis[node.primaryEni]!.ipv6Prefixes[0]!;
      expect(value("awscni_assigned_ip_addresses")).toEqual([1]);
      expect(value(`awscni_assigned_ip_per_cidr{cidr="${prefix}"}`)).toEqual([1]);
      // Upstream's names and counting: the /80 is counted in awscni_total_ipv4_prefixes, its addresses in total_ip_addresses.
      expect(value("awscni_total_ipv4_prefixes")).toEqual([1]);
      expect(value("awscni_total_ip_addresses")).toEqual([2 ** 48]);
      expect(d.ctx.pods.pods.size).toBe(2);
      expect([...d.ctx.pods.pods.values()].filter((p) => p.nodeIndex === i).length).toBe(1);
    }
  }, 30_000);

  test("DEL releases: the address cools down and is gone from the node's kernel; the /80 stays on the ENI", async () => {
    const pods = d.ctx.pods;
    const node = pods.node(0);
    const c = await pods.addRetrying(0, "e2e-v6-c");
    const veth = hostVethName("eni", { namespace: c.namespace, name: c.name, containerId: c.containerId, ifName: "eth0" });
    const kernel = async () => {
      const links = await runCommand(["ip", "-n", node.netns, "-o", "link", "show"]);
      const routes = await runCommand(["ip", "-n", node.netns, "-6", "route", "show", "table", "all"]);
      const rules = await runCommand(["ip", "-n", node.netns, "-6", "rule", "show"]);
      const mentions = (text: string) => text.split("\n").filter((l) => l.includes(c.address));
      return { veth: links.stdout.includes(`: ${veth}@`), routes: mentions(routes.stdout), rules: mentions(rules.stdout) };
    };
    const before = await kernel();
    expect(before.veth).toBe(true);
    expect(before.routes.length).toBeGreaterThan(0);
    await pods.del(c);
    expect(await kernel()).toEqual({ veth: false, routes: [], rules: [] });
    const broker = (await getJson(join(node.runDir!, "addr-broker.sock"), "/debug")) as { cooling: Array<{ address: string }>; assignments?: unknown };
    expect(broker.cooling.map((x) => x.address)).toContain(c.address);
    expect(JSON.stringify(broker.assignments ?? [])).not.toContain(c.address);
    const eni = d.dep.cloud.model.state.enis[node.primaryEni]!;
    expect(eni.ipv6Prefixes.length).toBe(1);
  }, 30_000);
});
