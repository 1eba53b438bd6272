// The service in-process (app.request) with the in-memory engine: what the engine holds after each call.
import { describe, expect, test } from "bun:test";
import type { EnforcingMode, PolicyEndpoint } from "../../../../shared/contracts/policy.ts";
import { MemoryEngine } from "../../test-support/memory-engine.ts";
import { MemoryPodBook } from "../adapters/pod-book.ts";
import { createPolicyAgentService } from "./app.ts";
import type { AssignedPod } from "./agent.ts";

const quiet = { info() {}, warn() {}, error() {} };
const NODE = "10.0.0.10";

function service(o: { mode?: EnforcingMode; enabled?: boolean; book?: MemoryPodBook; engine?: MemoryEngine; assignments?: () => Promise<AssignedPod[] | undefined>; nodeKnown?: boolean; awaitFirstList?: boolean } = {}) {
  const engine = o.engine ?? new MemoryEngine();
  const book = o.book ?? new MemoryPodBook();
  const s = createPolicyAgentService({ engine, book, mode: o.mode ?? "standard", enabled: o.enabled ?? true, vethPrefix: "eni", log: quiet, ...(o.assignments ? { assignments: o.assignments } : {}), ...(o.awaitFirstList ? { awaitFirstList: true } : {}) });
  if (o.nodeKnown !== false) s.agent.setNodeIps([NODE]);
  const post = (path: string, body: unknown) => s.frame.app.request(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  const get = (path: string) => s.frame.app.request(path);
  return { ...s, engine, book, post, get };
}

const web = { podNamespace: "app", podName: "web-1", hostVeth: "eni1111", addresses: ["10.0.1.5"] };
const db = { podNamespace: "app", podName: "db-0", hostVeth: "eni2222", addresses: ["10.0.1.6"] };

function enforce(p: typeof web, mode: EnforcingMode = "standard") {
  return { ...p, mode };
}

function pe(name: string, selects: Array<typeof web>, spec: Partial<PolicyEndpoint["spec"]>): PolicyEndpoint {
  return {
    metadata: { name, namespace: "app" },
    spec: {
      policyRef: { name, namespace: "app" },
      podSelectorEndpoints: selects.map((p) => ({ name: p.podName, namespace: p.podNamespace, podIP: p.addresses[0]!, hostIP: NODE })),
      ...spec,
    },
  };
}

async function programmedOf(engine: MemoryEngine, veth: string) {
  return (await engine.programmed()).find((p) => p.hostVeth === veth);
}

describe("enforce (after ADD) and delete (after DEL)", () => {
  test("standard: a new pod no policy selects is programmed open both ways before the answer", async () => {
    const s = service();
    const res = await s.post("/v1/pods/enforce", enforce(web));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, state: { ingress: "open", egress: "open" } });
    expect(await programmedOf(s.engine, "eni1111")).toMatchObject({ name: "web-1", addresses: ["10.0.1.5"], ingress: { kind: "open" }, egress: { kind: "open" } });
  });

  test("strict: denied both ways until a policy selects it; then the uncovered direction opens (#319)", async () => {
    const s = service({ mode: "strict" });
    expect(await (await s.post("/v1/pods/enforce", enforce(web, "strict"))).json()).toEqual({ success: true, state: { ingress: "deny", egress: "deny" } });
    expect((await programmedOf(s.engine, "eni1111"))?.ingress).toEqual({ kind: "deny" });
    s.agent.putEndpoint(pe("allow-dns", [web], { podIsolation: ["Egress"], egress: [{ cidr: "10.100.0.10", ports: [{ protocol: "UDP", port: 53 }] }] }));
    await s.agent.requestApply();
    const p = await programmedOf(s.engine, "eni1111");
    expect(p?.egress).toEqual({ kind: "rules", rules: [{ cidr: "10.100.0.10/32", except: [], ports: [{ protocol: "UDP", port: 53 }] }] });
    expect(p?.ingress).toEqual({ kind: "open" });
  });

  test("policies already known for the pod are programmed before the ADD answers", async () => {
    const s = service();
    s.agent.putEndpoint(pe("db-in", [db], { podIsolation: ["Ingress"], ingress: [{ cidr: "10.0.1.5", ports: [{ port: 5432 }] }] }));
    expect(await (await s.post("/v1/pods/enforce", enforce(db))).json()).toEqual({ success: true, state: { ingress: "rules", egress: "open" } });
    expect((await programmedOf(s.engine, "eni2222"))?.ingress.kind).toBe("rules");
  });

  test("delete removes the pod's rules and forgets it (also across a restart)", async () => {
    const s = service();
    await s.post("/v1/pods/enforce", enforce(web));
    await s.post("/v1/pods/enforce", enforce(db));
    expect(await (await s.post("/v1/pods/delete", { podNamespace: "app", podName: "web-1" })).json()).toEqual({ success: true });
    expect((await s.engine.programmed()).map((p) => p.hostVeth)).toEqual(["eni2222"]);
    expect(s.book.saved.map((p) => p.name)).toEqual(["db-0"]);
    // Deleting what is not known succeeds (a retried DEL).
    expect(await (await s.post("/v1/pods/delete", { podNamespace: "app", podName: "web-1" })).json()).toEqual({ success: true });
  });

  test("a new pod that reuses an address the agent still knew (its DEL was missed) does not inherit the old pod's rules", async () => {
    const s = service();
    s.agent.putEndpoint(pe("web-in", [web], { podIsolation: ["Ingress"] }));
    await s.post("/v1/pods/enforce", enforce(web));
    expect((await programmedOf(s.engine, "eni1111"))?.ingress).toEqual({ kind: "deny" });
    await s.post("/v1/pods/enforce", enforce({ podNamespace: "app", podName: "other", hostVeth: "eni9999", addresses: ["10.0.1.5"] }));
    const all = await s.engine.programmed();
    expect(all.map((p) => [p.hostVeth, p.ingress.kind])).toEqual([["eni9999", "open"]]);
  });

  test("bad input: 400 naming the field, nothing recorded or programmed", async () => {
    const s = service();
    const res = await s.post("/v1/pods/enforce", { ...enforce(web), hostVeth: "bad/veth" });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain("hostVeth");
    const res2 = await s.post("/v1/pods/enforce", { ...enforce(web), mode: "enforcing" });
    expect(res2.status).toBe(400);
    expect(JSON.stringify(await res2.json())).toContain("mode");
    expect(s.agent.pods.size).toBe(0);
    expect(s.book.saved).toEqual([]);
    expect(s.engine.applies).toBe(1); // only the one setNodeIps asked for
  });

  test("an engine failure answers success=false (addr-broker decides by mode)", async () => {
    const s = service();
    await s.agent.requestApply();
    s.engine.failNext();
    expect(await (await s.post("/v1/pods/enforce", enforce(web))).json()).toEqual({ success: false });
    expect(((await (await s.get("/healthz")).json()) as { ok: boolean }).ok).toBe(false);
    // The next change programs it.
    expect(await (await s.post("/v1/pods/enforce", enforce(web))).json()).toEqual({ success: true, state: { ingress: "open", egress: "open" } });
  });

  test("--enable-network-policy=false: answers success, programs nothing", async () => {
    const s = service({ enabled: false, mode: "strict" });
    expect(await (await s.post("/v1/pods/enforce", enforce(web, "strict"))).json()).toEqual({ success: true });
    expect(await s.engine.programmed()).toEqual([]);
  });
});

