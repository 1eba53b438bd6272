/**
 * The policy agent's service: the frame (/livez, /healthz, /metrics, /debug), addr-broker's
 * routes (enforce after ADD, delete after DEL) and /debug/why. Built the same way by
 * main.ts and the tests; the engine is a dependency (nftables in main.ts, in memory in tests).
 */
import { createFrame, type ServiceFrame } from "../../../../shared/service.ts";
import { handle } from "../../../../shared/ipc/server.ts";
import { deletePod, enforcePod } from "../../../../shared/contracts/policy.ts";
import { PolicyAgent, type AgentDeps } from "./agent.ts";
import { createAgentMetrics, type AgentMetrics } from "./metrics.ts";
import { explainWhy, parseWhy, WhyError } from "./why.ts";

export interface PolicyAgentService {
  frame: ServiceFrame;
  agent: PolicyAgent;
  metrics: AgentMetrics;
}

export function createPolicyAgentService(deps: Omit<AgentDeps, "metrics">, extraDebug: () => object = () => ({})): PolicyAgentService {
  let agent: PolicyAgent | undefined;
  const frame = createFrame({
    name: "policy-agent",
    debug: () => ({ ...agent!.debug(), ...extraDebug() }),
    healthy: () => {
      if (!agent!.enabled) return { ok: true };
      if (agent!.nodeAddresses().length === 0) return { ok: false, reason: "the node's addresses are not known yet (pool-manager)" };
      if (agent!.lastApply?.error) return { ok: false, reason: `last apply failed: ${agent!.lastApply.error}` };
      return { ok: true };
    },
  });
  const metrics = createAgentMetrics(frame.registry, () => ({ pods: agent!.pods.size, endpoints: agent!.endpointList().length }));
  agent = new PolicyAgent({ ...deps, metrics });
  const a = agent;
  handle(frame.app, enforcePod, (req) => {
    if (req.mode !== a.mode) deps.log.warn({ pod: `${req.podNamespace}/${req.podName}`, requested: req.mode, agent: a.mode }, "addr-broker's mode differs from the agent's: the agent's applies");
    return a.enforcePod(req);
  });
  handle(frame.app, deletePod, (req) => a.deletePod(req));
  frame.app.get("/debug/why", async (c) => {
    try {
      return c.json(await explainWhy(a, deps.engine, parseWhy(c.req.query())));
    } catch (err) {
      if (err instanceof WhyError) return c.json({ error: { code: "INVALID_REQUEST", field: err.field, message: err.message } }, 400);
      throw err;
    }
  });
  return { frame, agent: a, metrics };
}
