// Root test: security groups enforced by the router (sg-nft.ts, sg-enforcer.ts), driven by a
// real simulated EC2. Outcomes are traffic between namespaces and the router's nft table.
//
//   node 0  client C (group gC)          node 1  server S (group gS), echo on 8001, 8002, 8003
//   node 2  trunk node: eth1 = trunk T (gT) with an address of its own, and the branch B (gB)
//           as `vlan.eth.1`, a macvlan of eth1 with B's MAC; echo on T:7000 and B:7000
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ec2Model } from "../sim-ec2/state.ts";
import type { IpPermissionInput } from "../sim-ec2/sg-rules.ts";
import { VpcFabric, destroyStack } from "./fabric.ts";
import { FabricFollower } from "./fabric-sync.ts";
import { EniMirror } from "./mirror.ts";
import { stackNames } from "./names.ts";
import { startEcho, type EchoService } from "./outside-echo.ts";
import { SgEnforcer } from "./sg-enforcer.ts";
import { SG_TABLE } from "./sg-nft.ts";
import { branchStandIn, execIn, ping, probe } from "./test-support.ts";
import { lineClient, startLineEcho, type LineClient } from "./sg-test-support.ts";
import { NAMESPACES, requires } from "../../../tests/support/prerequisites.ts";

const names = stackNames(`/tmp/vpc-sg-test-${process.pid}-${Math.random().toString(36).slice(2)}`);
const silent = { info() {}, error() {} };
/** Each test spawns a few processes per probe; a shared, loaded machine needs the room. */
const TEST_MS = 30_000;
const perm = (protocol: string, from: number | undefined, to: number | undefined, peer: { cidr: string } | { groupId: string }): IpPermissionInput => ({
  protocol,
  ...(from !== undefined ? { fromPort: from } : {}),
  ...(to !== undefined ? { toPort: to } : {}),
  cidrs: "cidr" in peer ? [peer] : [],
  cidrsV6: [],
  groupIds: "groupId" in peer ? [peer] : [],
});
const ALL_OUT = perm("-1", undefined, undefined, { cidr: "0.0.0.0/0" });

