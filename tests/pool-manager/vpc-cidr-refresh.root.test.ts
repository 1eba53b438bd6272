/**
 * A CIDR block associated with the VPC after start-up, end to end without a restart (root):
 * pool-manager reads IMDS through its real adapter from the simulated IMDS, which shows the
 * simulated EC2's VPC; its host set-up goes to net-config's HostService in a namespace standing
 * for the node (eth0 carries the instance's primary ENI MAC and IP), with real iptables and nft.
 * Assumptions: m5.large, VPC 10.0.0.0/16, the CIDRs re-read every 100 ms instead of 30 s.
 */
import { afterAll, expect, test } from "bun:test";
import { serveImds } from "../../deploy/local/sim-imds/serve.ts";
import { imdsViewOf } from "../../deploy/local/node-identity.ts";
import { SdkImds } from "../../services/pool-manager/src/adapters/imds.ts";
import { UPSTREAM_DEFAULTS } from "../../services/pool-manager/src/core/settings.ts";
import { FakeNetConfig } from "../../services/pool-manager/test-support/fakes.ts";
import { NetlinkKernel } from "../../services/net-config/src/adapters/netlink-kernel.ts";
import { Iptables } from "../../services/net-config/src/adapters/iptables.ts";
import { HostService, type HostRequest } from "../../services/net-config/src/app/host-service.ts";
import { DEFAULT_SETTINGS } from "../../services/net-config/src/core/settings.ts";
import { Namespaces } from "../../services/net-config/test-support/namespaces.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { manager, simWorld } from "./sim-world.ts";

const gate = requires(...NAMESPACES, "iptables", "nft", "nsenter");
const nss = new Namespaces();
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  nss.cleanup();
});

/** pool-manager's net-config port, with the host set-up done for real in the namespace. */
class NamespaceNetConfig extends FakeNetConfig {
  constructor(private readonly hostService: HostService) {
    super();
  }
  override async setupHost(h: HostRequest): Promise<void> {
    await this.hostService.setupHost(h);
    await super.setupHost(h);
  }
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await Bun.sleep(50);
  }
}

gate.test("a VPC CIDR associated later is exempted from SNAT and connmark; disassociated, it leaves", async () => {
  const w = await simWorld();
  cleanups.push(() => w.stop());
  const inst = w.model.state.instances[w.instanceId]!;
  const imdsServer = serveImds({ hostname: "127.0.0.1", port: 0, instanceId: w.instanceId, view: (id, now) => imdsViewOf(w.model, "us-west-2", id, now) });
  cleanups.push(() => imdsServer.stop());

  const node = nss.add("v");
  const mac = w.model.state.enis[inst.primaryEniId]!.mac;
  nss.ip(node.name, ["link", "add", "eth0", "address", mac, "type", "veth", "peer", "name", "ext0"]);
  nss.ip(node.name, ["addr", "add", `${inst.privateIp}/24`, "dev", "eth0"]);
  nss.ip(node.name, ["link", "set", "eth0", "up"]);
  const kernel = new NetlinkKernel({ path: node.path });
  cleanups.push(() => kernel.close());
  const host = new HostService(kernel, new Iptables({ path: node.path }, "nft"), () => DEFAULT_SETTINGS, { linkWaitMs: 500, randomFully: true });

  const h = manager(w, { ...UPSTREAM_DEFAULTS, warmEniTarget: 0, warmIpTarget: 1 }, { vpcCidrRefreshMs: 100 }, { net: new NamespaceNetConfig(host), imds: new SdkImds({ endpoint: imdsServer.url, timeoutMs: 2000, retries: 0 }) });
  cleanups.push(() => h.pm.stop());
  await h.pm.start();
  const snat = () => nss.exec(node.name, ["iptables-nft-save", "-t", "nat"]).out;
  const mark = () => nss.exec(node.name, ["nft", "list", "chain", "ip", "aws-cni", "snat-mark"]).out;
  expect(snat()).toContain('-A AWS-SNAT-CHAIN-0 -d 10.0.0.0/16 -m comment --comment "AWS SNAT CHAIN" -j RETURN');
  expect(snat()).not.toContain("100.64.0.0/16");
  h.pm.startLoops();

  w.model.associateVpcCidr(w.vpcId, "100.64.0.0/16");
  await until("the new CIDR in the SNAT chain and the connmark table", () => snat().includes("-A AWS-SNAT-CHAIN-0 -d 100.64.0.0/16") && mark().includes("ip daddr 100.64.0.0/16 return"));
  expect(h.pm.model.vpcCidrs).toEqual(["10.0.0.0/16", "100.64.0.0/16"]);
  expect(h.pm.model.snapshot().vpcCidrs).toEqual(["10.0.0.0/16", "100.64.0.0/16"]);

  w.model.disassociateVpcCidr(w.vpcId, "100.64.0.0/16");
  await until("the CIDR gone from both", () => !snat().includes("100.64.0.0/16") && !mark().includes("100.64.0.0/16"));
  expect(snat()).toContain("-A AWS-SNAT-CHAIN-0 -d 10.0.0.0/16");
}, 30_000);
