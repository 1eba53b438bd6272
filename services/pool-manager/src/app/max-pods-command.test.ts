// The max-pods command against the fake EC2 (which knows t3.medium, m5.large, m5.xlarge), and
// offline against the built-in table.
import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../test-support/fake-clock.ts";
import { FakeEc2 } from "../../test-support/fake-ec2/fake-ec2.ts";
import { parseMaxPodsArgs, runMaxPods, type MaxPodsArgs } from "./max-pods-command.ts";

function args(argv: string[]): MaxPodsArgs {
  const a = parseMaxPodsArgs(argv);
  if ("error" in a) throw new Error(a.error);
  return a;
}

describe("from EC2's DescribeInstanceTypes", () => {
  test("the type's limits through upstream's formula", async () => {
    const ec2 = new FakeEc2(new FakeClock());
    expect(await runMaxPods(args(["--instance-type", "m5.xlarge"]), () => ec2)).toEqual({ exitCode: 0, stdout: "58\n", stderr: "" });
    expect((await runMaxPods(args(["--instance-type", "m5.large", "--custom-networking"]), () => ec2)).stdout).toBe("20\n");
    expect((await runMaxPods(args(["--instance-type", "m5.large", "--prefix-delegation"]), () => ec2)).stdout).toBe("110\n");
    expect((await runMaxPods(args(["--instance-type", "m5.xlarge", "--max-eni", "2"]), () => ec2)).stdout).toBe("30\n");
    expect(ec2.calls.DescribeInstanceTypes).toMatchObject({ ok: 4 });
  });

  test("a type EC2 does not know is an error naming the field, even one the built-in table holds", async () => {
    const ec2 = new FakeEc2(new FakeClock());
    const out = await runMaxPods(args(["--instance-type", "c5.9xlarge"]), () => ec2);
    expect(out).toMatchObject({ exitCode: 1, stdout: "" });
    expect(out.stderr).toContain("--instance-type: EC2 knows no instance type c5.9xlarge");
  });

  test("EC2 unreachable or refusing: the built-in table, and stderr says so", async () => {
    const ec2 = new FakeEc2(new FakeClock());
    ec2.faults.unauthorized("DescribeInstanceTypes");
    const out = await runMaxPods(args(["--instance-type", "c5.9xlarge"]), () => ec2);
    expect(out.stdout).toBe("234\n");
    expect(out.stderr).toContain("UnauthorizedOperation");
    expect(out.stderr).toContain("limits from the built-in table");
    const none = await runMaxPods(args(["--instance-type", "x2idn.metal"]), () => ec2);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain("x2idn.metal is not in the built-in table (EC2 could not be asked)");
  });
});

describe("offline", () => {
  test("the built-in table only; EC2 is not asked", async () => {
    let asked = false;
    const ec2 = () => {
      asked = true;
      return new FakeEc2(new FakeClock());
    };
    expect(await runMaxPods(args(["--instance-type", "m5.16xlarge", "--offline"]), ec2)).toEqual({ exitCode: 0, stdout: "737\n", stderr: "" });
    expect((await runMaxPods(args(["--instance-type", "m5.24xlarge", "--offline", "--prefix-delegation"]), ec2)).stdout).toBe("250\n");
    expect(asked).toBe(false);
  });
});

test("bad command lines are refused naming the option", () => {
  const rows: Array<[string[], string]> = [
    [[], "--instance-type: required"],
    [["--instance-type", "m5"], "--instance-type: \"m5\" is not an instance type name"],
    [["--instance-type", "../etc.passwd"], "--instance-type:"],
    [["--instance-type", "m5.large", "--max-eni", "0"], "--max-eni:"],
    [["--instance-type", "m5.large", "--max-eni", "2.5"], "--max-eni:"],
    [["--instance-type", "m5.large", "--region", "moon"], "--region:"],
    [["--instance-type", "m5.large", "--endpoint", "file:///x"], "--endpoint:"],
    [["--instance-type", "m5.large", "--offline", "--region", "us-west-2"], "--offline:"],
    [["--instance-type", "m5.large", "--bogus"], "bogus"],
  ];
  for (const [argv, want] of rows) {
    const r = parseMaxPodsArgs(argv);
    expect({ argv, error: "error" in r ? r.error : "accepted" }).toEqual({ argv, error: expect.stringContaining(want) });
  }
  expect(parseMaxPodsArgs(["--instance-type", "u-6tb1.metal", "--region", "us-gov-west-1", "--endpoint", "http://127.0.0.1:9/"])).toMatchObject({ instanceType: "u-6tb1.metal", region: "us-gov-west-1" });
});
