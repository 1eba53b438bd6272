// Endpoint changes applied once they settle (AgentDeps.endpointSettleMs): a burst is one apply, a steady stream still
// reaches the kernel within the maximum, and a pod's call neither waits nor leaves an apply behind.
import { describe, expect, test } from "bun:test";
import type { PolicyEndpoint } from "../../../../shared/contracts/policy.ts";
import { MemoryEngine } from "../../test-support/memory-engine.ts";
import { MemoryPodBook } from "../adapters/pod-book.ts";
import { PolicyAgent } from "./agent.ts";

const NODE = "10.0.0.10";
const web = { namespace: "app", name: "web-1", hostVeth: "eni1111", addresses: ["10.0.1.5"] };

function agent(settleMs: number, maxMs: number) {
  const engine = new MemoryEngine();
  const a = new PolicyAgent({ engine, book: new MemoryPodBook(), mode: "standard", enabled: true, vethPrefix: "eni", log: { info() {}, warn() {}, error() {} }, endpointSettleMs: settleMs, endpointSettleMaxMs: maxMs });
  a.setNodeIps([NODE]);
  return { a, engine };
}

/** Policy k admits 10.200.<k>.7 on TCP 8080 to web. */
const allow = (k: number): PolicyEndpoint => ({
  metadata: { name: `allow-${k}`, namespace: "app" },
  spec: {
    policyRef: { name: `allow-${k}`, namespace: "app" },
    podIsolation: ["Ingress"],
    podSelectorEndpoints: [{ name: web.name, namespace: web.namespace, podIP: web.addresses[0]!, hostIP: NODE }],
    ingress: [{ cidr: `10.200.${k}.7`, ports: [{ protocol: "TCP", port: 8080 }] }],
  },
});

async function allowedPeers(engine: MemoryEngine): Promise<string[]> {
  const p = (await engine.programmed()).find((x) => x.hostVeth === web.hostVeth);
  return p?.ingress.kind === "rules" ? p.ingress.rules.map((r) => r.cidr).sort() : [];
}

async function until(ok: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await ok())) {
    if (performance.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(5);
  }
}

describe("endpoint changes settle before their apply", () => {
  test("a burst of changes is programmed by one apply, once it settled", async () => {
    const { a, engine } = agent(40, 1000);
    await a.enforcePod({ podNamespace: web.namespace, podName: web.name, hostVeth: web.hostVeth, addresses: web.addresses });
    const before = engine.applies;
    for (let k = 0; k < 5; k++) a.putEndpoint(allow(k));
    expect(await allowedPeers(engine)).toEqual([]); // not yet: the burst is still settling
    await until(async () => (await allowedPeers(engine)).length === 5);
    expect(await allowedPeers(engine)).toEqual([0, 1, 2, 3, 4].map((k) => `10.200.${k}.7/32`));
    expect(engine.applies).toBe(before + 1);
  });

  test("a stream that never pauses is still programmed within the maximum", async () => {
    const { a, engine } = agent(50, 150);
    await a.enforcePod({ podNamespace: web.namespace, podName: web.name, hostVeth: web.hostVeth, addresses: web.addresses });
    let streaming = true;
    let firstSeenWhileStreaming = false;
    const stream = (async () => {
      for (let k = 0; k < 25; k++) {
        a.putEndpoint(allow(k));
        await Bun.sleep(20); // never 50 ms apart: without a maximum nothing would apply until the stream ends
        if ((await allowedPeers(engine)).includes("10.200.0.7/32")) firstSeenWhileStreaming = true;
      }
      streaming = false;
    })();
    await stream;
    expect(streaming).toBe(false);
    expect(firstSeenWhileStreaming).toBe(true);
    await until(async () => (await allowedPeers(engine)).length === 25);
  });

  test("a pod's call does not wait for the settling, takes the changes so far, and leaves no apply behind", async () => {
    const { a, engine } = agent(2000, 4000);
    a.putEndpoint(allow(1)); // settling for 2 s
    const t0 = performance.now();
    const r = await a.enforcePod({ podNamespace: web.namespace, podName: web.name, hostVeth: web.hostVeth, addresses: web.addresses });
    expect(performance.now() - t0).toBeLessThan(1000); // did not wait out the 2 s
    expect(r).toEqual({ success: true, state: { ingress: "rules", egress: "open" } });
    expect(await allowedPeers(engine)).toEqual(["10.200.1.7/32"]);
    const applies = engine.applies;
    await Bun.sleep(2300); // past the settle time
    expect(engine.applies).toBe(applies);
  });
});
