/**
 * Test support: the simulated EC2 (deploy/local/sim-ec2) served in-process on 127.0.0.1
 * port 0, with a VPC, a subnet and one instance, and the real SDK adapter pointed at it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ec2Model, serveSimEc2, type FaultPatch, type SimEc2Server } from "../../../../deploy/local/sim-ec2/index.ts";
import { Ec2Guard, type GuardOptions } from "./ec2-guard.ts";
import { createEc2Client, SdkEc2 } from "./ec2.ts";

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
  const vpc = model.createVpc({ cidr: "10.0.0.0/16" });
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
