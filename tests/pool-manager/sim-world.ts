/**
 * Integration-test support: the simulated EC2 of the local deployment (deploy/local/sim-ec2)
 * served in-process on 127.0.0.1 port 0, with a VPC, a subnet and one instance; the real SDK
 * adapter pointed at it over HTTP; IMDS as the simulator shows it; and a pool-manager wired
 * to them on the real clock with the stateful fakes of its peer services.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ec2Model, serveSimEc2, type FaultPatch, type SimEc2Server } from "../../deploy/local/sim-ec2/index.ts";
import { Ec2Guard, type GuardOptions } from "../../services/pool-manager/src/adapters/ec2-guard.ts";
import { createEc2Client, SdkEc2 } from "../../services/pool-manager/src/adapters/ec2.ts";
import { PoolManager, type PoolManagerOptions } from "../../services/pool-manager/src/app/pool-manager.ts";
import type { KubePort } from "../../services/pool-manager/src/app/service-ports.ts";
import type { ImdsPort } from "../../services/pool-manager/src/core/ports.ts";
import type { PoolSettings } from "../../services/pool-manager/src/core/settings.ts";
import { FakeBroker, FakeNetConfig } from "../../services/pool-manager/test-support/fakes.ts";

export interface SimWorld {
  model: Ec2Model;
  server: SimEc2Server;
  ec2: SdkEc2;
  guard: Ec2Guard;
  vpcId: string;
  subnetId: string;
  sgId: string;
  instanceId: string;
  dir: string;
  /** Mutating calls the sim answered (ok or error), by action. */
  mutatingCalls(): number;
  stop(): Promise<void>;
}

export async function simWorld(o: { instanceType?: string; subnetCidr?: string; faults?: FaultPatch; guard?: GuardOptions; subnetTags?: Record<string, string> } = {}): Promise<SimWorld> {
  const dir = mkdtempSync(join(tmpdir(), `pm-sim-${process.pid}-`));
  const model = new Ec2Model({ timing: { attachDelayMs: 20, imdsDelayMs: 10, deleteAfterDetachMs: 50 } });
  const vpc = model.createVpc({ cidr: "10.0.0.0/16", ipv6Cidr: "2600:1f14:aaa:100::/56" });
  const subnet = model.createSubnet({ vpcId: vpc.id, az: "us-west-2a", cidr: o.subnetCidr ?? "10.0.1.0/24", ipv6Cidr: "2600:1f14:aaa:100::/64", tags: o.subnetTags ?? {} });
  const sg = model.defaultSecurityGroup(vpc.id)!;
  const inst = model.launchInstance({ instanceType: o.instanceType ?? "m5.large", subnetId: subnet.id, securityGroupIds: [sg.id] });
  const server = serveSimEc2({ host: "127.0.0.1", port: 0, controlSocket: join(dir, "control.sock"), model, faults: { attachDelayMs: 20, imdsDelayMs: 10, deleteAfterDetachMs: 50, ...o.faults } });
  // Faults are injected on purpose, on the real clock: the adaptive rate never drops below 10/s here (or the configured rate).
  const guard = new Ec2Guard({ baseDelayMs: 5, maxDelayMs: 50, adapt: { decrease: 0.5, floorPerSec: 10, increaseFraction: 0.02 }, ...o.guard });
  const client = createEc2Client({ region: "us-west-2", endpoint: server.endpoint, credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" } });
  const ec2 = new SdkEc2(client, guard);
  const MUTATING = /^(Create|Attach|Detach|Delete|Modify|Assign|Unassign)/;
  return {
    model,
    server,
    ec2,
    guard,
    vpcId: vpc.id,
    subnetId: subnet.id,
    sgId: sg.id,
    instanceId: inst.id,
    dir,
    mutatingCalls: () =>
      Object.entries(server.service.calls)
        .filter(([a]) => MUTATING.test(a))
        .reduce((n, [, c]) => n + c.ok + c.error + c.throttled, 0),
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** IMDS as the simulator shows it to the instance (with its propagation delay). */
export function simImds(w: SimWorld): ImdsPort {
  const inst = () => w.model.state.instances[w.instanceId]!;
  return {
    instanceId: async () => w.instanceId,
    instanceType: async () => inst().instanceType,
    availabilityZone: async () => inst().az,
    primaryMac: async () => w.model.state.enis[inst().primaryEniId]!.mac,
    localIpv4: async () => inst().privateIp,
    localIpv6: async () => inst().ipv6Address ?? undefined,
    vpcIpv6Cidrs: async () => w.model.state.vpcs[inst().vpcId]?.ipv6Cidrs ?? [],
    // IMDS shows network-card only on multi-card types: absent means card 0.
    interfaces: async () => (w.model.imdsView(w.instanceId) ?? []).map((i) => ({ ...i, networkCard: i.networkCard ?? 0 })),
  };
}

export interface Harness {
  w: SimWorld;
  pm: PoolManager;
  net: FakeNetConfig;
  broker: FakeBroker;
}

/** A pool-manager on the simulated EC2 through the real SDK, on the real clock (back-offs shortened); `fakes.kube` may be the real adapter. */
export function manager(w: SimWorld, settings: PoolSettings, o: Partial<PoolManagerOptions> = {}, fakes: { net?: FakeNetConfig; broker?: FakeBroker; kube?: KubePort; imds?: ImdsPort } = {}): Harness {
  const net = fakes.net ?? new FakeNetConfig();
  const broker = fakes.broker ?? new FakeBroker();
  const pm = new PoolManager(settings, { ec2: w.ec2, imds: fakes.imds ?? simImds(w), net, broker, ...(fakes.kube ? { kube: fakes.kube } : {}) }, {
    additionalTags: {},
    subnetDiscovery: false,
    disableProvisioning: false,
    disableLeakedEniCleanup: false,
    now: Date.now,
    sleep: (ms) => Bun.sleep(Math.min(ms, 50)),
    imdsWait: { firstMs: 10, maxMs: 100, tries: 30 },
    // Faults are injected on purpose here: back off briefly, not for seconds.
    cycleBackoff: { firstMs: 20, maxMs: 200 },
    startupBackoff: { firstMs: 20, maxMs: 200 },
    ...o,
  });
  return { w, pm, net, broker };
}

/** Pool cycles until `done` holds (the attachment and IMDS delays pass between them), at most `n`. */
export async function settleCycles(pm: PoolManager, n: number, done: () => boolean = () => false): Promise<void> {
  for (let i = 0; i < n && !done(); i++) {
    await pm.cycle();
    await Bun.sleep(30);
  }
}

/** The instance's ENIs attached on network card `card`, as the simulated EC2 holds them. */
export const enisOnCard = (s: SimWorld, card: number) => Object.values(s.model.state.enis).filter((e) => e.attachment?.instanceId === s.instanceId && e.attachment.networkCardIndex === card);