describe("restart and reconcile", () => {
  test("after a restart the recorded pods are programmed again without any ADD", async () => {
    const book = new MemoryPodBook();
    const first = service({ mode: "strict", book });
    await first.post("/v1/pods/enforce", enforce(web, "strict"));
    const engine = new MemoryEngine(); // a fresh kernel view: what the new process programs
    const second = service({ mode: "strict", book, engine });
    await second.agent.reconcile();
    expect(await programmedOf(engine, "eni1111")).toMatchObject({ name: "web-1", ingress: { kind: "deny" }, egress: { kind: "deny" } });
  });

  test("restarted with a watch: until its first list, known pods keep the kernel's rules, a new pod gets the mode's default", async () => {
    for (const mode of ["standard", "strict"] as const) {
      const book = new MemoryPodBook();
      const engine = new MemoryEngine(); // the kernel: it outlives the process
      const first = service({ mode, book, engine });
      await first.post("/v1/pods/enforce", enforce(web, mode));
      await first.post("/v1/pods/enforce", enforce(db, mode));
      first.agent.replaceEndpoints([pe("db-in", [db], { podIsolation: ["Ingress"], ingress: [{ cidr: "10.0.1.5", ports: [{ port: 5432 }] }] }), pe("web-open", [web], {})]);
      await first.agent.requestApply();
      const before = await engine.programmed();
      expect(before.find((p) => p.name === "db-0")?.ingress.kind).toBe("rules");

      const second = service({ mode, book, engine, awaitFirstList: true });
      await second.agent.reconcile(); // what main.ts runs once the node's addresses are known
      expect({ mode, pods: await engine.programmed() }).toEqual({ mode, pods: before });
      const other = { podNamespace: "app", podName: "new-0", hostVeth: "eni3333", addresses: ["10.0.1.7"] };
      expect(await (await second.post("/v1/pods/enforce", enforce(other, mode))).json()).toEqual({ success: true, state: mode === "strict" ? { ingress: "deny", egress: "deny" } : { ingress: "open", egress: "open" } });
      expect({ mode, db: (await programmedOf(engine, "eni2222"))?.ingress.kind }).toEqual({ mode, db: "rules" });
      expect(((await (await second.get("/debug")).json()) as { policyEndpointsListed: boolean }).policyEndpointsListed).toBe(false);
      // the first list: the resolved state replaces what was kept (db's policy is gone now)
      second.agent.replaceEndpoints([pe("web-open", [web], {})]);
      await second.agent.requestApply();
      expect({ mode, db: (await programmedOf(engine, "eni2222"))?.ingress.kind }).toEqual({ mode, db: mode === "strict" ? "deny" : "open" });
    }
  });

  test("a hand edit is repaired by the next reconcile", async () => {
    const s = service({ mode: "strict" });
    await s.post("/v1/pods/enforce", enforce(web, "strict"));
    s.engine.handEdit("eni1111", { ingress: { kind: "open" } });
    await s.agent.reconcile();
    expect((await programmedOf(s.engine, "eni1111"))?.ingress).toEqual({ kind: "deny" });
  });

  test("reconcile forgets pods addr-broker no longer has and learns those it does not know", async () => {
    const assigned: AssignedPod[] = [{ podNamespace: "app", podName: "db-0", containerId: "c2", ifName: "eth0", address: "10.0.1.6" }];
    const s = service({ assignments: async () => assigned });
    await s.post("/v1/pods/enforce", enforce(web));
    await s.agent.reconcile();
    const pods = await s.engine.programmed();
    expect(pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(["app/db-0"]);
    expect(pods[0]!.hostVeth).toMatch(/^eni[0-9a-f]{11}$/);
    expect(s.agent.lastReconcile).toMatchObject({ pruned: ["app/web-1"], learned: ["app/db-0"] });
  });

  test("addr-broker unreachable: reconcile keeps the recorded pods", async () => {
    const s = service({
      assignments: async () => {
        throw new Error("cannot reach addr-broker.sock");
      },
    });
    await s.post("/v1/pods/enforce", enforce(web));
    await s.agent.reconcile();
    expect((await s.engine.programmed()).map((p) => p.name)).toEqual(["web-1"]);
    expect(s.agent.lastReconcile?.error).toContain("addr-broker");
  });
});

describe("frame routes", () => {
  test("/healthz is 503 until the node's addresses are known", async () => {
    const s = service({ nodeKnown: false });
    expect((await s.get("/healthz")).status).toBe(503);
    s.agent.setNodeIps([NODE]);
    expect((await s.get("/healthz")).status).toBe(200);
  });

  test("/metrics carries upstream agent's names; /debug the state summary", async () => {
    const s = service();
    await s.post("/v1/pods/enforce", enforce(web));
    await s.post("/v1/pods/delete", { podNamespace: "app", podName: "web-1" });
    const text = await (await s.get("/metrics")).text();
    expect(text).toMatch(/awsnodeagent_policy_setup_latency_ms_count\{name="web-1",namespace="app"\} 1/);
    expect(text).toMatch(/awsnodeagent_policy_teardown_latency_ms_count\{name="web-1",namespace="app"\} 1/);
    // as upstream's SummaryVec without objectives: _sum and _count only
    expect(text).toMatch(/awsnodeagent_policy_setup_latency_ms_sum\{name="web-1",namespace="app"\} \d/);
    expect(text).not.toContain("awsnodeagent_policy_setup_latency_ms{");
    expect(text).toContain("awsnodeagent_policy_programming_latency_seconds_bucket");
    const d = (await (await s.get("/debug")).json()) as { service: string; mode: string; nodeIps: string[] };
    expect(d).toMatchObject({ service: "policy-agent", mode: "standard", nodeIps: [NODE] });
  });

  test("the trigger-time annotation feeds the programming latency", async () => {
    const s = service();
    const p = pe("x", [web], { podIsolation: ["Ingress"] });
    p.metadata.annotations = { "networking.k8s.aws/last-change-trigger-time": new Date(Date.now() - 2000).toISOString() };
    s.agent.putEndpoint(p);
    await s.agent.requestApply();
    const text = await (await s.get("/metrics")).text();
    expect(text).toMatch(/awsnodeagent_policy_programming_latency_seconds_bucket\{le="1"\} 0/);
    expect(text).toMatch(/awsnodeagent_policy_programming_latency_seconds_bucket\{le="2.5"\} 1/);
  });
});

describe("/debug/why", () => {
  async function setup() {
    const s = service({ mode: "strict" });
    await s.post("/v1/pods/enforce", enforce(web, "strict"));
    await s.post("/v1/pods/enforce", enforce(db, "strict"));
    s.agent.putEndpoint(pe("web-out", [web], { podIsolation: ["Egress"], egress: [{ cidr: "10.0.0.0/16", except: ["10.0.9.0/24"], ports: [{ port: 5432 }] }] }));
    s.agent.putEndpoint(pe("db-in", [db], { podIsolation: ["Ingress"], ingress: [{ cidr: "10.0.1.5", ports: [{ port: 5432 }] }] }));
    await s.agent.requestApply();
    return s;
  }

  test("allowed: names the selecting policies and the allowing rule of each end, and what is programmed", async () => {
    const s = await setup();
    const res = await s.get("/debug/why?from=app/web-1&to=app/db-0&port=5432&protocol=TCP");
    const w = (await res.json()) as any;
    expect(w.allowed).toBe(true);
    expect(w.from.selectedBy).toEqual([{ endpoint: "app/web-out", policy: "app/web-out" }]);
    expect(w.from.verdict).toMatchObject({ allowed: true, ruleIndex: 0 });
    expect(w.to.selectedBy).toEqual([{ endpoint: "app/db-in", policy: "app/db-in" }]);
    expect(w.to.verdict.allowed).toBe(true);
    expect(w.to.programmed).toEqual(w.to.desired);
    expect(w.programmedMatchesDesired).toBe(true);
  });

  test("denied: which end denies, and a hand edit shows as programmed ≠ desired", async () => {
    const s = await setup();
    s.engine.handEdit("eni2222", { ingress: { kind: "open" } });
    const w = (await (await s.get("/debug/why?from=app/web-1&to=app/db-0&port=80")).json()) as any;
    expect(w.allowed).toBe(false);
    expect(w.from.verdict.allowed).toBe(false);
    expect(w.to.verdict.allowed).toBe(false);
    expect(w.programmedMatchesDesired).toBe(false);
  });

  test("to an address: excepted range denied by web's egress; node address always allowed", async () => {
    const s = await setup();
    const ex = (await (await s.get("/debug/why?from=app/web-1&to=10.0.9.4&port=5432")).json()) as any;
    expect(ex.from.verdict.allowed).toBe(false);
    expect(ex.to.local).toBe(false);
    const node = (await (await s.get(`/debug/why?from=app/web-1&to=${NODE}&port=10250`)).json()) as any;
    expect(node.from.verdict).toEqual({ allowed: true, reason: "node address" });
  });

  test("bad query: 400 naming the field", async () => {
    const s = await setup();
    for (const [q, field] of [
      ["from=web-1&to=app/db-0", "from"],
      ["from=app/web-1", "to"],
      ["from=app/web-1&to=app/db-0&port=70000", "port"],
      ["from=app/web-1&to=app/db-0&protocol=GRE", "protocol"],
    ] as const) {
      const res = await s.get(`/debug/why?${q}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error.field).toBe(field);
    }
  });
});
