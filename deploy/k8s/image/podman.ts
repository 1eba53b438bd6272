/**
 * podman as the image build uses it: argv arrays only, a clean environment with this
 * directory's containers.conf (CONTAINERS_CONF), the machine's default storage (shared with
 * the kubelet and every other podman user here), a time limit on every call.
 */
import { join } from "node:path";

export const CONTAINERS_CONF = join(import.meta.dir, "containers.conf");
export const TOOL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface Ran {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  /** Each line of stdout and stderr as it comes (a long build's progress). */
  onLine?: (line: string) => void;
  env?: Record<string, string>;
}

async function collect(stream: ReadableStream<Uint8Array>, onLine?: (line: string) => void): Promise<string> {
  let all = "";
  let pending = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    const text = decoder.decode(chunk, { stream: true });
    all += text;
    if (!onLine) continue;
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const l of lines) onLine(l);
  }
  if (onLine && pending) onLine(pending);
  return all;
}

/** Runs argv (never through a shell); killed after timeoutMs (exit code 137, stderr says so). */
export async function runTool(argv: readonly string[], opts: RunOptions = {}): Promise<Ran> {
  const proc = Bun.spawn([...argv], {
    env: { PATH: TOOL_PATH, CONTAINERS_CONF, TMPDIR: "/var/tmp", ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, opts.timeoutMs ?? 60_000);
  try {
    const [stdout, stderr, exitCode] = await Promise.all([collect(proc.stdout, opts.onLine), collect(proc.stderr, opts.onLine), proc.exited]);
    return { exitCode, stdout, stderr: timedOut ? `${stderr}\n${argv[0]}: killed after ${opts.timeoutMs ?? 60_000} ms` : stderr };
  } finally {
    clearTimeout(timer);
  }
}

export function podman(args: readonly string[], opts?: RunOptions): Promise<Ran> {
  return runTool(["podman", ...args], opts);
}

export class ImageBuildError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = "ImageBuildError";
  }
}

/** Fails with `code` naming the command and the tail of its stderr when it did not exit 0. */
export function mustSucceed(what: string, r: Ran, code: string): Ran {
  if (r.exitCode !== 0) throw new ImageBuildError(code, `${what} exited ${r.exitCode}: ${r.stderr.trim().split("\n").slice(-15).join("\n")}`);
  return r;
}

export interface ImageInfo {
  id: string;
  sizeBytes: number;
  architecture: string;
  labels: Record<string, string>;
}

/** The image's id, size, architecture and labels; undefined when there is no such image. */
export async function inspectImage(ref: string): Promise<ImageInfo | undefined> {
  const r = await podman(["image", "inspect", ref]);
  if (r.exitCode !== 0) {
    if (/image not known/i.test(r.stderr)) return undefined;
    mustSucceed(`podman image inspect ${ref}`, r, "PODMAN_FAILED");
  }
  const [info] = JSON.parse(r.stdout) as Array<{ Id: string; Size: number; Architecture: string; Labels?: Record<string, string> | null }>;
  if (!info) return undefined;
  return { id: info.Id, sizeBytes: info.Size, architecture: info.Architecture, labels: info.Labels ?? {} };
}
