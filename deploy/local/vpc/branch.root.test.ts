// Root test: a branch ENI carried over its trunk's link. The simulated EC2 (a real Ec2Model)
// drives the mirror; node 1 plays a trunk node whose `vlan.eth.1` stand-in is a macvlan of
// the trunk link with the branch's MAC and address, as net-config makes it on this kernel.
// Outcomes: traffic to and from the branch address while associated, none after.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ec2Model } from "../sim-ec2/state.ts";
import { VpcFabric, destroyStack } from "./fabric.ts";
import { FabricFollower } from "./fabric-sync.ts";
import { EniMirror } from "./mirror.ts";
import { stackNames } from "./names.ts";
import { branchStandIn, execIn, ping } from "./test-support.ts";
import { NAMESPACES, requires } from "../../../tests/support/prerequisites.ts";

const names = stackNames(`/tmp/vpc-branch-test-${process.pid}-${Math.random().toString(36).slice(2)}`);
const silent = { info() {}, error() {} };
/** Each test spawns a few processes per probe; a shared, loaded machine needs the room. */
const TEST_MS = 30_000;

requires(...NAMESPACES, "busybox").describe("branch ENIs over the trunk link (root)", () => {
  const model = new Ec2Model({ timing: { attachDelayMs: 0, imdsDelayMs: 0 } });
  const vpc = model.createVpc({ cidr: "10.0.0.0/16" });
  const subnet = model.createSubnet({ vpcId: vpc.id, az: "us-west-2a", cidr: "10.0.0.0/19" });
  const fabric = new VpcFabric(names, vpc.cidrs);
  const mirror = new EniMirror(fabric, silent);
  const follower = new FabricFollower(() => model.state, fabric);
  const node1 = fabric.nodeNs(1);
  let peerIp = "";
  let branchId = "";
  let branchIp = "";
  let associationId = "";

  beforeAll(async () => {
    await fabric.create();
    await fabric.addNode(0);
    await fabric.addNode(1);
    model.addObserver(mirror);
    mirror.follow(follower);
    const peer = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.id });
    const trunkNode = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.id });
    mirror.registerInstance(peer.id, 0);
    mirror.registerInstance(trunkNode.id, 1);
    peerIp = peer.privateIp;
    const trunk = model.createNetworkInterface({ subnetId: subnet.id, interfaceType: "trunk" });
    model.attachNetworkInterface({ eniId: trunk.id, instanceId: trunkNode.id, deviceIndex: 1 });
    const branch = model.createNetworkInterface({ subnetId: subnet.id, interfaceType: "branch" });
    branchId = branch.id;
    branchIp = branch.primaryIp;
    associationId = model.associateTrunkInterface({ branchEniId: branch.id, trunkEniId: trunk.id, vlanId: 1 }).id;
    await mirror.idle();
    expect(await branchStandIn(node1, { trunkLink: "eth1", vlanId: 1, mac: branch.mac, ip: branchIp, gateway: "10.0.0.1" })).toBe("");
  }, TEST_MS);

  afterAll(async () => {
    expect(await destroyStack(names)).toEqual([]);
  }, TEST_MS);

  test("the router routes the branch's address to the trunk's link with the branch's MAC; traffic flows both ways", async () => {
    expect(mirror.failures).toEqual([]);
    const route = await execIn(names.routerNs, ["ip", "-o", "route", "get", branchIp]);
    expect(route.stdout).toContain("dev n1-eth1");
    const neigh = await execIn(names.routerNs, ["ip", "-o", "neigh", "show", branchIp, "dev", "n1-eth1"]);
    expect(neigh.stdout).toContain(model.state.enis[branchId]!.mac);
    expect(neigh.stdout).toContain("PERMANENT");
    expect(await ping(fabric.nodeNs(0), branchIp)).toBe(true);
    expect(await ping(node1, peerIp, branchIp)).toBe(true);
    expect(follower.branchRoutes().map((b) => [b.branchEniId, b.trunkLink, b.vlanId])).toEqual([[branchId, "n1-eth1", 1]]);
  }, TEST_MS);

  test("after disassociation the branch address is neither reached nor accepted as a source", async () => {
    model.disassociateTrunkInterface(associationId);
    await mirror.idle();
    expect(mirror.failures).toEqual([]);
    const neigh = await execIn(names.routerNs, ["ip", "-o", "neigh", "show", branchIp, "dev", "n1-eth1"]);
    expect(neigh.stdout.trim()).toBe("");
    expect(await ping(fabric.nodeNs(0), branchIp)).toBe(false);
    expect(await ping(node1, peerIp, branchIp)).toBe(false);
    expect(follower.branchRoutes()).toEqual([]);
  }, TEST_MS);

  test("associated again (a new VLAN), it is carried again; deleting the branch ENI ends it", async () => {
    const trunk = Object.values(model.state.enis).find((e) => e.interfaceType === "trunk")!;
    const again = model.associateTrunkInterface({ branchEniId: branchId, trunkEniId: trunk.id, vlanId: 7 });
    await mirror.idle();
    expect(await ping(fabric.nodeNs(0), branchIp)).toBe(true);
    model.disassociateTrunkInterface(again.id);
    model.deleteNetworkInterface(branchId);
    await mirror.idle();
    expect(await ping(fabric.nodeNs(0), branchIp)).toBe(false);
    expect(mirror.failures).toEqual([]);
  }, TEST_MS);
});
