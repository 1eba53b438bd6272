// The simulated IMDS driven by the real MetadataService from @aws-sdk/ec2-metadata-service,
// over TCP on loopback, with a clock the test moves by hand.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { MetadataService } from "@aws-sdk/ec2-metadata-service";
import { createImdsApp, TOKEN_HEADER, TOKEN_TTL_HEADER } from "./app.ts";
import type { ImdsInstanceView } from "./app.ts";
import { serveImds } from "./serve.ts";
import type { ServedImds } from "./serve.ts";
import { twoEniView } from "./test-fixtures.ts";

let nowMs = 1_000_000;
const clock = () => nowMs;
const otherView: ImdsInstanceView = { ...twoEniView, instanceId: "i-other", localIpv4: "10.0.1.99" };
const views = new Map([
  [twoEniView.instanceId, twoEniView],
  [otherView.instanceId, otherView],
]);
const view = (id: string) => views.get(id);

let imds: ServedImds;
let imdsV2Only: ServedImds;
let other: ServedImds;

beforeAll(() => {
  imds = serveImds({ hostname: "127.0.0.1", port: 0, instanceId: twoEniView.instanceId, view, now: clock });
  imdsV2Only = serveImds({ hostname: "127.0.0.1", port: 0, instanceId: twoEniView.instanceId, view, now: clock, allowV1: false });
  other = serveImds({ hostname: "127.0.0.1", port: 0, instanceId: otherView.instanceId, view, now: clock });
});
afterAll(async () => {
  await Promise.all([imds.stop(), imdsV2Only.stop(), other.stop()]);
});
afterEach(() => {
  imds.faults.latencyMs = 0;
  imds.faults.error500 = false;
});

function client(endpoint: string, extra: Partial<ConstructorParameters<typeof MetadataService>[0]> = {}) {
  return new MetadataService({ endpoint, httpOptions: { timeout: 2000 }, retries: 0, backoff: 0, ...extra });
}

async function status(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return 200;
  } catch (error) {
    return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  }
}

describe("every path through MetadataService (IMDSv2, double leading slash)", () => {
  const mac0 = "02:00:00:00:00:01";
  const mac1 = "02:00:00:00:00:02";
  const expected: Record<string, string> = {
    "instance-id": "i-0123456789abcdef0",
    "instance-type": "m5.large",
    "local-ipv4": "10.0.1.10",
    mac: mac0,
    "placement/availability-zone": "us-west-2a",
    "placement/region": "us-west-2",
    "network/interfaces/macs/": `${mac0}/\n${mac1}/`,
    [`network/interfaces/macs/${mac0}/device-number`]: "0",
    [`network/interfaces/macs/${mac0}/interface-id`]: "eni-1",
    [`network/interfaces/macs/${mac0}/subnet-id`]: "subnet-a",
    [`network/interfaces/macs/${mac0}/vpc-id`]: "vpc-1",
    [`network/interfaces/macs/${mac0}/security-group-ids`]: "sg-1",
    [`network/interfaces/macs/${mac0}/local-ipv4s`]: "10.0.1.10\n10.0.1.11\n10.0.1.12",
    [`network/interfaces/macs/${mac0}/subnet-ipv4-cidr-block`]: "10.0.1.0/24",
    [`network/interfaces/macs/${mac0}/vpc-ipv4-cidr-blocks`]: "10.0.0.0/16",
    [`network/interfaces/macs/${mac1}/device-number`]: "1",
    [`network/interfaces/macs/${mac1}/network-card`]: "0",
    [`network/interfaces/macs/${mac1}/security-group-ids`]: "sg-1\nsg-2",
    [`network/interfaces/macs/${mac1}/local-ipv4s`]: "10.0.2.20\n10.0.2.21",
    [`network/interfaces/macs/${mac1}/ipv4-prefix`]: "10.0.2.32/28",
    [`network/interfaces/macs/${mac1}/vpc-ipv4-cidr-blocks`]: "10.0.0.0/16\n100.64.0.0/16",
    [`network/interfaces/macs/${mac1}/ipv6s`]: "2600:1f14::20",
    [`network/interfaces/macs/${mac1}/ipv6-prefix`]: "2600:1f14::1:0:0:0/80",
    [`network/interfaces/macs/${mac1}/subnet-ipv6-cidr-blocks`]: "2600:1f14::/64",
  };
  for (const [path, body] of Object.entries(expected)) {
    test(path, async () => {
      const answer = await client(imds.url).request(`/latest/meta-data/${path}`, {});
      expect(answer).toBe(body);
    });
  }

  test("the meta-data directory lists its children", async () => {
    const answer = await client(imds.url).request("/latest/meta-data/", {});
    expect(answer.split("\n")).toEqual(["instance-id", "instance-type", "local-ipv4", "mac", "network/", "placement/"]);
  });

  test("each listener answers for its own instance", async () => {
    expect(await client(other.url).request("/latest/meta-data/instance-id", {})).toBe("i-other");
    expect(await client(imds.url).request("/latest/meta-data/instance-id", {})).toBe(twoEniView.instanceId);
  });

  test("unknown paths and empty lists are 404", async () => {
    const service = client(imds.url);
    expect(await status(service.request("/latest/meta-data/no-such-path", {}))).toBe(404);
    expect(await status(service.request(`/latest/meta-data/network/interfaces/macs/${mac0}/ipv4-prefix`, {}))).toBe(404);
    expect(await status(service.request("/latest/user-data", {}))).toBe(404);
  });
});

