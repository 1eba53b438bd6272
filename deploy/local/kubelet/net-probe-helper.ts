// Runs inside a node's network namespace (started by NetProber with nsenter --net) and
// answers the kubelet's httpGet and tcpSocket probes: one JSON request per stdin line, one
// JSON answer per stdout line, `{ id, ok, message }`. A probe's own timeout bounds it.
import { lines } from "./lines.ts";

interface ProbeRequest {
  id: number;
  kind: "http" | "tcp";
  url?: string;
  headers?: Record<string, string>;
  host?: string;
  port?: number;
  timeoutMs: number;
}

async function http(r: ProbeRequest): Promise<[boolean, string]> {
  const res = await fetch(r.url ?? "", { headers: { "user-agent": "kube-probe/1.31", ...r.headers }, redirect: "manual", signal: AbortSignal.timeout(r.timeoutMs), tls: { rejectUnauthorized: false } });
  const body = (await res.text()).slice(0, 200);
  const ok = res.status >= 200 && res.status < 400;
  return [ok, ok ? `HTTP probe succeeded with statuscode: ${res.status}` : `HTTP probe failed with statuscode: ${res.status}${body ? ` ${body.trim()}` : ""}`];
}

function tcp(r: ProbeRequest): Promise<[boolean, string]> {
  const target = `${r.host}:${r.port}`;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve([false, `dial tcp ${target}: i/o timeout`]), r.timeoutMs);
    Bun.connect({
      hostname: r.host ?? "",
      port: r.port ?? 0,
      socket: {
        open(s) {
          clearTimeout(timer);
          s.end();
          resolve([true, `dial tcp ${target}: connected`]);
        },
        connectError(_s, err) {
          clearTimeout(timer);
          resolve([false, `dial tcp ${target}: ${err.message}`]);
        },
        data() {},
      },
    }).catch((err: Error) => {
      clearTimeout(timer);
      resolve([false, `dial tcp ${target}: ${err.message}`]);
    });
  });
}

async function answer(line: string): Promise<void> {
  let r: ProbeRequest;
  try {
    r = JSON.parse(line) as ProbeRequest;
  } catch {
    return;
  }
  let result: [boolean, string];
  try {
    result = r.kind === "http" ? await http(r) : await tcp(r);
  } catch (err) {
    const e = err as Error;
    result = [false, e.name === "TimeoutError" ? `Get "${r.url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` : `Get "${r.url}": ${e.message}`];
  }
  process.stdout.write(`${JSON.stringify({ id: r.id, ok: result[0], message: result[1] })}\n`);
}

for await (const line of lines(Bun.stdin.stream())) void answer(line);
