// HTTP_TIMEOUT and VPC_CNI_VERSION reach the EC2 client: a server on 127.0.0.1 that records
// each request's user agent and answers after a delay the test chooses.
import { afterEach, expect, test } from "bun:test";
import { DescribeInstanceTypesCommand } from "@aws-sdk/client-ec2";
import { createEc2Client } from "../../services/pool-manager/src/adapters/ec2.ts";

const ANSWER = `<?xml version="1.0" encoding="UTF-8"?><DescribeInstanceTypesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><instanceTypeSet/></DescribeInstanceTypesResponse>`;
let server: ReturnType<typeof Bun.serve> | undefined;
afterEach(() => {
  server?.stop(true);
  server = undefined;
});

function slowEc2(delayMs: number): { endpoint: string; agents: string[] } {
  const agents: string[] = [];
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      agents.push(req.headers.get("user-agent") ?? "");
      await Bun.sleep(delayMs);
      return new Response(ANSWER, { headers: { "content-type": "text/xml" } });
    },
  });
  return { endpoint: `http://127.0.0.1:${server.port}`, agents };
}

const send = (endpoint: string, o: { requestTimeoutMs?: number; userAgentVersion?: string }) =>
  createEc2Client({ region: "us-west-2", endpoint, credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" }, ...o }).send(new DescribeInstanceTypesCommand({}));

test("a request slower than the timeout fails; one within it is answered", async () => {
  const ec2 = slowEc2(400);
  const started = performance.now();
  const err = await send(ec2.endpoint, { requestTimeoutMs: 100 }).then(() => undefined, (e: Error) => e);
  expect(err?.name).toBe("TimeoutError");
  expect(performance.now() - started).toBeLessThan(390);
  const ok = await send(ec2.endpoint, { requestTimeoutMs: 2_000 });
  expect(ok.InstanceTypes ?? []).toEqual([]);
});

test("HTTP_TIMEOUT cancels the request: the server sees the connection aborted at the timeout, not after its answer", async () => {
  const aborted: number[] = [];
  const answered: number[] = [];
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const t0 = performance.now();
      req.signal.addEventListener("abort", () => aborted.push(performance.now() - t0));
      await Bun.sleep(1_500);
      if (!req.signal.aborted) answered.push(performance.now() - t0);
      return new Response(ANSWER, { headers: { "content-type": "text/xml" } });
    },
  });
  const err = await send(`http://127.0.0.1:${server.port}`, { requestTimeoutMs: 100 }).then(() => undefined, (e: Error) => e);
  expect(err?.name).toBe("TimeoutError");
  await Bun.sleep(1_700); // past the server's answer time
  expect(aborted).toHaveLength(1);
  expect(aborted[0]!).toBeLessThan(1_000);
  expect(answered).toEqual([]);
});

test("VPC_CNI_VERSION is in the user agent as amazon-vpc-cni-k8s/<version>; without it, no such entry", async () => {
  const ec2 = slowEc2(0);
  await send(ec2.endpoint, { userAgentVersion: "v1.23.1" });
  await send(ec2.endpoint, {});
  expect(ec2.agents).toHaveLength(2);
  expect(ec2.agents[0]).toContain("amazon-vpc-cni-k8s/v1.23.1");
  expect(ec2.agents[1]).not.toContain("amazon-vpc-cni-k8s");
});
