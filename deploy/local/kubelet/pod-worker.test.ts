// The pod worker against fakes that keep state: a runtime whose containers run until the test
// makes them exit, sandboxes that can be made to fail, an API that keeps the last status.
// What is checked is that state — which containers run, what status the API holds — not
// which calls were made.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { CniError } from "../cni-runtime.ts";
import { Backoff } from "./backoff.ts";
import { Limiter } from "./limiter.ts";
import { containerName } from "./names.ts";
import type { NodeContext } from "./node-context.ts";
import type { Pod, PodStatus } from "./pod-types.ts";
import { PodWorker } from "./pod-worker.ts";
import type { Sandbox } from "./sandbox.ts";

interface FakeContainer {
  id: string;
  name: string;
  running: boolean;
}

class Fakes {
  readonly dir = mkdtempSync(join(tmpdir(), "kubelet-worker-"));
  readonly containers = new Map<string, FakeContainer>();
  readonly sandboxes = new Set<string>();
  readonly events: string[] = [];
  status: PodStatus | undefined;
  deletedByKubelet = false;
  addFailures = 0;
  private seq = 0;
  private rv = 100;
  worker!: PodWorker;

  readonly ctx: NodeContext = {
    prefix: "vtest",
    nodeIndex: 0,
    nodeName: "ip-10-0-0-4.us-west-2.compute.internal",
    nodeNetns: "vtest-n0",
    hostIP: "10.0.0.4",
    paths: { root: join(this.dir, "node"), cniConfDir: "/x", cniBinDir: "/x", runDir: "/x", logDir: "/x" },
    api: {
      configMaps: async () => new Map(),
      patchPodStatus: async (pod, status) => {
        this.status = structuredClone(status) as PodStatus;
        return { ...pod, metadata: { ...pod.metadata, resourceVersion: String(++this.rv) }, status: this.status };
      },
      deletePodNow: async () => {
        this.deletedByKubelet = true;
      },
    },
    events: { record: (_pod, _type, reason, message) => void this.events.push(`${reason}: ${message}`) },
    podman: {
      runDetached: async (argv) => {
        const name = argv[argv.indexOf("--name") + 1] ?? "";
        if ([...this.containers.values()].some((c) => c.name === name)) throw new Error(`name ${name} already in use`);
        const c = { id: `c${++this.seq}`, name, running: true };
        this.containers.set(c.id, c);
        return c.id;
      },
      remove: async (nameOrId) => {
        for (const [id, c] of this.containers) if (id === nameOrId || c.name === nameOrId) this.containers.delete(id);
      },
      stop: async (id) => this.exit(id, 137),
      exec: async () => ({ exitCode: 0, stdout: "", stderr: "", timedOut: false }),
    },
    sandboxes: {
      create: async (pod) => {
        if (this.addFailures > 0) {
          this.addFailures--;
          throw new CniError("aws-cni", 11, "no free address yet");
        }
        this.sandboxes.add(pod.metadata.uid ?? "");
        return { id: "s1", pod: { uid: "", name: "", namespace: "" }, netns: "vtest-pod-1", netnsPath: "/run/netns/vtest-pod-1", conflist: { cniVersion: "1.0.0", name: "aws-cni", plugins: [] }, podIP: "10.0.0.50" } satisfies Sandbox;
      },
      destroy: async (pod) => void this.sandboxes.delete(pod.metadata.uid ?? ""),
    },
    net: { ask: async () => ({ ok: true, message: "" }) },
    images: { resolve: async () => ({ root: { kind: "rootfs", path: "/rootfs" }, imageID: "rootfs:///rootfs", local: false }) },
    restarts: new Backoff(200, 1000),
    setupRetry: new Backoff(100, 1000),
    starts: new Limiter(3),
    log: pino({ level: "silent" }),
    containerName: (_uid, _ns, pod, container) => containerName("vtest", 0, pod, container),
    stopping: () => "no",
    relist: () => {},
  };

