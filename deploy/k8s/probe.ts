/**
 * The DaemonSet's liveness and readiness probe (`/app/bin/probe <service> live|ready` in the
 * image, which passes the run dir: `${AWS_VPC_CNI_RUN_DIR:-/var/run/aws-node}`). GET /livez
 * (live: the process is alive and serving) or /healthz (ready: it can do its job) on
 * `<run dir>/<service>.sock`, 5 s timeout; exit 0 iff the answer is 200, 1 otherwise, 2 on
 * bad arguments; one line of output saying why. Bundled and run by the image's Bun: the
 * kubelet runs it every few seconds in every container, so it imports next to nothing.
 *
 * Usage: probe.js <pool-manager|addr-broker|net-config|metrics|policy-agent> <live|ready> <run dir>
 */
import { SERVICES, socketPath, type ServiceName } from "../../shared/sockets.ts";

export const PROBE_TIMEOUT_MS = 5000;
const PATHS = { live: "/livez", ready: "/healthz" } as const;
export type ProbeKind = keyof typeof PATHS;

export interface ProbeArgs {
  service: ServiceName;
  kind: ProbeKind;
  runDir: string;
}

export interface ProbeResult {
  code: 0 | 1 | 2;
  line: string;
}

/** Validates argv (after the script name); a string is the usage error to print. */
export function parseProbeArgs(argv: readonly string[]): ProbeArgs | string {
  const usage = `usage: probe <${SERVICES.join("|")}> <live|ready> <run dir>`;
  const [service, kind, runDir] = argv;
  if (argv.length !== 3) return `${usage} (got ${argv.length} arguments)`;
  if (!(SERVICES as readonly string[]).includes(service!)) return `${usage}: unknown service ${JSON.stringify(service)}`;
  if (kind !== "live" && kind !== "ready") return `${usage}: unknown probe ${JSON.stringify(kind)}`;
  if (!runDir!.startsWith("/") || runDir!.includes("\0")) return `${usage}: the run dir must be an absolute path, got ${JSON.stringify(runDir)}`;
  return { service: service as ServiceName, kind, runDir: runDir! };
}

export async function probe(args: ProbeArgs, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const socket = socketPath(args.runDir, args.service);
  const what = `${args.service} ${args.kind} (GET ${PATHS[args.kind]} on ${socket})`;
  try {
    const res = await fetch(`http://localhost${PATHS[args.kind]}`, { unix: socket, signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.text()).replace(/\s+/g, " ").trim().slice(0, 300);
    return { code: res.status === 200 ? 0 : 1, line: `${what}: ${res.status}${body ? ` ${body}` : ""}` };
  } catch (err) {
    const e = err as Error & { code?: string };
    const why = e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : `unreachable (${e.code ?? `${e.name}: ${e.message}`})`;
    return { code: 1, line: `${what}: ${why}` };
  }
}

if (import.meta.main) {
  const args = parseProbeArgs(process.argv.slice(2));
  if (typeof args === "string") {
    process.stderr.write(`${args}\n`);
    process.exit(2);
  }
  const result = await probe(args);
  process.stdout.write(`${result.line}\n`);
  process.exit(result.code);
}
