/**
 * Runs inside one pod's network namespace (started with `nsenter -t <pid> -n bun in-pod.ts
 * <ports>`) for the whole conformance run, as the pod's server and its prober:
 *
 * - serves TCP and UDP on each given port, answering a line or datagram "<text>" with
 *   "pong <text>" (the pod's busybox has no UDP listener, and its `nc -ll` accepts with a
 *   backlog of one, so most of a matrix round's concurrent connections would be dropped);
 * - reads probe requests, one JSON line each on stdin: `{ id, timeoutMs, probes: [{ ip, port,
 *   protocol }] }`, runs them all at once (TCP: connect, send a line, read "pong"; UDP: send a
 *   datagram, wait for "pong" back) and writes `{ id, results: boolean[] }` on stdout.
 *
 * Writes `{ "ready": true }` once its UDP ports are bound. Ends when stdin closes.
 */
import { createSocket } from "node:dgram";
import { createConnection, createServer } from "node:net";

type Req = { id: number; timeoutMs: number; probes: Array<{ ip: string; port: number; protocol: "TCP" | "UDP" }> };

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const ports = (process.argv[2] ?? "").split(",").filter(Boolean).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new Error(`ports: not a list of ports: ${process.argv[2]}`);

const write = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

function tcpProbe(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let text = "";
    const s = createConnection({ host: ip, port });
    const done = (v: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on("connect", () => s.write("hi\n"));
    s.on("data", (d) => {
      text += d.toString();
      if (text.includes("pong hi")) done(true);
    });
    s.on("error", () => done(false));
    s.on("close", () => done(text.includes("pong hi")));
  });
}

function udpProbe(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    let finished = false;
    const done = (v: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on("message", (m) => {
      if (m.toString().includes("pong hi")) done(true);
    });
    s.on("error", () => done(false));
    s.send("hi", port, ip);
  });
}

async function serveUdp(port: number): Promise<void> {
  const s = createSocket("udp4");
  s.on("message", (m, from) => s.send(`pong ${m.toString().trim()}`, from.port, from.address));
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.bind(port, "0.0.0.0", () => resolve());
  });
}

async function serveTcp(port: number): Promise<void> {
  const server = createServer((c) => {
    let text = "";
    c.on("data", (d) => {
      text += d.toString();
      const nl = text.indexOf("\n");
      if (nl >= 0) c.end(`pong ${text.slice(0, nl)}\n`);
    });
    c.on("error", () => c.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: "0.0.0.0", backlog: 512 }, () => resolve());
  });
}

async function answer(line: string): Promise<void> {
  const req = JSON.parse(line) as Req;
  const results = await Promise.all(
    req.probes.map((p) => {
      if (!IPV4.test(p.ip)) return false;
      return p.protocol === "UDP" ? udpProbe(p.ip, p.port, req.timeoutMs) : tcpProbe(p.ip, p.port, req.timeoutMs);
    }),
  );
  write({ id: req.id, results });
}

await Promise.all(ports.flatMap((p) => [serveUdp(p), serveTcp(p)]));
write({ ready: true });
let buffered = "";
for await (const chunk of process.stdin) {
  buffered += chunk.toString();
  let nl: number;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line.trim()) void answer(line);
  }
}
process.exit(0);
