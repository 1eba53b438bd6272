// Running one probe: exec through `podman exec` in the container; httpGet and tcpSocket from
// inside the node's network namespace (where the kubelet of a real node probes from), to the
// pod's IP or, for hostNetwork pods, the node's.
import { join } from "node:path";
import type { Subprocess } from "bun";
import { lines } from "./lines.ts";
import type { Container, Probe } from "./pod-types.ts";
import type { Podman } from "./podman.ts";
import { ProbeSpecError } from "./probe-state.ts";

export interface ProbeOutcome {
  ok: boolean;
  message: string;
}

const HELPER = join(import.meta.dir, "net-probe-helper.ts");

/** The probe helper of one node: a long-lived Bun inside the node's network namespace. */
export class NetProber {
  private proc: Subprocess<"pipe", "pipe", "ignore"> | undefined;
  private seq = 0;
  private readonly waiting = new Map<number, (o: ProbeOutcome) => void>();
  private closed = false;

  constructor(private readonly nodeNetns: string) {}

  private helper(): Subprocess<"pipe", "pipe", "ignore"> {
    if (this.proc && this.proc.exitCode === null) return this.proc;
    const proc = Bun.spawn(["nsenter", `--net=/run/netns/${this.nodeNetns}`, process.execPath, HELPER], { stdin: "pipe", stdout: "pipe", stderr: "ignore", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
    this.proc = proc;
    void (async () => {
      for await (const line of lines(proc.stdout)) {
        try {
          const a = JSON.parse(line) as { id: number; ok: boolean; message: string };
          this.waiting.get(a.id)?.({ ok: a.ok, message: a.message });
          this.waiting.delete(a.id);
        } catch {
          // not an answer
        }
      }
    })();
    return proc;
  }

  ask(request: Record<string, unknown>, timeoutMs: number): Promise<ProbeOutcome> {
    if (this.closed) return Promise.resolve({ ok: false, message: "kubelet stopping" });
    const id = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ ok: false, message: "probe timed out" });
      }, timeoutMs + 1000);
      this.waiting.set(id, (o) => {
        clearTimeout(timer);
        resolve(o);
      });
      const p = this.helper();
      p.stdin.write(`${JSON.stringify({ ...request, id, timeoutMs })}\n`);
      p.stdin.flush();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.proc;
    if (p && p.exitCode === null) {
      p.kill("SIGKILL");
      await p.exited;
    }
  }
}

/** A named port of the container, or a number. */
export function probePort(port: number | string | undefined, container: Container, field: string): number {
  if (typeof port === "number" && Number.isInteger(port) && port > 0 && port < 65536) return port;
  if (typeof port === "string") {
    if (/^\d+$/.test(port)) return probePort(Number(port), container, field);
    const named = container.ports?.find((p) => p.name === port)?.containerPort;
    if (named !== undefined) return named;
  }
  throw new ProbeSpecError(`${field}.port`, `${JSON.stringify(port)} is neither a port number nor a named port of the container`);
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export interface ProbeTarget {
  podman: Pick<Podman, "exec">;
  net: Pick<NetProber, "ask">;
  containerName: string;
  container: Container;
  /** The pod's IP, or the node's for hostNetwork pods. */
  ip: string;
}

export async function runProbe(probe: Probe, t: ProbeTarget, timeoutMs: number, field: string): Promise<ProbeOutcome> {
  if (probe.exec) {
    const command = probe.exec.command ?? [];
    if (command.length === 0) throw new ProbeSpecError(`${field}.exec.command`, "required");
    const r = await t.podman.exec(t.containerName, command, timeoutMs);
    const output = `${r.stdout}${r.stderr}`.trim().slice(0, 500);
    if (r.timedOut) return { ok: false, message: `command ${JSON.stringify(command.join(" "))} timed out after ${timeoutMs / 1000}s` };
    return r.exitCode === 0 ? { ok: true, message: output } : { ok: false, message: output || `command ${JSON.stringify(command.join(" "))} exited ${r.exitCode}` };
  }
  if (probe.httpGet) {
    const g = probe.httpGet;
    const scheme = (g.scheme ?? "HTTP").toLowerCase();
    if (scheme !== "http" && scheme !== "https") throw new ProbeSpecError(`${field}.httpGet.scheme`, `${JSON.stringify(g.scheme)}: HTTP or HTTPS`);
    const port = probePort(g.port, t.container, `${field}.httpGet`);
    const path = g.path ?? "/";
    const url = `${scheme}://${hostForUrl(g.host ?? t.ip)}:${port}${path.startsWith("/") ? path : `/${path}`}`;
    const headers = Object.fromEntries((g.httpHeaders ?? []).filter((h) => h.name).map((h) => [h.name ?? "", h.value ?? ""]));
    return t.net.ask({ kind: "http", url, headers }, timeoutMs);
  }
  if (probe.tcpSocket) {
    const port = probePort(probe.tcpSocket.port, t.container, `${field}.tcpSocket`);
    return t.net.ask({ kind: "tcp", host: probe.tcpSocket.host ?? t.ip, port }, timeoutMs);
  }
  throw new ProbeSpecError(field, "exactly one of exec, httpGet, tcpSocket is required");
}
