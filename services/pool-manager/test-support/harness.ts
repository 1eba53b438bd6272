/**
 * A pool-manager on the fake EC2: one VPC, a subnet, one instance, the pool-manager's own
 * Ec2Guard in front of the account (as in front of the SDK in production), IMDS as the fake
 * shows it, stateful fakes of net-config and addr-broker, all on one fake clock. The test
 * drives time through `run` (or the clock): nothing sleeps for real.
 */
import { Ec2Guard, type GuardOptions } from "../src/adapters/ec2-guard.ts";
import { PoolManager, type PoolManagerOptions } from "../src/app/pool-manager.ts";
import type { KubePort } from "../src/app/service-ports.ts";
import type { Ec2Port, ImdsPort } from "../src/core/ports.ts";
import type { PoolSettings } from "../src/core/settings.ts";
import { FakeClock } from "./fake-clock.ts";
import { FakeEc2 } from "./fake-ec2/fake-ec2.ts";
import type { FakeEc2Timing, FakeEni } from "./fake-ec2/world.ts";
import { FakeBroker, FakeNetConfig } from "./fakes.ts";

export interface FakeWorld {
  clock: FakeClock;
  ec2: FakeEc2;
  guard: Ec2Guard;
  vpcId: string;
  subnetId: string;
  sgId: string;
  instanceId: string;
}

/** A seeded jitter source (xorshift32): the same run every time. */
export function seededRandom(seed = 1): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** `seed` seeds the guard's retry jitter. */
export function fakeWorld(o: { instanceType?: string; subnetCidr?: string; subnetTags?: Record<string, string>; guard?: GuardOptions; timing?: Partial<FakeEc2Timing>; seed?: number } = {}): FakeWorld {
  const clock = new FakeClock();
  const ec2 = new FakeEc2(clock, o.timing ? { timing: o.timing } : {});
  const subnet = ec2.addSubnet({ cidr: o.subnetCidr ?? "10.0.1.0/24", ipv6Cidr: "2600:1f14:aaa:100::/64", tags: o.subnetTags ?? {} });
  const sgId = ec2.defaultSecurityGroup(subnet.vpcId);
  const inst = ec2.launchInstance({ instanceType: o.instanceType ?? "m5.large", subnetId: subnet.id });
  const guard = new Ec2Guard({ now: clock.now, sleep: clock.sleep, random: seededRandom(o.seed ?? 1), ...o.guard });
  ec2.client = guard;
  return { clock, ec2, guard, vpcId: subnet.vpcId, subnetId: subnet.id, sgId, instanceId: inst.id };
}

export interface Harness {
  w: FakeWorld;
  pm: PoolManager;
  net: FakeNetConfig;
  broker: FakeBroker;
  /** Drives the fake clock until `p` settles. */
  run<T>(p: Promise<T>): Promise<T>;
  /** start(), driven to its end. */
  start(): Promise<void>;
  /** `n` pool cycles, one after another. */
  cycles(n?: number): Promise<void>;
  /** The instance's ENIs in EC2, by device index. */
  enis(): FakeEni[];
  /** The ENIs this node created (description aws-K8S-<instance>), attached or not. */
  created(): FakeEni[];
}

/** `fakes.ec2` puts a port of the test's in front of the fake EC2 (e.g. a wrapper changing the call order). */
export function manager(w: FakeWorld, settings: PoolSettings, o: Partial<PoolManagerOptions> = {}, fakes: { net?: FakeNetConfig; broker?: FakeBroker; kube?: KubePort; ec2?: Ec2Port; imds?: ImdsPort } = {}): Harness {
  const net = fakes.net ?? new FakeNetConfig();
  const broker = fakes.broker ?? new FakeBroker();
  const pm = new PoolManager(settings, { ec2: fakes.ec2 ?? w.ec2, imds: fakes.imds ?? w.ec2.imdsOf(w.instanceId), net, broker, ...(fakes.kube ? { kube: fakes.kube } : {}) }, {
    additionalTags: {},
    subnetDiscovery: false,
    disableProvisioning: false,
    disableLeakedEniCleanup: false,
    now: w.clock.now,
    sleep: w.clock.sleep,
    random: seededRandom(2),
    ...o,
  });
  const run = <T>(p: Promise<T>) => w.clock.run(p);
  return {
    w,
    pm,
    net,
    broker,
    run,
    start: () => run(pm.start()),
    async cycles(n = 8) {
      for (let i = 0; i < n; i++) await run(pm.cycle());
    },
    enis: () => w.ec2.enisOf(w.instanceId),
    created: () => w.ec2.allEnis().filter((e) => e.description === `aws-K8S-${w.instanceId}`),
  };
}