  /** The named container (of the pod) exits with `code`, as podman's died event says. */
  exit(idOrName: string, code: number): void {
    const c = [...this.containers.values()].find((x) => x.id === idOrName || x.name === `vtest-0-p-${idOrName}`);
    if (!c?.running) throw new Error(`no running container ${idOrName}`);
    c.running = false;
    this.worker.containerDied(c.id, code, Date.now());
  }

  running(): string[] {
    return [...this.containers.values()].filter((c) => c.running).map((c) => c.name.replace("vtest-0-p-", "")).sort();
  }

  start(spec: Pod["spec"], metadata: Partial<Pod["metadata"]> = {}): PodWorker {
    const pod: Pod = { metadata: { name: "p", namespace: "default", uid: "uid-1", resourceVersion: "1", ...metadata }, spec: { nodeName: this.ctx.nodeName, ...spec } };
    this.worker = new PodWorker(this.ctx, pod, () => {});
    this.worker.kick();
    return this.worker;
  }

  /** Waits until the worker settled and `check` holds. */
  async until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.worker.idle();
      if (check()) return;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; running ${this.running().join(",")}; status ${JSON.stringify(this.status)}`);
      await Bun.sleep(10);
    }
  }

  condition(type: string): string | undefined {
    return this.status?.conditions?.find((c) => c.type === type)?.status;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let f: Fakes;
afterEach(() => f?.cleanup());
const c = (name: string, extra: Record<string, unknown> = {}) => ({ name, image: "busybox", command: ["sleep", "1"], ...extra });

describe("init containers", () => {
  test("run one after the other, each to exit 0, before the containers; status says where it is", async () => {
    f = new Fakes();
    f.start({ initContainers: [c("init-a"), c("init-b")], containers: [c("app")] });
    await f.until("init-a running", () => f.running().join() === "init-a" && f.status !== undefined);
    expect(f.status?.phase).toBe("Pending");
    expect(f.condition("Initialized")).toBe("False");
    expect(f.status?.initContainerStatuses?.map((s) => Object.keys(s.state)[0])).toEqual(["running", "waiting"]);
    expect(f.status?.containerStatuses?.[0]?.state.waiting?.reason).toBe("PodInitializing");
    f.exit("init-a", 0);
    await f.until("init-b running", () => f.running().join() === "init-b");
    f.exit("init-b", 0);
    await f.until("app running", () => f.running().join() === "app" && f.status?.phase === "Running");
    expect(f.condition("Initialized")).toBe("True");
    expect(f.condition("Ready")).toBe("True");
    expect(f.status?.podIP).toBe("10.0.0.50");
    expect(f.status?.initContainerStatuses?.map((s) => s.state.terminated?.reason)).toEqual(["Completed", "Completed"]);
  });

  test("a failing init container is restarted with back-off (Always); the containers wait", async () => {
    f = new Fakes();
    f.start({ initContainers: [c("init-a")], containers: [c("app")] });
    await f.until("init-a running", () => f.running().join() === "init-a");
    f.exit("init-a", 1);
    await f.until("restarted at once", () => f.running().join() === "init-a" && f.status?.initContainerStatuses?.[0]?.restartCount === 1);
    f.exit("init-a", 1);
    await f.until("back-off", () => f.status?.initContainerStatuses?.[0]?.state.waiting?.reason === "CrashLoopBackOff");
    expect(f.running()).toEqual([]);
    expect(f.events.some((e) => e.startsWith("BackOff: Back-off restarting failed container init-a"))).toBe(true);
    expect(f.status?.initContainerStatuses?.[0]?.lastState.terminated?.exitCode).toBe(1);
    await f.until("restarted after the back-off", () => f.running().join() === "init-a" && f.status?.initContainerStatuses?.[0]?.restartCount === 2, 2000);
    expect(f.status?.phase).toBe("Pending");
  });

  test("a failing init container fails the pod under restartPolicy Never, and its network goes", async () => {
    f = new Fakes();
    f.start({ restartPolicy: "Never", initContainers: [c("init-a")], containers: [c("app")] });
    await f.until("init-a running", () => f.running().join() === "init-a");
    expect(f.sandboxes.size).toBe(1);
    f.exit("init-a", 3);
    await f.until("Failed", () => f.status?.phase === "Failed");
    expect(f.running()).toEqual([]);
    expect(f.sandboxes.size).toBe(0);
  });
});

describe("restart policies", () => {
  test("OnFailure: a failed container is restarted, one that exits 0 completes the pod", async () => {
    f = new Fakes();
    f.start({ restartPolicy: "OnFailure", containers: [c("app")] });
    await f.until("app running", () => f.running().join() === "app");
    f.exit("app", 2);
    await f.until("restarted", () => f.running().join() === "app" && f.status?.containerStatuses?.[0]?.restartCount === 1);
    f.exit("app", 0);
    await f.until("Succeeded", () => f.status?.phase === "Succeeded");
    expect(f.running()).toEqual([]);
    expect(f.condition("Ready")).toBe("False");
    expect(f.sandboxes.size).toBe(0);
  });

  test("Always: a container that exits 0 is restarted too", async () => {
    f = new Fakes();
    f.start({ containers: [c("app")] });
    await f.until("app running", () => f.running().join() === "app");
    f.exit("app", 0);
    await f.until("restarted", () => f.running().join() === "app" && f.status?.containerStatuses?.[0]?.restartCount === 1);
    expect(f.status?.containerStatuses?.[0]?.lastState.terminated?.reason).toBe("Completed");
  });
});

test("CNI ADD failing (code 11) is retried with back-off and FailedCreatePodSandBox events; then the pod runs", async () => {
  f = new Fakes();
  f.addFailures = 2;
  f.start({ containers: [c("app")] });
  await f.until("running after two failed ADDs", () => f.running().join() === "app" && f.status?.podIP === "10.0.0.50");
  expect(f.events.filter((e) => e.startsWith("FailedCreatePodSandBox: Failed to create pod sandbox: aws-cni: CNI error 11"))).toHaveLength(2);
});

test("a container config error waits with CreateContainerConfigError, naming the field", async () => {
  f = new Fakes();
  f.start({ containers: [c("app", { env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "missing", key: "k" } } }] })] });
  await f.until("waiting", () => f.status?.containerStatuses?.[0]?.state.waiting?.reason === "CreateContainerConfigError");
  expect(f.status?.containerStatuses?.[0]?.state.waiting?.message).toContain('spec.containers[0].env[0].valueFrom.configMapKeyRef: configmap "missing" not found');
  expect(f.running()).toEqual([]);
});

describe("deletion", () => {
  test("graceful (deletionTimestamp): containers stopped, network gone, the kubelet deletes the pod", async () => {
    f = new Fakes();
    const w = f.start({ containers: [c("app")] });
    await f.until("app running", () => f.running().join() === "app");
    w.update({ ...w.pod, metadata: { ...w.pod.metadata, resourceVersion: "1000", deletionTimestamp: "2026-12-01T10:00:00Z", deletionGracePeriodSeconds: 1 } });
    await f.until("torn down", () => f.deletedByKubelet);
    expect(f.containers.size).toBe(0);
    expect(f.sandboxes.size).toBe(0);
  });

  test("already deleted (a DELETED event): torn down, nothing left to delete in the API", async () => {
    f = new Fakes();
    const w = f.start({ containers: [c("app")] });
    await f.until("app running", () => f.running().join() === "app");
    w.deleted(w.pod);
    await f.until("torn down", () => f.containers.size === 0 && f.sandboxes.size === 0);
    expect(f.deletedByKubelet).toBe(false);
  });
});
