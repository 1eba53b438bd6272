/**
 * podman as the kubelet's container runtime. The machine's default storage (shared with the
 * image build, so a locally built image is found) and a containers.conf of the stack's own
 * (CONTAINERS_CONF: ulimits runc accepts, cgroupfs, events to a file, runc) — never the
 * lock, static or tmp dirs, which every podman user of the storage must agree on.
 *
 * podman runs with `nsenter --net=/run/netns/<node>`: conmon then lives in the node's network
 * namespace (the stack's teardown finds it there) and the root mount namespace is kept, so
 * the namespaces under /run/netns that containers join stay visible to every process
 * (`ip netns exec` would give podman a private mount namespace).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Subprocess } from "bun";
import { assertNetnsName } from "../vpc/names.ts";
import { lines } from "./lines.ts";

export const PODMAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NAME_OR_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** podman's states of a container that is not (or no longer) running a process. */
const NOT_RUNNING = new Set(["configured", "created", "exited", "stopped"]);
const LABEL_FILTER = /^[A-Za-z0-9./_-]+=[A-Za-z0-9./_-]*$/;

export class PodmanError extends Error {
  readonly code = "KUBELET_PODMAN";
  constructor(readonly argv: readonly string[], readonly exitCode: number, readonly stderr: string) {
    super(`podman ${argv.slice(0, 2).join(" ")} exited ${exitCode}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
}

export interface PodmanResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** What `podman ps --format json` says of one container. */
export interface PsEntry {
  id: string;
  name: string;
  state: string;
  running: boolean;
  exitCode: number;
  startedAtMs: number;
  /** 0 while it has not exited. */
  exitedAtMs: number;
  labels: Record<string, string>;
}

export interface DiedEvent {
  id: string;
  name: string;
  exitCode: number;
  labels: Record<string, string>;
}

/** The containers.conf the stack's podman users share (written once per stack). */
export function writeContainersConf(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, [
    "[containers]",
    // runc refuses the machine's default rlimits ("error setting rlimit type 7").
    'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
    "[engine]",
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    // crun fails on this host's cgroup layout.
    'runtime = "runc"',
    "",
  ].join("\n"));
  return path;
}

function checkId(value: string, field = "container"): string {
  if (!NAME_OR_ID.test(value)) throw new Error(`${field}: ${JSON.stringify(value)} is not a container name or ID`);
  return value;
}

function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).flatMap(([k, v]) => {
    const f = `${k}=${v}`;
    if (!LABEL_FILTER.test(f)) throw new Error(`label filter ${JSON.stringify(f)}: unsafe`);
    return ["--filter", `label=${f}`];
  });
}

function secondsToMs(s: unknown): number {
  return typeof s === "number" && s > 0 ? s * 1000 : 0;
}

export class Podman {
  readonly env: Record<string, string>;

  constructor(
    /** undefined: podman's own defaults. */
    readonly containersConf: string | undefined,
    readonly home: string,
    /** The node's network namespace podman runs in (undefined: the caller's). */
    readonly nodeNetns?: string,
  ) {
    if (nodeNetns !== undefined) assertNetnsName(nodeNetns);
    this.env = { PATH: PODMAN_PATH, HOME: home, ...(containersConf === undefined ? {} : { CONTAINERS_CONF: containersConf }) };
  }

  argv(args: readonly string[]): string[] {
    return this.nodeNetns === undefined ? ["podman", ...args] : ["nsenter", `--net=/run/netns/${this.nodeNetns}`, "podman", ...args];
  }

  async run(args: readonly string[], timeoutMs = 60_000): Promise<PodmanResult> {
    const proc = Bun.spawn(this.argv(args), { env: this.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, timeoutMs);
    try {
      const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { exitCode, stdout, stderr, timedOut };
    } finally {
      clearTimeout(timer);
    }
  }

  private async must(args: readonly string[], timeoutMs?: number): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.exitCode !== 0) throw new PodmanError(args, r.exitCode, r.timedOut ? `timed out; ${r.stderr}` : r.stderr);
    return r.stdout;
  }

  /** `podman run -d ...`; the new container's ID. */
  async runDetached(runArgs: readonly string[]): Promise<string> {
    return (await this.must(runArgs, 120_000)).trim().split("\n").pop() ?? "";
  }

  /** Stops (SIGTERM, SIGKILL after graceSeconds) and removes; a missing container is fine. */
  async remove(nameOrId: string, graceSeconds: number): Promise<void> {
    const t = Math.max(0, Math.floor(graceSeconds));
    const r = await this.run(["rm", "-f", "-t", String(t), checkId(nameOrId)], (t + 60) * 1000);
    if (r.exitCode !== 0 && !/no such container/i.test(r.stderr)) throw new PodmanError(["rm", nameOrId], r.exitCode, r.stderr);
  }

  /** Stops a container but keeps it (its state and exit code stay readable). */
  async stop(nameOrId: string, graceSeconds: number): Promise<void> {
    const t = Math.max(0, Math.floor(graceSeconds));
    const r = await this.run(["stop", "-t", String(t), checkId(nameOrId)], (t + 60) * 1000);
    if (r.exitCode !== 0 && !/no such container/i.test(r.stderr)) throw new PodmanError(["stop", nameOrId], r.exitCode, r.stderr);
  }

  /** Every container (any state) carrying all these labels. */
  async list(labels: Record<string, string>): Promise<PsEntry[]> {
    const out = await this.must(["ps", "-a", "--format", "json", ...labelFilters(labels)]);
    const rows = out.trim() === "" ? [] : (JSON.parse(out) as Array<Record<string, unknown>>);
    return rows.map((r) => {
      const state = String(r.State ?? "");
      return {
        id: String(r.Id ?? ""),
        name: String((r.Names as string[] | undefined)?.[0] ?? ""),
        state,
        // "stopping" is still running: its exit code is not known yet.
        running: !NOT_RUNNING.has(state),
        exitCode: Number(r.ExitCode ?? 0),
        startedAtMs: secondsToMs(r.StartedAt),
        exitedAtMs: secondsToMs(r.ExitedAt),
        labels: (r.Labels as Record<string, string> | null) ?? {},
      };
    });
  }

  /** Runs argv in a running container; never throws for the command's own failure. */
  exec(nameOrId: string, argv: readonly string[], timeoutMs: number): Promise<PodmanResult> {
    return this.run(["exec", checkId(nameOrId), ...argv], timeoutMs);
  }

  /** The local image's ID, or undefined when there is no such image (nothing is pulled). */
  async imageId(ref: string): Promise<string | undefined> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._\/:@-]{0,254}$/.test(ref)) return undefined;
    const r = await this.run(["image", "inspect", "--format", "{{.Id}}", ref], 30_000);
    return r.exitCode === 0 ? r.stdout.trim() || undefined : undefined;
  }

  /**
   * Follows `died` events of containers with these labels; `onDied` gets each. The stream
   * is restarted when podman exits; `stop()` ends it.
   */
  followDied(labels: Record<string, string>, onDied: (e: DiedEvent) => void, onError: (message: string) => void): { stop(): void } {
    let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
    let stopped = false;
    const start = () => {
      if (stopped) return;
      proc = Bun.spawn(this.argv(["events", "--format", "json", "--filter", "event=died", ...labelFilters(labels)]), { env: this.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const current = proc;
      void (async () => {
        for await (const line of lines(current.stdout)) {
          try {
            const e = JSON.parse(line) as { ID?: string; Name?: string; ContainerExitCode?: number; Attributes?: Record<string, string> };
            onDied({ id: e.ID ?? "", name: e.Name ?? "", exitCode: e.ContainerExitCode ?? 0, labels: e.Attributes ?? {} });
          } catch {
            onError(`podman events: unreadable line ${JSON.stringify(line.slice(0, 200))}`);
          }
        }
        const code = await current.exited;
        if (stopped) return;
        onError(`podman events exited ${code}: ${(await new Response(current.stderr).text()).trim().slice(0, 300)}; restarting in 1 s`);
        setTimeout(start, 1000);
      })();
    };
    start();
    return {
      stop() {
        stopped = true;
        proc?.kill("SIGTERM");
      },
    };
  }
}