describe("tokens", () => {
  test("a token expires after its TTL (by the injected clock)", async () => {
    const token = await client(imds.url, { tokenTtl: 60 }).fetchMetadataToken();
    const get = () => fetch(`${imds.url}/latest/meta-data/instance-id`, { headers: { [TOKEN_HEADER]: token } });
    expect((await get()).status).toBe(200);
    nowMs += 60_000;
    expect((await get()).status).toBe(401);
  });

  test("an unknown token and another instance's token are refused", async () => {
    const foreign = await client(other.url).fetchMetadataToken();
    for (const token of ["not-a-token", foreign]) {
      const answer = await fetch(`${imds.url}/latest/meta-data/instance-id`, { headers: { [TOKEN_HEADER]: token } });
      expect(answer.status).toBe(401);
    }
  });

  test("the TTL header must be 1..21600", async () => {
    for (const ttl of [undefined, "0", "21601", "abc", "-5"]) {
      const headers: Record<string, string> = ttl === undefined ? {} : { [TOKEN_TTL_HEADER]: ttl };
      const answer = await fetch(`${imds.url}/latest/api/token`, { method: "PUT", headers });
      expect(answer.status).toBe(400);
    }
    const ok = await fetch(`${imds.url}/latest/api/token`, { method: "PUT", headers: { [TOKEN_TTL_HEADER]: "21600" } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get(TOKEN_TTL_HEADER)).toBe("21600");
  });

  test("IMDSv1 (no token) is answered unless turned off", async () => {
    const v1 = client(imds.url, { disableFetchToken: true });
    expect(await v1.request("/latest/meta-data/local-ipv4", {})).toBe("10.0.1.10");
    const missing = await fetch(`${imdsV2Only.url}/latest/meta-data/local-ipv4`);
    expect(missing.status).toBe(401);
    // with a token the v2-only listener answers
    expect(await client(imdsV2Only.url, { ec2MetadataV1Disabled: true }).request("/latest/meta-data/local-ipv4", {})).toBe("10.0.1.10");
  });

  test("tokenTtlMax lowers the accepted TTL", async () => {
    const app = createImdsApp({ view, identify: () => twoEniView.instanceId, now: clock, tokenTtlMax: 300 });
    const put = (ttl: string) => app.request("/latest/api/token", { method: "PUT", headers: { [TOKEN_TTL_HEADER]: ttl } });
    expect((await put("301")).status).toBe(400);
    expect((await put("300")).status).toBe(200);
  });

  test("a token request carrying X-Forwarded-For is forbidden", async () => {
    const answer = await fetch(`${imds.url}/latest/api/token`, {
      method: "PUT",
      headers: { [TOKEN_TTL_HEADER]: "60", "x-forwarded-for": "10.0.0.1" },
    });
    expect(answer.status).toBe(403);
  });
});

describe("faults", () => {
  test("error mode answers 500 to the client, and recovers when turned off", async () => {
    imds.faults.error500 = true;
    // the token PUT fails with 500, the client falls back to IMDSv1, which fails with 500 too
    expect(await status(client(imds.url).request("/latest/meta-data/instance-id", {}))).toBe(500);
    await expect(client(imds.url, { ec2MetadataV1Disabled: true }).fetchMetadataToken()).rejects.toThrow(/500/);
    imds.faults.error500 = false;
    expect(await client(imds.url).request("/latest/meta-data/instance-id", {})).toBe(twoEniView.instanceId);
  });

  test("latency beyond the client's timeout makes the client give up", async () => {
    imds.faults.latencyMs = 400;
    const impatient = client(imds.url, { httpOptions: { timeout: 100 }, ec2MetadataV1Disabled: true });
    await expect(impatient.request("/latest/meta-data/instance-id", {})).rejects.toThrow();
    const patient = client(imds.url, { httpOptions: { timeout: 5000 } });
    expect(await patient.request("/latest/meta-data/instance-id", {})).toBe(twoEniView.instanceId);
  });
});

describe("view changes are visible on the next read", () => {
  test("a newly assigned address appears in local-ipv4s", async () => {
    let assigned = ["10.0.1.10"];
    const app = createImdsApp({
      view: () => ({ ...twoEniView, interfaces: [{ ...twoEniView.interfaces[1]!, localIpv4s: assigned }] }),
      identify: () => twoEniView.instanceId,
      now: clock,
    });
    const path = "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:01/local-ipv4s";
    expect(await (await app.request(path)).text()).toBe("10.0.1.10");
    assigned = ["10.0.1.10", "10.0.1.77"];
    expect(await (await app.request(path)).text()).toBe("10.0.1.10\n10.0.1.77");
  });

  test("an unknown caller gets 404", async () => {
    const app = createImdsApp({ view, identify: () => undefined, now: clock });
    expect((await app.request("/latest/meta-data/instance-id")).status).toBe(404);
  });
});

describe("instance profile credentials", () => {
  test("the SDK's instance-metadata credential provider gets the node role's credentials (IMDSv2)", async () => {
    const { instanceProfileCredentials } = await import("../node-identity.ts");
    const { fromInstanceMetadata } = await import("@smithy/credential-provider-imds");
    const withRole: ImdsInstanceView = { ...twoEniView, instanceProfile: instanceProfileCredentials(Date.now()) };
    const served = serveImds({ hostname: "127.0.0.1", port: 0, instanceId: withRole.instanceId, view: () => withRole, now: clock, allowV1: false });
    const previous = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = served.url;
    try {
      const creds = await fromInstanceMetadata({ timeout: 2000, maxRetries: 0 })();
      expect(creds.accessKeyId).toBe("ASIALOCALDEPLOYMENT0");
      expect(creds.sessionToken).toBe("local-deployment-session-token");
      // Six hours ahead, to the second (IMDS gives whole seconds).
      expect(Math.abs(creds.expiration!.getTime() - (Date.now() + 6 * 3_600_000))).toBeLessThan(5_000);
    } finally {
      if (previous === undefined) delete process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
      else process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = previous;
      await served.stop();
    }
  });

  test("an instance without a profile has no iam/ tree", async () => {
    expect(await status(client(imds.url).request("/latest/meta-data/iam/security-credentials/", {}))).toBe(404);
  });
});
