// The max-pods command as a user runs it, against the simulated EC2 over HTTP through the real
// SDK (sim-ec2 knows m5.xlarge but not m5.16xlarge; the command's built-in table knows both).
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { simWorld } from "./sim-world.ts";

const MAX_PODS = join(import.meta.dir, "..", "..", "services", "pool-manager", "max-pods.ts");
const w = await simWorld();
afterAll(() => w.stop());

async function maxPods(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([process.execPath, MAX_PODS, "--region", "us-west-2", "--endpoint", w.server.endpoint, ...argv], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", AWS_ACCESS_KEY_ID: "AKIDTEST", AWS_SECRET_ACCESS_KEY: "secret" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

test("prints the kubelet's --max-pods from EC2's DescribeInstanceTypes", async () => {
  expect(await maxPods("--instance-type", "m5.xlarge")).toEqual({ code: 0, out: "58\n", err: "" });
  expect(await maxPods("--instance-type", "m5.xlarge", "--prefix-delegation")).toEqual({ code: 0, out: "110\n", err: "" });
});

test("EC2 is asked first: a type it does not know is an error, though the built-in table holds it", async () => {
  const r = await maxPods("--instance-type", "m5.16xlarge");
  expect(r.code).toBe(1);
  expect(r.err).toContain("--instance-type: EC2 knows no instance type m5.16xlarge");
});

test("EC2 refusing the call: the built-in table, said on stderr", async () => {
  w.server.service.setFaults({ unauthorized: ["DescribeInstanceTypes"] });
  try {
    const r = await maxPods("--instance-type", "m5.16xlarge");
    expect({ code: r.code, out: r.out }).toEqual({ code: 0, out: "737\n" });
    expect(r.err).toContain("UnauthorizedOperation");
  } finally {
    w.server.service.setFaults({ unauthorized: [] });
  }
});

test("a bad command line: exit 2, the option named, the usage", async () => {
  const r = await maxPods("--instance-type", "m5.large", "--max-eni", "none");
  expect(r.code).toBe(2);
  expect(r.err).toStartWith('max-pods: --max-eni: "none" is not a whole number ≥ 1\nusage: max-pods');
});
