/**
 * net-config's routes on the service frame: the contract handlers, metrics and /debug.
 * Wiring is synchronous netlink work, so requests never interleave inside the kernel.
 */
import { handle } from "../../../../shared/ipc/server.ts";
import { checkPod, reconcileNow, setupEni, setupHost, teardownEni, unwirePod, wirePod } from "../../../../shared/contracts/netconfig.ts";
import { checkEgress, unwireEgress, wireEgress } from "../../../../shared/contracts/egress.ts";
import { checkBranch, unwireBranch, wireBranch } from "../../../../shared/contracts/branch.ts";
import type { BranchService } from "./branch-service.ts";
import type { ServiceFrame } from "../../../../shared/service.ts";
import { Journal } from "../../../../shared/journal.ts";
import { operationMetrics } from "./metrics.ts";
import type { NetConfigSettings } from "../core/settings.ts";
import type { EgressService } from "./egress-service.ts";
import type { HostService } from "./host-service.ts";
import type { PodService } from "./pod-service.ts";
import type { Reconciler } from "./reconcile-service.ts";

export interface OperationRecord {
  at: string;
  op: string;
  subject: string;
  ms: number;
  result: "ok" | string;
}

export interface NetConfigParts {
  pods: PodService;
  /** egress-cni's pod interfaces. */
  egress?: EgressService;
  /** Branch-ENI pods (security groups for pods). */
  branch?: BranchService;
  host: HostService;
  reconciler: Reconciler;
  settings: NetConfigSettings;
  backend: string;
  nodeNetns: string;
}

export function mountNetConfig(frame: ServiceFrame, parts: NetConfigParts): { operations: Journal<OperationRecord>; debug: () => unknown } {
  const operations = new Journal<OperationRecord>(200);
  const { total: opsTotal, seconds } = operationMetrics(frame.registry);

  async function timed<T>(op: string, subject: string, fn: () => T | Promise<T>): Promise<T> {
    const t = performance.now();
    let result = "ok";
    try {
      return await fn();
    } catch (err) {
      result = (err as { code?: string }).code ?? "INTERNAL";
      throw err;
    } finally {
      const ms = performance.now() - t;
      opsTotal.inc({ op, result: result === "ok" ? "ok" : "error" });
      seconds.observe({ op }, ms / 1000);
      operations.add({ at: new Date().toISOString(), op, subject, ms: Math.round(ms * 1000) / 1000, result });
    }
  }

  handle(frame.app, wirePod, (b) => timed("wire", `${b.containerId}/${b.ifName} ${b.address}`, () => parts.pods.wire(b)));
  handle(frame.app, unwirePod, (b) => timed("unwire", `${b.containerId}/${b.ifName} ${b.address}`, () => parts.pods.unwire(b)));
  handle(frame.app, checkPod, (b) => timed("check", `${b.containerId}/${b.ifName} ${b.address}`, () => parts.pods.check(b)));
  handle(frame.app, setupEni, (b) => timed("setupEni", b.eniId, async () => ({ ifName: (await parts.host.setupEni(b)).ifName, ok: true as const })));
  handle(frame.app, teardownEni, (b) => timed("teardownEni", b.eniId, async () => (await parts.host.teardownEni(b), { ok: true as const })));
  handle(frame.app, setupHost, (b) => timed("setupHost", b.primaryIp, async () => (await parts.host.setupHost(b), { ok: true as const })));
  const egress = parts.egress;
  if (egress) {
    handle(frame.app, wireEgress, (b) => timed("egressWire", `${b.containerId} ${b.address}`, () => egress.wire(b)));
    handle(frame.app, unwireEgress, (b) => timed("egressUnwire", `${b.containerId} ${b.address}`, () => egress.unwire(b)));
    handle(frame.app, checkEgress, (b) => timed("egressCheck", `${b.containerId} ${b.address}`, () => egress.check(b)));
  }
  const branch = parts.branch;
  if (branch) {
    handle(frame.app, wireBranch, (b) => timed("branchWire", `${b.containerId}/${b.ifName} ${b.address} vlan ${b.vlanId}`, () => branch.wire(b)));
    handle(frame.app, unwireBranch, (b) => timed("branchUnwire", `${b.containerId}/${b.ifName} ${b.address} vlan ${b.vlanId}`, () => branch.unwire(b)));
    handle(frame.app, checkBranch, (b) => timed("branchCheck", `${b.containerId}/${b.ifName} ${b.address} vlan ${b.vlanId}`, () => branch.check(b)));
  }
  handle(frame.app, reconcileNow, () => timed("reconcile", "node", () => parts.reconciler.run()));

  const debug = () => ({
    nodeNetns: parts.nodeNetns,
    iptablesBackend: parts.backend,
    settings: parts.settings,
    lastHostSetup: parts.host.lastHost ?? null,
    recentOperations: operations.list(),
    reconcileRounds: parts.reconciler.recentRounds(),
    recentRepairs: parts.reconciler.recentRepairs(),
  });
  return { operations, debug };
}
