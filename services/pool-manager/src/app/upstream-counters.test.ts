// Upstream's counters and histograms that count failures and start-ups, moved by the events
// upstream counts: against the fake EC2 on a fake clock, with the pool-manager's real metric
// registrations. Assumptions: m5.large (3 ENIs × 10 IPv4, trunking), one /24 subnet, faults
// injected per EC2 action.
import { afterEach, expect, test } from "bun:test";
import { Registry } from "../../../../shared/metrics/index.ts";
import { UPSTREAM_DEFAULTS } from "../core/settings.ts";
import { fakeWorld, manager, type Harness } from "../../test-support/harness.ts";
import { poolMetrics } from "./metrics.ts";
import type { KubePort } from "./service-ports.ts";

let h: Harness | undefined;
afterEach(() => {
  h?.pm.stop();
  h = undefined;
});

/** The value of one series (labels matched exactly on the given keys), 0 when absent. */
async function valueOf(r: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = await r.getSingleMetric(name)!.get();
  const hit = m.values.find((v) => Object.entries(labels).every(([k, x]) => String((v.labels as Record<string, unknown>)[k]) === x) && (!("metricName" in v) || v.metricName === undefined || v.metricName === `${name}_count`));
  return hit?.value ?? 0;
}

test("an ENI whose attach failed and whose delete failed: awscni_aws_utils_error_count{fn=AllocENIDeleteErr}, and the ENI is queued for deletion", async () => {
  const registry = new Registry();
  const metrics = poolMetrics(registry);
  const w = fakeWorld();
  h = manager(w, { ...UPSTREAM_DEFAULTS, warmEniTarget: 2 }, {}, { metrics });
  await h.start();
  w.ec2.faults.fail("AttachNetworkInterface", "InternalError").fail("DeleteNetworkInterface", "InternalError");
  await h.cycles(1);
  expect(h.pm.model.pendingDeletes.size).toBeGreaterThan(0);
  expect(await valueOf(registry, "awscni_aws_utils_error_count", { fn: "AllocENIDeleteErr" })).toBe(h.pm.model.pendingDeletes.size);
  expect(await valueOf(registry, "awscni_aws_utils_error_count", { fn: "FreeENIDeleteErr" })).toBe(0);
});

test("the Node unreadable at start-up and the CNINode refused: awscni_pod_eni_error_count{fn=nodeInit|tryEnableSecurityGroupsForPods}", async () => {
  const registry = new Registry();
  const metrics = poolMetrics(registry);
  const refused = () => Promise.reject(new Error("403 Forbidden"));
  const kube: KubePort = { myEniConfig: async () => ({ missing: "n/a" }), pendingPods: async () => 0, nodeUnschedulable: async () => false, nodeMaxPods: refused, ensureSecurityGroupsForPods: refused };
  h = manager(fakeWorld(), { ...UPSTREAM_DEFAULTS, podEni: true }, {}, { kube, metrics });
  await h.start();
  expect(await valueOf(registry, "awscni_pod_eni_error_count", { fn: "nodeInit" })).toBe(1);
  expect(await valueOf(registry, "awscni_pod_eni_error_count", { fn: "tryEnableSecurityGroupsForPods" })).toBe(1);
  await h.cycles(1);
  // A cycle's failed node read is not start-up's; the CNINode is tried (and refused) again.
  expect(await valueOf(registry, "awscni_pod_eni_error_count", { fn: "nodeInit" })).toBe(1);
});

test("a failed start-up attempt, then a good one: node initialisation and start-up observed once each per outcome", async () => {
  const registry = new Registry();
  const metrics = poolMetrics(registry);
  const w = fakeWorld();
  h = manager(w, UPSTREAM_DEFAULTS, { startupBackoff: { firstMs: 10, maxMs: 10 } }, { metrics });
  w.ec2.faults.fail("DescribeInstanceTypes", "InternalError", { times: 6 }); // the guard tries each call 6 times: one attempt fails
  await h.run(h.pm.startWithRetry());
  expect(h.pm.model.ready).toBe(true);
  expect(await valueOf(registry, "awscni_ipamd_node_initialization_duration_seconds", { success: "false" })).toBe(1);
  expect(await valueOf(registry, "awscni_ipamd_node_initialization_duration_seconds", { success: "true" })).toBe(1);
  expect(await valueOf(registry, "awscni_ipamd_startup_duration_seconds", { success: "false", with_api_server: "false", failure_reason: "node_initialization" })).toBe(1);
  expect(await valueOf(registry, "awscni_ipamd_startup_duration_seconds", { success: "true", with_api_server: "false", failure_reason: "" })).toBe(1);
});
