// The IMDS adapter through @aws-sdk/ec2-metadata-service against the simulated IMDS.
import { afterAll, expect, test } from "bun:test";
import { serveImds } from "../../../../deploy/local/sim-imds/serve.ts";
import { twoEniView } from "../../../../deploy/local/sim-imds/test-fixtures.ts";
import { SdkImds } from "./imds.ts";

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
