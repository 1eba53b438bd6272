/**
 * policy-agent: enforces network policies on this node (upstream's aws-eks-nodeagent). Runs
 * in the node's network namespace, serves <run dir>/policy-agent.sock (addr-broker's enforce
 * and delete calls, /healthz, /metrics, /debug, /debug/why), watches PolicyEndpoints
 * cluster-wide once it knows the node's addresses (from pool-manager's capacity), and
 * applies the resolved state through the engine at start, on every change, and every
 * reconcile interval (repairing hand edits). Arguments: upstream's flags (src/core/flags.ts).
 */
import { join } from "node:path";
import { bootstrap } from "../../shared/bootstrap.ts";
import { flushLogger } from "../../shared/log.ts";
import { runFrame } from "../../shared/service.ts";
import { UnixClient } from "../../shared/ipc/client.ts";
import { listAssignments } from "../../shared/contracts/assignments.ts";
import { getCapacity } from "../../shared/contracts/capacity.ts";
import { kubeRestFrom } from "../../shared/kube-rest.ts";
import { FlagError, parseAgentFlags } from "./src/core/flags.ts";
import { FilePodBook } from "./src/adapters/pod-book.ts";
import { PolicyEndpointWatch } from "./src/adapters/pe-watch.ts";
import { createPolicyAgentService } from "./src/app/app.ts";
import { createNodeEngine, disabledEngine } from "./src/app/node-engine.ts";
import { assignedPods } from "./src/app/assigned-pods.ts";

const { config, log, socketGid } = bootstrap("policy-agent");
let flags;
try {
  flags = parseAgentFlags(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof FlagError)) throw err;
  process.stderr.write(`invalid arguments: ${err.message}\n`);
  process.exit(2);
}
for (const f of flags.ignored) log.info(f, "upstream flag accepted and ignored");

let engine = disabledEngine;
if (flags.enableNetworkPolicy) {
  try {
    engine = await createNodeEngine(log, config.networkPolicy.enforcingMode, config.network.vethPrefix);
  } catch (err) {
    log.error({ err: (err as Error).message }, "no policy engine: exiting");
    flushLogger(log);
    process.exit(1);
  }
}

const broker = new UnixClient(config.sockets.addrBroker, { timeoutMs: 5000 });
const pool = new UnixClient(config.sockets.poolManager, { timeoutMs: 5000 });
const kube = flags.enableNetworkPolicy ? kubeRestFrom(config.kubernetes) : undefined;
let watch: PolicyEndpointWatch | undefined;

const service = createPolicyAgentService(
  {
    engine,
    book: new FilePodBook(join(config.runDir, "policy-agent-pods.json")),
    mode: config.networkPolicy.enforcingMode,
    enabled: flags.enableNetworkPolicy,
    vethPrefix: config.network.vethPrefix,
    log,
    // A restarted agent keeps the kernel's rules for its pods until the watch has listed PolicyEndpoints.
    awaitFirstList: kube !== undefined,
    // A burst of watch events is stored before its apply starts (agent.ts, applySoon): with 200 policies the agent held
    // 14.1-17.6 MiB against 15.9-20.1 applying at once; a PolicyEndpoint change waits 25 ms more (bench/README.md).
    endpointSettleMs: 25,
    endpointSettleMaxMs: 250,
    // Only a list addr-broker restored completely may forget pods.
    assignments: async () => {
      const a = await broker.call(listAssignments, {});
      return a.restored ? assignedPods(a) : undefined;
    },
  },
  () => ({ watch: watch ? { live: watch.live, lists: watch.lists, lastError: watch.lastError } : flags.enableNetworkPolicy ? "no Kubernetes API configured" : "disabled" }),
);
const { agent, frame } = service;

/** The node's addresses from pool-manager's capacity (IMDS local-ipv4 / ipv6): polled until known, then now and then. */
async function refreshNodeIps(): Promise<boolean> {
  try {
    const c = await pool.call(getCapacity, { since: -1, waitMs: 0 });
    const ips = [c.nodeIps?.ipv4, c.nodeIps?.ipv6].filter((x): x is string => !!x);
    if (ips.length > 0) agent.setNodeIps(ips);
    return ips.length > 0;
  } catch (err) {
    log.warn({ err: (err as Error).message }, "pool-manager not reachable for the node's addresses");
    return false;
  }
}

const timers: Array<ReturnType<typeof setInterval>> = [];
await runFrame(frame, {
  runDir: config.runDir,
  gid: socketGid,
  onStop: () => {
    for (const t of timers) clearInterval(t);
    watch?.stop();
    flushLogger(log);
  },
});
log.info({ socket: config.sockets.policyAgent, enabled: flags.enableNetworkPolicy, mode: config.networkPolicy.enforcingMode }, "policy-agent started");

async function reconcile(): Promise<void> {
  try {
    const r = await agent.reconcile();
    if (r.changedPods.length || r.removedPods.length) log.info(r, "reconcile changed the kernel's rules");
  } catch (err) {
    log.error({ err: (err as Error).message }, "reconcile failed");
  }
}

if (flags.enableNetworkPolicy) {
  // The kernel keeps the previous run's rules until the first apply, which waits for the node's
  // addresses (always allowed: kubelet probes); until the watch's first list it keeps each known
  // pod's rules as the kernel holds them (awaitFirstList), then programs the resolved state.
  while (!(await refreshNodeIps())) await Bun.sleep(2_000);
  void reconcile();
  timers.push(setInterval(() => void refreshNodeIps(), 60_000));
  if (kube) {
    watch = new PolicyEndpointWatch(kube, agent, log, { onEvent: (type) => service.metrics.watchEvents.inc({ type }) });
    watch.start();
  } else {
    log.error({}, "no Kubernetes API configured (KUBECONFIG or in-cluster): PolicyEndpoints are not watched");
  }
  const every = config.network.reconcileIntervalSeconds * 1000;
  if (every > 0) timers.push(setInterval(() => void reconcile(), every));
}
