/** One CNI invocation in, one outcome (exit code, stdout, stderr) out. */
import type { CniOutcome } from "../../../../shared/contracts/cni.ts";
import { isMiss, pickAddress, type MissKind } from "../core/assign.ts";
import { CniCode, CniError, errorBody } from "../core/cni-error.ts";
import { parseCniRequest, versionForErrors, type CniRequest } from "../core/cni-request.ts";
import { prevResultProblems } from "../core/cni-result.ts";
import { SUPPORTED_VERSIONS } from "../core/cni-version.ts";
import { findAllocation } from "../core/state.ts";
import { addPod, adoptReservation, checkpointError, peerError, wiringFor, type PodDeps } from "./pod-add.ts";
import { delPod, gcPods } from "./pod-release.ts";
import { forgetDeletedPod } from "./pod-policy.ts";
import { checkCardInterfaces } from "./pod-cards.ts";
import type { Trace } from "./cni-timings.ts";
import { runEgressCommand } from "./egress-cni.ts";
import { checkBranchPod, delBranchPod, gcBranchPods } from "./branch-pods.ts";
import { EGRESS_PLUGIN_TYPE } from "../../../../shared/egress.ts";

type CheckRequest = Extract<CniRequest, { command: "CHECK" }> & { callerPid?: number | undefined };

async function checkPod(d: PodDeps, req: CheckRequest): Promise<void> {
  const k = { networkName: req.conf.name, containerId: req.containerId, ifName: req.ifName };
  let a = findAllocation(d.broker.state, k);
  if (!a) {
    const adopted = await d.broker.serial(() => findAllocation(d.broker.state, k) ?? adoptReservation(d.broker, k, req));
    if (adopted && "durable" in adopted) {
      await adopted.durable.catch((err) => {
        throw checkpointError(d.broker, err);
      });
      a = adopted.alloc;
    } else a = adopted;
  }
  if (!a) throw new CniError(CniCode.UNKNOWN_CONTAINER, `CNI_CONTAINERID: ${req.containerId} has no address on network ${req.conf.name} for ${req.ifName}`);
  const problems: string[] = [];
  if (a.netns && a.netns !== req.netns) problems.push(`the address was assigned for netns ${a.netns}, not ${req.netns}`);
  if (req.conf.prevResult !== undefined) problems.push(...prevResultProblems(req.conf.prevResult, { address: a.address, ifName: req.ifName, netns: req.netns }));
  let net;
  const wiring = wiringFor(d.broker, a, req.netns, req.callerPid);
  if (req.conf.plugin.mtu !== undefined) wiring.mtu = req.conf.plugin.mtu;
  try {
    net = await d.netConfig.check(wiring);
  } catch (err) {
    throw peerError("check the pod", d.broker.settings.netConfigSocket, err);
  }
  problems.push(...net.problems);
  // A multi-homed pod: every interface on the other network cards too.
  problems.push(...(await checkCardInterfaces(d, k, wiring, req.conf.prevResult)));
  if (problems.length > 0) throw new CniError(CniCode.CHECK_FAILED, `CHECK failed for ${req.containerId}/${req.ifName}: ${problems.join("; ")}`);
}

/**
 * Misses that make the plugin unavailable for STATUS: nothing to hand out from at all. A
 * pool that is full or cooling is a moment, not an outage: pool-manager is growing it, and
 * ADD waits for it.
 */
const UNAVAILABLE: ReadonlySet<MissKind> = new Set<MissKind>(["no-capacity", "not-ready", "empty"]);

/** STATUS: 0 when an ADD can be served; 50 while there is no capacity or the pool has no address at all. */
function status(d: PodDeps): void {
  const b = d.broker;
  const pick = pickAddress(b.state, b.capacity, b.now(), b.settings.cooldownSeconds);
  if (isMiss(pick) && UNAVAILABLE.has(pick.kind)) throw new CniError(CniCode.NOT_AVAILABLE, `not ready to serve ADD: ${pick.message}`);
}

function success(stdout = ""): CniOutcome {
  return { exitCode: 0, stdout, stderr: "" };
}

/** What the calling shim saw from the runtime's side: its pid, and whether CNI_NETNS exists there. */
export interface CallerView {
  pid?: number | undefined;
  netnsExists?: boolean | undefined;
  /** Marks the call's stages as it passes them (/debug/cni-timings). */
  trace?: Trace | undefined;
}

export async function runCniCommand(d: PodDeps, env: Record<string, string>, stdin: string, caller: CallerView = {}): Promise<CniOutcome> {
  const started = performance.now();
  let command = env.CNI_COMMAND ?? "unknown";
  let outcome = "ok";
  try {
    const req = { ...parseCniRequest(env, stdin), callerPid: caller.pid, netnsSeenByCaller: caller.netnsExists, trace: caller.trace };
    command = req.command;
    // The shim installed as egress-cni: its own plugin, its own bookkeeping (app/egress-cni.ts).
    if (req.command !== "VERSION" && req.conf.type === EGRESS_PLUGIN_TYPE) {
      if (!d.egress) throw new CniError(CniCode.INVALID_NETWORK_CONFIG, `type: ${EGRESS_PLUGIN_TYPE} is not served by this addr-broker`);
      return await runEgressCommand(d.egress, req);
    }
    switch (req.command) {
      case "VERSION":
        return success(JSON.stringify({ cniVersion: req.cniVersion, supportedVersions: SUPPORTED_VERSIONS }));
      case "ADD":
        return success(JSON.stringify(await addPod(d, req)));
      case "DEL":
        if (d.branch && (await delBranchPod(d.branch, req))) {
          // A branch-ENI pod: the agent forgets it after the teardown (delPod tells it of ordinary pods).
          await forgetDeletedPod(d, { namespace: req.args.podNamespace, name: req.args.podName });
          return success();
        }
        await delPod(d, req);
        return success();
      case "CHECK":
        if (d.branch && (await checkBranchPod(d.branch, req))) return success();
        await checkPod(d, req);
        return success();
      case "STATUS":
        status(d);
        return success();
      case "GC": {
        const r = await gcPods(d, req);
        if (d.branch && req.validAttachments) r.errors.push(...(await gcBranchPods(d.branch, req.conf.name, req.validAttachments)));
        return { exitCode: 0, stdout: "", stderr: r.errors.length ? `GC: ${r.errors.length} leftover(s) could not be removed: ${r.errors.join("; ")}\n` : "" };
      }
    }
    throw new CniError(CniCode.INVALID_ENV, `CNI_COMMAND: ${command} is not handled`);
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(CniCode.INTERNAL, `internal error: ${err instanceof Error ? err.message : String(err)}`);
    if (!(err instanceof CniError)) d.broker.log.error({ err: String(err), stack: (err as Error)?.stack, command }, "CNI command failed unexpectedly");
    outcome = String(e.code);
    return { exitCode: 1, stdout: JSON.stringify(errorBody(versionForErrors(stdin), e)), stderr: "" };
  } finally {
    if (command !== "VERSION") d.metrics?.cniDuration.observe({ command, outcome }, (performance.now() - started) / 1000);
  }
}
