import { describe, expect, test } from "bun:test";
import type { Pod } from "./pod-types.ts";
import { computePodStatus, containerState, type ContainerRun, type ContainerView, type PodView } from "./pod-status.ts";

const T0 = Date.parse("2026-12-01T10:00:00Z");
const run = (id: string, startSec: number, exit?: { code: number; atSec: number }): ContainerRun =>
  exit ? { id, running: false, startedAtMs: T0 + startSec * 1000, finishedAtMs: T0 + exit.atSec * 1000, exitCode: exit.code } : { id, running: true, startedAtMs: T0 + startSec * 1000 };
const view = (name: string, v: Partial<ContainerView> = {}): ContainerView => ({ name, image: "busybox", imageID: "rootfs:///r", restartCount: 0, ready: false, started: false, ...v });
const podWith = (restartPolicy: "Always" | "OnFailure" | "Never" = "Always", status?: Pod["status"]): Pod => ({ metadata: { name: "p", namespace: "default", uid: "u" }, spec: { restartPolicy, containers: [] }, ...(status ? { status } : {}) });
const pv = (app: ContainerView[], init: ContainerView[] = [], extra: Partial<PodView> = {}): PodView => ({ init, app, hostIP: "10.0.0.4", podIP: "10.0.0.9", startTimeMs: T0, ...extra });
const phaseOf = (p: PodView, policy: "Always" | "OnFailure" | "Never" = "Always") => computePodStatus(podWith(policy), p, T0 + 60_000).phase;

describe("phase", () => {
  test.each([
    ["nothing started yet", pv([view("a")]), "Always", "Pending"],
    ["init container running", pv([view("a", { waiting: { reason: "PodInitializing" } })], [view("i", { current: run("i1", 0) })]), "Always", "Pending"],
    ["init failed, Never", pv([view("a")], [view("i", { current: run("i1", 0, { code: 1, atSec: 1 }) })]), "Never", "Failed"],
    ["init failed, Always (retried)", pv([view("a")], [view("i", { current: run("i1", 0, { code: 1, atSec: 1 }) })]), "Always", "Pending"],
    ["all running", pv([view("a", { current: run("a1", 1) }), view("b", { current: run("b1", 1) })]), "Always", "Running"],
    ["one running, one not yet", pv([view("a", { current: run("a1", 1) }), view("b")]), "Always", "Pending"],
    ["crash-looping under Always", pv([view("a", { current: run("a1", 1, { code: 2, atSec: 2 }), waiting: { reason: "CrashLoopBackOff" }, restartCount: 3 })]), "Always", "Running"],
    ["exited 0, Never", pv([view("a", { current: run("a1", 1, { code: 0, atSec: 2 }) })]), "Never", "Succeeded"],
    ["exited 1, Never", pv([view("a", { current: run("a1", 1, { code: 1, atSec: 2 }) })]), "Never", "Failed"],
    ["exited 0, OnFailure", pv([view("a", { current: run("a1", 1, { code: 0, atSec: 2 }) })]), "OnFailure", "Succeeded"],
    ["exited 1, OnFailure (restarting)", pv([view("a", { current: run("a1", 1, { code: 1, atSec: 2 }) })]), "OnFailure", "Running"],
    ["one done, one running, Never", pv([view("a", { current: run("a1", 1, { code: 0, atSec: 2 }) }), view("b", { current: run("b1", 1) })]), "Never", "Running"],
  ] as const)("%s → %s", (_, p, policy, phase) => {
    expect(phaseOf(p as PodView, policy)).toBe(phase);
  });
});

describe("container state", () => {
  test("crash-looping: waiting CrashLoopBackOff, lastState the run that exited", () => {
    const s = containerState(view("a", { current: run("a2", 5, { code: 137, atSec: 9 }), previous: run("a1", 1, { code: 1, atSec: 2 }), waiting: { reason: "CrashLoopBackOff", message: "back-off 10s" } }));
    expect(s).toEqual({
      state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 10s" } },
      lastState: { terminated: { exitCode: 137, reason: "Error", startedAt: "2026-12-01T10:00:05Z", finishedAt: "2026-12-01T10:00:09Z", containerID: "podman://a2" } },
    });
  });
  test("restarted and running: lastState is the previous run", () => {
    const s = containerState(view("a", { current: run("a2", 5), previous: run("a1", 1, { code: 0, atSec: 2 }), restartCount: 1 }));
    expect(s.state).toEqual({ running: { startedAt: "2026-12-01T10:00:05Z" } });
    expect(s.lastState.terminated?.reason).toBe("Completed");
  });
  test("never started: waiting ContainerCreating, no lastState", () => {
    expect(containerState(view("a"))).toEqual({ state: { waiting: { reason: "ContainerCreating" } }, lastState: {} });
  });
});

describe("conditions and addresses", () => {
  const ready = pv([view("a", { current: run("a1", 1), ready: true, started: true })]);
  test("a ready pod: every condition True, IPs and start time set", () => {
    const s = computePodStatus(podWith(), ready, T0 + 60_000);
    expect(s.conditions?.map((c) => [c.type, c.status])).toEqual([["Initialized", "True"], ["Ready", "True"], ["ContainersReady", "True"], ["PodScheduled", "True"]]);
    expect(s).toMatchObject({ phase: "Running", hostIP: "10.0.0.4", hostIPs: [{ ip: "10.0.0.4" }], podIP: "10.0.0.9", podIPs: [{ ip: "10.0.0.9" }], startTime: "2026-12-01T10:00:00Z" });
    expect(s.containerStatuses?.[0]).toMatchObject({ name: "a", ready: true, started: true, restartCount: 0, containerID: "podman://a1" });
  });

  test("not ready and not initialized: False with the reasons and names kubectl describe shows", () => {
    const s = computePodStatus(podWith(), pv([view("a", { current: run("a1", 1) }), view("b")], [view("init-1", { current: run("i", 0) })]), T0);
    const c = Object.fromEntries((s.conditions ?? []).map((x) => [x.type, x]));
    expect(c.Initialized).toMatchObject({ status: "False", reason: "ContainersNotInitialized", message: "containers with incomplete status: [init-1]" });
    expect(c.Ready).toMatchObject({ status: "False", reason: "ContainersNotReady", message: "containers with unready status: [a b]" });
    expect(s.initContainerStatuses?.[0]?.state.running).toBeDefined();
  });

  test("a condition keeps its transition time while its status holds, and gets a new one when it flips", () => {
    const first = computePodStatus(podWith(), ready, T0 + 10_000);
    const later = computePodStatus(podWith("Always", first), ready, T0 + 50_000);
    expect(later).toEqual(first);
    const unready = pv([view("a", { current: run("a1", 1), ready: false, started: true })]);
    const flipped = computePodStatus(podWith("Always", first), unready, T0 + 70_000);
    const readyCond = flipped.conditions?.find((c) => c.type === "Ready");
    expect(readyCond?.lastTransitionTime).toBe("2026-12-01T10:01:10Z");
    expect(flipped.conditions?.find((c) => c.type === "Initialized")?.lastTransitionTime).toBe("2026-12-01T10:00:10Z");
  });

  test("a finished pod is not Ready (PodCompleted); without a sandbox there is no podIP yet", () => {
    const done = computePodStatus(podWith("Never"), pv([view("a", { current: run("a1", 1, { code: 0, atSec: 3 }) })], [], { podIP: undefined }), T0);
    expect(done.phase).toBe("Succeeded");
    expect(done.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "False", reason: "PodCompleted" });
    expect(done.podIP).toBeUndefined();
  });
});
