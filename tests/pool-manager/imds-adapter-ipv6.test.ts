// The IMDS adapter's IPv6 reads (what IPv6 mode's host set-up needs) against the simulated IMDS
// of a dual-stack instance and of an IPv4-only one; a MAC that is not one never reaches a path.
import { afterAll, expect, test } from "bun:test";
import { serveImds } from "../../deploy/local/sim-imds/serve.ts";
import { twoEniView } from "../../deploy/local/sim-imds/test-fixtures.ts";
import { SdkImds } from "../../services/pool-manager/src/adapters/imds.ts";

const dualStack = { ...twoEniView, localIpv6: "2600:1f14::20" };
const v6 = serveImds({ hostname: "127.0.0.1", port: 0, instanceId: dualStack.instanceId, view: () => dualStack });
const v4 = serveImds({ hostname: "127.0.0.1", port: 0, instanceId: twoEniView.instanceId, view: () => twoEniView });
afterAll(async () => {
  await v6.stop();
  await v4.stop();
});

test("the primary IPv6 (meta-data/ipv6) and an interface's VPC IPv6 CIDRs", async () => {
  const imds = new SdkImds({ endpoint: v6.url, timeoutMs: 2000, retries: 0 });
  expect(await imds.localIpv6()).toBe("2600:1f14::20");
  expect(await imds.vpcIpv6Cidrs("02:00:00:00:00:02")).toEqual(["2600:1f14::/56"]);
});

test("an IPv4-only instance: no IPv6, no VPC IPv6 CIDRs (absent leaves, not errors)", async () => {
  const imds = new SdkImds({ endpoint: v4.url, timeoutMs: 2000, retries: 0 });
  expect(await imds.localIpv6()).toBeUndefined();
  expect(await imds.vpcIpv6Cidrs("02:00:00:00:00:01")).toEqual([]);
});

test("a MAC that is not one is refused naming the field", () => {
  const imds = new SdkImds({ endpoint: v4.url, timeoutMs: 2000, retries: 0 });
  expect(() => imds.vpcIpv6Cidrs("../../iam")).toThrow(/^mac: not a MAC address/);
});
