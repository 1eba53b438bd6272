// Runs inside one namespace of a policy lab (started with `ip netns exec`): echoes TCP and
// UDP on the ports in argv (IPv4 and IPv6), and probes on request. One JSON request per
// stdin line, one JSON answer per stdout line: { id, ok, detail }.
//   { op: "tcp"|"udp", host, port, timeoutMs }  a new flow: connect (or send), get the echo
//   { op: "watch", host, port, sid }             a TCP connection that sends every 10 ms and
//                                                records when each echo arrives
//   { op: "peek", sid }                          { echoes, lastEchoAt, at } of a watch, which goes on
//   { op: "report", sid }                        { echoes, lastEchoAt, at } of a watch, which ends
//   (times are this process's clock: compare them only with each other)
import { createSocket } from "node:dgram";
import { connect, createServer, isIPv6, type Socket } from "node:net";
import { createInterface } from "node:readline";

const now = () => performance.timeOrigin + performance.now();

for (const port of process.argv.slice(2).map(Number)) {
  createServer((s) => {
    s.on("data", (d) => s.write(d));
    s.on("error", () => s.destroy());
  }).listen({ host: "::", port, ipv6Only: false });
  const udp = createSocket({ type: "udp6", ipv6Only: false });
  udp.on("message", (msg, from) => udp.send(msg, from.port, from.address));
  udp.bind(port, "::");
}

function tcp(host: string, port: number, timeoutMs: number): Promise<[boolean, string]> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean, detail: string) => {
      clearTimeout(timer);
      s.destroy();
      resolve([ok, detail]);
    };
    const timer = setTimeout(() => done(false, "timeout"), timeoutMs);
    s.on("connect", () => s.write("ping"));
    s.on("data", () => done(true, "echo"));
    s.on("error", (e) => done(false, e.message));
  });
}

function udp(host: string, port: number, timeoutMs: number): Promise<[boolean, string]> {
  return new Promise((resolve) => {
    const s = createSocket(isIPv6(host) ? "udp6" : "udp4");
    const done = (ok: boolean, detail: string) => {
      clearTimeout(timer);
      s.close();
      resolve([ok, detail]);
    };
    const timer = setTimeout(() => done(false, "timeout"), timeoutMs);
    s.on("message", () => done(true, "echo"));
    s.on("error", (e) => done(false, e.message));
    s.send("ping", port, host);
  });
}

const watches = new Map<string, { socket: Socket; echoes: number; lastEchoAt: number; timer?: ReturnType<typeof setInterval> }>();

function watch(sid: string, host: string, port: number): Promise<[boolean, string]> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const w = { socket, echoes: 0, lastEchoAt: 0 } as { socket: Socket; echoes: number; lastEchoAt: number; timer?: ReturnType<typeof setInterval> };
    watches.set(sid, w);
    socket.on("connect", () => {
      w.timer = setInterval(() => socket.write("x"), 10);
      resolve([true, "connected"]);
    });
    socket.on("data", () => {
      w.echoes++;
      w.lastEchoAt = now();
    });
    socket.on("error", (e) => resolve([false, e.message]));
  });
}

async function answer(line: string): Promise<void> {
  const r = JSON.parse(line) as { id: number; op: string; host: string; port: number; timeoutMs: number; sid: string };
  let result: [boolean, string];
  if (r.op === "tcp") result = await tcp(r.host, r.port, r.timeoutMs);
  else if (r.op === "udp") result = await udp(r.host, r.port, r.timeoutMs);
  else if (r.op === "watch") result = await watch(r.sid, r.host, r.port);
  else if (r.op === "peek") {
    // The watch's counts and this process's clock, without ending it (all times in this process's clock).
    const w = watches.get(r.sid);
    result = [w !== undefined, JSON.stringify({ echoes: w?.echoes ?? 0, lastEchoAt: w?.lastEchoAt ?? 0, at: now() })];
  } else if (r.op === "report") {
    const w = watches.get(r.sid);
    if (w?.timer) clearInterval(w.timer);
    w?.socket.destroy();
    result = [w !== undefined, JSON.stringify({ echoes: w?.echoes ?? 0, lastEchoAt: w?.lastEchoAt ?? 0, at: now() })];
  } else result = [false, `unknown op ${r.op}`];
  process.stdout.write(`${JSON.stringify({ id: r.id, ok: result[0], detail: result[1] })}\n`);
}

console.log(JSON.stringify({ id: 0, ok: true, detail: "ready" }));
for await (const line of createInterface({ input: process.stdin })) void answer(line);
