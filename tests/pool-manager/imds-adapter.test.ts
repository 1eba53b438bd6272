// The IMDS adapter (@aws-sdk/ec2-metadata-service, IMDSv2) against the simulated IMDS.
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { serveImds } from "../../deploy/local/sim-imds/serve.ts";
import { twoEniView } from "../../deploy/local/sim-imds/test-fixtures.ts";
import { SdkImds, ImdsError } from "../../services/pool-manager/src/adapters/imds.ts";

const served = serveImds({ hostname: "127.0.0.1", port: 0, instanceId: twoEniView.instanceId, view: () => twoEniView });
afterAll(() => served.stop());

test("instance facts and every interface, absent leaves as empty lists", async () => {
  const imds = new SdkImds({ endpoint: served.url, timeoutMs: 2000, retries: 0 });
  expect(await imds.instanceId()).toBe(twoEniView.instanceId);
  expect(await imds.instanceType()).toBe("m5.large");
  expect(await imds.primaryMac()).toBe("02:00:00:00:00:01");
  const ifs = (await imds.interfaces()).sort((a, b) => a.deviceNumber - b.deviceNumber);
  expect(ifs.map((i) => i.interfaceId)).toEqual(["eni-1", "eni-2"]);
  expect(ifs[0]).toMatchObject({ localIpv4s: ["10.0.1.10", "10.0.1.11", "10.0.1.12"], ipv4Prefixes: [], subnetCidr: "10.0.1.0/24" });
  expect(ifs[1]).toMatchObject({ ipv4Prefixes: ["10.0.2.32/28"], vpcCidrs: ["10.0.0.0/16", "100.64.0.0/16"], securityGroupIds: ["sg-1", "sg-2"] });
});

test("network-card: absent is card 0, shown is read, anything else is an error naming the leaf", async () => {
  const view = (card: number | undefined) => ({ ...twoEniView, interfaces: twoEniView.interfaces.map((i) => (i.deviceNumber === 1 ? { ...i, networkCard: card } : i)) });
  let shown: ReturnType<typeof view> = view(1);
  const s = serveImds({ hostname: "127.0.0.1", port: 0, instanceId: twoEniView.instanceId, view: () => shown });
  try {
    const imds = new SdkImds({ endpoint: s.url, timeoutMs: 2000, retries: 0 });
    const cards = async () => (await imds.interfaces()).sort((a, b) => a.deviceNumber - b.deviceNumber).map((i) => i.networkCard);
    expect(await cards()).toEqual([0, 1]);
    shown = view(undefined);
    expect(await cards()).toEqual([0, 0]);
    shown = view(Number.NaN);
    const err = await imds.interfaces().catch((e) => e);
    expect(err).toBeInstanceOf(ImdsError);
    expect(String(err.message)).toContain("02:00:00:00:00:02/network-card");
  } finally {
    s.stop();
  }
});

/** A hand-written IMDS: `tokens` decides the token route's answer, `valid` which token GETs accept. */
function fakeImds(o: { tokenStatus?: number; valid?: () => string | undefined; slowMs?: number; status?: number }) {
  let issued = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname.replace(/^\/+/, "/");
      if (o.slowMs) await Bun.sleep(o.slowMs);
      if (req.method === "PUT" && path === "/latest/api/token") {
        if (o.tokenStatus) return new Response("no", { status: o.tokenStatus });
        return new Response(`tok-${++issued}`);
      }
      const want = o.valid?.();
      if (want !== undefined && req.headers.get("x-aws-ec2-metadata-token") !== want) return new Response("", { status: 401 });
      if (o.status) return new Response("broken", { status: o.status });
      if (path === "/latest/meta-data/instance-id") return new Response("i-0123\n");
      return new Response("", { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

test("IMDSv1 when the token route is not there (404/405), as the SDK does", async () => {
  const f = fakeImds({ tokenStatus: 405 });
  try {
    expect(await new SdkImds({ endpoint: f.url, retries: 0 }).instanceId()).toBe("i-0123");
  } finally {
    f.stop();
  }
});

test("a token IMDS no longer accepts (401) is fetched again and the read succeeds", async () => {
  let valid = "tok-1";
  const f = fakeImds({ valid: () => valid });
  try {
    const imds = new SdkImds({ endpoint: f.url, retries: 1 });
    expect(await imds.instanceId()).toBe("i-0123");
    valid = "tok-2"; // IMDS forgot tok-1 (e.g. restarted)
    expect(await imds.instanceId()).toBe("i-0123");
  } finally {
    f.stop();
  }
});

test("errors name IMDS, the path and the status; a timeout says so; a missing leaf is an error only when required", async () => {
  const broken = fakeImds({ status: 500 });
  const slow = fakeImds({ slowMs: 400 });
  try {
    const e500 = await new SdkImds({ endpoint: broken.url, retries: 0 }).instanceId().catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(ImdsError);
    expect((e500 as ImdsError).status).toBe(500);
    expect((e500 as Error).message).toContain("IMDS GET /latest/meta-data/instance-id: HTTP 500");
    const eSlow = await new SdkImds({ endpoint: slow.url, retries: 0, timeoutMs: 100 }).instanceId().catch((e: unknown) => e);
    expect((eSlow as Error).message).toContain("no answer within 100 ms");
    const e404 = await new SdkImds({ endpoint: slow.url, retries: 3 }).primaryMac().catch((e: unknown) => e);
    expect((e404 as ImdsError).status).toBe(404); // not retried: answered at once
  } finally {
    broken.stop();
    slow.stop();
  }
});

test("reads do not leave connections open (the SDK's MetadataService alone leaks two per read)", async () => {
  const port = served.port.toString(16).toUpperCase().padStart(4, "0");
  const established = () =>
    readFileSync("/proc/net/tcp", "utf8")
      .split("\n")
      .filter((l) => l.includes(`:${port} `) && l.split(/\s+/)[4] === "01").length;
  const before = established();
  const imds = new SdkImds({ endpoint: served.url });
  for (let i = 0; i < 10; i++) await imds.interfaces();
  await Bun.sleep(200);
  // At most the token's connection (both ends), never one per read (about 300 reads here).
  expect(established() - before).toBeLessThanOrEqual(2);
});
