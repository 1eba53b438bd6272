// A deleted pod's per-pod series leave /metrics once retained long enough; a pod added again under the same name keeps them.
import { describe, expect, test } from "bun:test";
import { Registry } from "../../../../shared/metrics/index.ts";
import { MemoryEngine } from "../../test-support/memory-engine.ts";
import { MemoryPodBook } from "../adapters/pod-book.ts";
import { PolicyAgent } from "./agent.ts";
import { createAgentMetrics } from "./metrics.ts";

const MIN = 60_000;

function rig() {
  const clock = { now: 0 };
  const registry = new Registry();
  let agent: PolicyAgent | undefined;
  const metrics = createAgentMetrics(registry, () => ({ pods: agent?.pods.size ?? 0, endpoints: 0 }), 10 * MIN);
  agent = new PolicyAgent({ engine: new MemoryEngine(), book: new MemoryPodBook(), mode: "standard", enabled: true, vethPrefix: "eni", log: { info() {}, warn() {}, error() {} }, metrics, now: () => clock.now });
  agent.setNodeIps(["10.0.0.10"]);
  const series = async (name: string) => (await registry.metrics()).split("\n").filter((l) => l.includes(`name="${name}"`)).length;
  const add = (name: string, i: number) => agent!.enforcePod({ podNamespace: "app", podName: name, hostVeth: `eni${1000 + i}`, addresses: [`10.0.1.${i}`] });
  const del = (name: string) => agent!.deletePod({ podNamespace: "app", podName: name });
  return { clock, agent, metrics, series, add, del };
}

describe("per-pod series of deleted pods", () => {
  test("kept for the retention after the DEL (the teardown is scraped), then removed", async () => {
    const r = rig();
    await r.add("web-1", 1);
    await r.add("web-2", 2);
    expect(await r.series("web-1")).toBe(2); // setup _sum and _count
    await r.del("web-1");
    expect(await r.series("web-1")).toBe(4); // and teardown's
    r.clock.now = 9 * MIN;
    await r.agent.reconcile();
    expect(await r.series("web-1")).toBe(4);
    r.clock.now = 10 * MIN;
    await r.agent.reconcile();
    expect(await r.series("web-1")).toBe(0);
    expect(await r.series("web-2")).toBe(2); // a live pod's stay
    expect(r.metrics.podSeries.size).toBe(0);
  });

  test("a pod added again under the same name within the retention keeps its series", async () => {
    const r = rig();
    await r.add("db-0", 1);
    await r.del("db-0");
    r.clock.now = 5 * MIN;
    await r.add("db-0", 3); // a StatefulSet's pod, back with a new address
    r.clock.now = 30 * MIN;
    await r.agent.reconcile();
    expect(await r.series("db-0")).toBe(4);
  });

  test("a later DEL of another pod also removes what is due; the order is by deletion time", async () => {
    const r = rig();
    for (const [i, n] of ["a", "b", "c"].entries()) await r.add(n, i + 1);
    await r.del("a");
    r.clock.now = 2 * MIN;
    await r.del("b");
    r.clock.now = 11 * MIN;
    await r.del("c"); // a is due, b is not
    expect([await r.series("a"), await r.series("b"), await r.series("c")]).toEqual([0, 4, 4]);
  });
});
