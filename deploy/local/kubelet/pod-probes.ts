// A running container's probes and what their results do: a startup probe holds the others
// back until it succeeds; a liveness (or startup) probe that fails kills the container, which
// is then restarted per the pod's restartPolicy; a readiness probe sets the container's
// `ready`. Every failed run is an Unhealthy event, as `kubectl describe pod` shows them.
import type { ContainerSlot } from "./container-slot.ts";
import type { NodeContext } from "./node-context.ts";
import type { Pod, Probe } from "./pod-types.ts";
import { ProbeLoop, type ProbeReport } from "./probe-loop.ts";
import { probeTiming, type ProbeKind } from "./probe-state.ts";

/** What the probes need of the pod worker. */
export interface ProbedPod {
  readonly pod: Pod;
  readonly context: NodeContext;
  readonly podIP: string | undefined;
  kick(): void;
}

const TITLE: Record<ProbeKind, string> = { liveness: "Liveness", readiness: "Readiness", startup: "Startup" };

function loop(w: ProbedPod, slot: ContainerSlot, kind: ProbeKind, probe: Probe): ProbeLoop {
  const ctx = w.context;
  const field = `${slot.field}.${kind}Probe`;
  const target = { podman: ctx.podman, net: ctx.net, containerName: slot.podmanName, container: slot.spec, ip: w.podIP ?? ctx.hostIP };
  return new ProbeLoop(kind, probe, probeTiming(probe, kind, field), target, field, (r) => onReport(w, slot, r));
}

/** Probe settings are checked before the container starts: a bad one is a config error. */
export function checkProbes(slot: ContainerSlot): void {
  const c = slot.spec;
  for (const [kind, probe] of [["liveness", c.livenessProbe], ["readiness", c.readinessProbe], ["startup", c.startupProbe]] as const) {
    if (probe) probeTiming(probe, kind, `${slot.field}.${kind}Probe`);
  }
}

function startMain(w: ProbedPod, slot: ContainerSlot, startedMs: number): void {
  const c = slot.spec;
  slot.started = true;
  slot.ready = c.readinessProbe === undefined;
  for (const [kind, probe] of [["liveness", c.livenessProbe], ["readiness", c.readinessProbe]] as const) {
    if (!probe) continue;
    const l = loop(w, slot, kind, probe);
    slot.probes.push(l);
    l.start(startedMs);
  }
}

/** Starts the probes of a container that just started (at startedMs). Init containers have none. */
export function attachProbes(w: ProbedPod, slot: ContainerSlot, startedMs: number): void {
  slot.stopProbes();
  if (slot.init) return;
  if (slot.spec.startupProbe) {
    slot.started = false;
    slot.ready = false;
    const l = loop(w, slot, "startup", slot.spec.startupProbe);
    slot.probes.push(l);
    l.start(startedMs);
  } else startMain(w, slot, startedMs);
}

function onReport(w: ProbedPod, slot: ContainerSlot, r: ProbeReport): void {
  const ctx = w.context;
  if (!slot.running || slot.killing) return;
  if (!r.outcome.ok) ctx.events.record(w.pod, "Warning", "Unhealthy", `${TITLE[r.kind]} probe failed: ${r.outcome.message}`, slot.ref);
  if (!r.changed) return;
  if (r.kind === "readiness") {
    slot.ready = r.result === true;
    w.kick();
  } else if (r.kind === "startup" && r.result === true) {
    slot.stopProbes();
    startMain(w, slot, Date.now());
    w.kick();
  } else if (r.result === false) void kill(w, slot, r.kind);
}

/** Kills a container whose liveness/startup probe failed; its death restarts it per restartPolicy. */
async function kill(w: ProbedPod, slot: ContainerSlot, kind: ProbeKind): Promise<void> {
  const ctx = w.context;
  const id = slot.current?.id;
  if (!id) return;
  slot.killing = true;
  slot.ready = false;
  slot.stopProbes();
  ctx.events.record(w.pod, "Normal", "Killing", `Container ${slot.name} failed ${kind} probe, will be restarted`, slot.ref);
  const grace = w.pod.spec?.terminationGracePeriodSeconds ?? 30;
  try {
    await ctx.podman.stop(id, grace);
  } catch (err) {
    ctx.log.warn({ container: slot.podmanName, error: (err as Error).message }, "killing an unhealthy container failed");
  }
  slot.killing = false;
  ctx.relist();
}
