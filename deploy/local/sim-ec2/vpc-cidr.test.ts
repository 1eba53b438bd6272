import { expect, test } from "bun:test";
import { codeOf, testWorld } from "./test-world.ts";

test("a CIDR block associated later reaches IMDS after its delay; disassociated, it leaves", () => {
  const { model, vpc, instance } = testWorld({});
  const vpcCidrs = (at: number) => model.imdsView(instance.id, at)?.[0]?.vpcCidrs;
  const t = model.now();
  expect(vpcCidrs(t)).toEqual(["10.0.0.0/16"]);
  model.associateVpcCidr(vpc.id, "100.64.0.0/16");
  expect(model.state.vpcs[vpc.id]!.cidrs).toEqual(["10.0.0.0/16", "100.64.0.0/16"]);
  expect(vpcCidrs(t + 60_000)).toEqual(["10.0.0.0/16", "100.64.0.0/16"]);
  model.disassociateVpcCidr(vpc.id, "100.64.0.0/16");
  expect(vpcCidrs(t + 120_000)).toEqual(["10.0.0.0/16"]);
});

test("what EC2 refuses, with its codes; nothing changed", () => {
  const { model, vpc } = testWorld({});
  expect(codeOf(() => model.associateVpcCidr(vpc.id, "10.0.128.0/17"))).toBe("InvalidVpc.Range");
  expect(codeOf(() => model.associateVpcCidr(vpc.id, "100.64.0.0/8"))).toBe("InvalidParameterValue");
  expect(codeOf(() => model.associateVpcCidr("vpc-00000000", "100.64.0.0/16"))).toBe("InvalidVpcID.NotFound");
  expect(codeOf(() => model.disassociateVpcCidr(vpc.id, "10.0.0.0/16"))).toBe("OperationNotPermitted");
  expect(codeOf(() => model.disassociateVpcCidr(vpc.id, "172.16.0.0/16"))).toBe("InvalidVpcCidrBlockAssociationId.NotFound");
  model.associateVpcCidr(vpc.id, "100.64.0.0/16");
  model.createSubnet({ vpcId: vpc.id, az: "us-west-2a", cidr: "100.64.1.0/24", tags: {} });
  expect(codeOf(() => model.disassociateVpcCidr(vpc.id, "100.64.0.0/16"))).toBe("OperationNotPermitted");
  expect(model.state.vpcs[vpc.id]!.cidrs).toEqual(["10.0.0.0/16", "100.64.0.0/16"]);
});