requires(...NAMESPACES, "busybox", "nft", "curl").describe("security groups enforced by the VPC router (root)", () => {
  const model = new Ec2Model({ timing: { attachDelayMs: 0, imdsDelayMs: 0 } });
  const vpc = model.createVpc({ cidr: "10.0.0.0/16" });
  const subnet = model.createSubnet({ vpcId: vpc.id, az: "us-west-2a", cidr: "10.0.0.0/19" });
  const group = (name: string) => model.createSecurityGroup({ vpcId: vpc.id, name }).id;
  const gC = group("client");
  const gS = group("server");
  const gRef = group("marker");
  const gT = group("trunk");
  const gB = group("branch");
  const fabric = new VpcFabric(names, vpc.cidrs);
  const mirror = new EniMirror(fabric, silent);
  const enforcer = new SgEnforcer(names.routerNs);
  const [n0, n1, n2] = [0, 1, 2].map((i) => fabric.nodeNs(i)) as [string, string, string];
  const echoes: Array<Pick<EchoService, "stop">> = [];
  const clients: LineClient[] = [];
  let C = "", S = "", T = "", B = "", clientEni = "", branchMac = "";
  let imds: ReturnType<typeof Bun.serve> | undefined;
  const settle = async () => {
    await mirror.idle();
    expect(mirror.failures).toEqual([]);
  };

  beforeAll(async () => {
    await fabric.create();
    for (const i of [0, 1, 2]) await fabric.addNode(i);
    model.addObserver(mirror);
    mirror.follow(new FabricFollower(() => model.state, fabric, enforcer));
    model.authorizeSecurityGroup(gC, "ingress", [perm("-1", undefined, undefined, { cidr: "10.0.0.0/16" })]);
    model.revokeSecurityGroup(gS, "egress", [ALL_OUT]);
    model.authorizeSecurityGroup(gT, "ingress", [perm("tcp", 7000, 7000, { cidr: "10.0.0.0/16" })]);
    model.authorizeSecurityGroup(gB, "ingress", [perm("tcp", 7001, 7001, { cidr: "10.0.0.0/16" })]);
    model.revokeSecurityGroup(gB, "egress", [ALL_OUT]);
    const client = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.id, securityGroupIds: [gC] });
    const server = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.id, securityGroupIds: [gS] });
    const trunkNode = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.id, securityGroupIds: [gC] });
    [client, server, trunkNode].forEach((inst, i) => mirror.registerInstance(inst.id, i));
    C = client.privateIp;
    S = server.privateIp;
    clientEni = client.primaryEniId;
    const trunk = model.createNetworkInterface({ subnetId: subnet.id, interfaceType: "trunk", groups: [gT] });
    model.attachNetworkInterface({ eniId: trunk.id, instanceId: trunkNode.id, deviceIndex: 1 });
    const branch = model.createNetworkInterface({ subnetId: subnet.id, interfaceType: "branch", groups: [gB] });
    model.associateTrunkInterface({ branchEniId: branch.id, trunkEniId: trunk.id, vlanId: 1 });
    T = trunk.primaryIp;
    B = branch.primaryIp;
    branchMac = branch.mac;
    await settle();
    for (const argv of [
      ["ip", "link", "set", "eth1", "up"],
      ["ip", "addr", "add", `${T}/32`, "dev", "eth1"],
      ["ip", "route", "add", "default", "via", "10.0.0.1", "dev", "eth1", "onlink", "table", "102"],
      ["ip", "rule", "add", "from", T, "table", "102", "priority", "10"],
    ]) expect((await execIn(n2, argv)).stderr).toBe("");
    expect(await branchStandIn(n2, { trunkLink: "eth1", vlanId: 1, mac: branch.mac, ip: B, gateway: "10.0.0.1" })).toBe("");
    for (const [ns, host, port] of [[n1, S, 8001], [n1, S, 8002], [n2, T, 7000], [n2, B, 7000]] as const) echoes.push(await startEcho(ns, port, 10_000, host));
    // IMDS: the node's traffic to 169.254.169.254 is DNATed to a listener on the management link.
    imds = Bun.serve({ hostname: names.mgmt.rootIp, port: 0, fetch: () => new Response("ami-id\n") });
    await fabric.redirectImds(0, imds.port!);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const e of echoes) await e.stop();
    imds?.stop(true);
    expect(await destroyStack(names)).toEqual([]);
  }, TEST_MS);

  test("the router's table: a chain pair per ENI, the branch told apart by MAC and address", async () => {
    const r = await execIn(names.routerNs, ["nft", "list", "table", "inet", SG_TABLE]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("ct state established,related accept");
    for (const eni of Object.values(model.state.enis)) {
      expect(r.stdout).toContain(`chain in_${eni.id.replace("-", "_")} {`);
      expect(r.stdout).toContain(`chain out_${eni.id.replace("-", "_")} {`);
    }
    expect(r.stdout).toContain(`ether saddr ${branchMac} goto out_`);
    expect(r.stdout).toMatch(new RegExp(`ip daddr ${B.replaceAll(".", "\\.")} goto in_`));
  }, TEST_MS);

  test("ingress by CIDR and port range: 8001 in the range passes, 8002 and UDP do not; the reply needs no egress rule", async () => {
    expect(await probe(n0, "tcp", S, 8001)).toBeUndefined();
    model.authorizeSecurityGroup(gS, "ingress", [perm("tcp", 8000, 8001, { cidr: "10.0.0.0/19" })]);
    await settle();
    // gS allows nothing out: the answer is a tracked reply.
    expect(await probe(n0, "tcp", S, 8001)).toStartWith(`from ${C}:`);
    const [tcp8002, udp8001] = await Promise.all([probe(n0, "tcp", S, 8002), probe(n0, "udp", S, 8001)]);
    expect(tcp8002).toBeUndefined();
    expect(udp8001).toBeUndefined();
  }, TEST_MS);

  test("ICMP by type: echo requests in from C's address only while the rule is there", async () => {
    expect(await ping(n0, S)).toBe(false);
    model.authorizeSecurityGroup(gS, "ingress", [perm("icmp", 8, -1, { cidr: `${C}/32` })]);
    await settle();
    expect(await ping(n0, S)).toBe(true);
    expect(await ping(n2, S)).toBe(false);
    model.revokeSecurityGroup(gS, "ingress", [perm("icmp", 8, -1, { cidr: `${C}/32` })]);
    await settle();
    expect(await ping(n0, S)).toBe(false);
  }, TEST_MS);

  test("egress alone: S may not open anything (its group allows nothing out) until an egress rule says so", async () => {
    // C's group lets everything in from the VPC; only S's egress decides.
    expect(await ping(n1, C)).toBe(false);
    model.authorizeSecurityGroup(gS, "egress", [perm("icmp", -1, -1, { cidr: "10.0.0.0/16" })]);
    await settle();
    expect(await ping(n1, C)).toBe(true);
  }, TEST_MS);

  test("a referenced group: UDP 8002 from members of gRef; C passes once its ENI joins the group (ModifyNetworkInterfaceAttribute)", async () => {
    model.authorizeSecurityGroup(gS, "ingress", [perm("udp", 8002, 8002, { groupId: gRef })]);
    await settle();
    expect(await probe(n0, "udp", S, 8002)).toBeUndefined();
    model.modifyNetworkInterfaceAttribute({ eniId: clientEni, groups: [gC, gRef] });
    await settle();
    expect(await probe(n0, "udp", S, 8002)).toStartWith(`from ${C}:`);
    const set = await execIn(names.routerNs, ["nft", "list", "set", "inet", SG_TABLE, `${gRef.replace("-", "_")}_v4`]);
    expect(set.stdout).toContain(C);
    model.modifyNetworkInterfaceAttribute({ eniId: clientEni, groups: [gC] });
    await settle();
    expect(await probe(n0, "udp", S, 8002)).toBeUndefined();
  }, TEST_MS);

  test("branch and trunk on one link: each judged by its own groups, both ways", async () => {
    const [toTrunk, toBranch] = await Promise.all([probe(n0, "tcp", T, 7000), probe(n0, "tcp", B, 7000)]);
    expect(toTrunk).toStartWith(`from ${C}:`);
    expect(toBranch).toBeUndefined();
    // Out: S lets 8001 in from the subnet; the trunk's group allows all out, the branch's nothing.
    const [fromTrunk, fromBranch] = await Promise.all([probe(n2, "tcp", S, 8001, { source: T }), probe(n2, "tcp", S, 8001, { source: B })]);
    expect(fromTrunk).toStartWith(`from ${T}:`);
    expect(fromBranch).toBeUndefined();
    model.authorizeSecurityGroup(gB, "egress", [perm("tcp", 8001, 8001, { cidr: `${S}/32` })]);
    model.authorizeSecurityGroup(gB, "ingress", [perm("tcp", 7000, 7000, { cidr: `${C}/32` })]);
    await settle();
    expect(await probe(n2, "tcp", S, 8001, { source: B })).toStartWith(`from ${B}:`);
    expect(await probe(n0, "tcp", B, 7000)).toStartWith(`from ${C}:`);
  }, TEST_MS);

  test("revoking: a new connection is refused at once, an established (tracked) one goes on, as on AWS", async () => {
    echoes.push(await startLineEcho(n1, S, 8003));
    model.authorizeSecurityGroup(gS, "ingress", [perm("tcp", 8003, 8003, { cidr: `${C}/32` })]);
    await settle();
    const conn = await lineClient(n0, S, 8003);
    clients.push(conn);
    expect(await conn.say("one")).toBe("one");
    model.revokeSecurityGroup(gS, "ingress", [perm("tcp", 8003, 8003, { cidr: `${C}/32` })]);
    await settle();
    expect(await conn.say("two")).toBe("two");
    const fresh = await lineClient(n0, S, 8003, 1000).catch(() => undefined);
    expect(fresh).toBeUndefined();
  }, TEST_MS);

  test("IMDS stays reachable whatever the groups (AWS does not filter it)", async () => {
    model.revokeSecurityGroup(gC, "egress", [ALL_OUT]);
    await settle();
    expect(await probe(n0, "tcp", S, 8001)).toBeUndefined();
    const r = await execIn(n0, ["curl", "-sS", "-m", "2", "http://169.254.169.254/latest/meta-data/ami-id"]);
    expect([r.exitCode, r.stderr, r.stdout]).toEqual([0, "", "ami-id\n"]);
  }, TEST_MS);
});
