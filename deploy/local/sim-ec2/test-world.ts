/** A small world for tests: one VPC, one subnet per test need, a fake clock. */
import { Ec2Model, type ModelTiming } from "./state.ts";

export function testWorld(opts: { subnetCidr?: string; instanceType?: string; timing?: Partial<ModelTiming> } = {}) {
  const clock = { t: 1_700_000_000_000 };
  const model = new Ec2Model({ now: () => clock.t, timing: { attachDelayMs: 0, imdsDelayMs: 0, ...opts.timing } });
  const vpc = model.createVpc({ cidr: "10.0.0.0/16", ipv6Cidr: "2600:1f14:aaa:100::/56" });
  const subnet = model.createSubnet({ vpcId: vpc.id, az: "us-west-2a", cidr: opts.subnetCidr ?? "10.0.1.0/24", ipv6Cidr: "2600:1f14:aaa:100::/64" });
  const sg = model.defaultSecurityGroup(vpc.id)!;
  const instance = model.launchInstance({ instanceType: opts.instanceType ?? "m5.large", subnetId: subnet.id, securityGroupIds: [sg.id] });
  const advance = (ms: number) => {
    clock.t += ms;
    model.settle();
  };
  return { clock, model, vpc, subnet, sg, instance, advance };
}

/** Runs `fn` and returns the EC2 error code it threw (or "none"). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
    return "none";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}
