// A long-lived TCP connection for root tests of the VPC's security groups: a line echo server
// and a client that keeps its connection open, so a test can send on an established flow
// after the rules changed. Both run as processes inside the test's namespaces.
import { isIp } from "../../../shared/ip.ts";
import { assertNetnsName } from "./names.ts";

const SERVER = `const net=require("node:net");const [h,p]=process.argv.slice(-2);net.createServer((s)=>s.on("data",(d)=>s.write(d))).listen(Number(p),h,()=>process.stdout.write("listening\\n"));`;
const CLIENT = `const net=require("node:net");const [h,p]=process.argv.slice(-2);const c=net.connect({host:h,port:Number(p)},()=>process.stdout.write("connected\\n"));c.on("data",(d)=>process.stdout.write(d));c.on("error",()=>process.exit(2));c.on("close",()=>process.exit(3));process.stdin.on("data",(d)=>c.write(d));`;

function spawnIn(ns: string, script: string, host: string, port: number) {
  if (!isIp(host)) throw new Error(`host: not an IP address: ${JSON.stringify(host)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`port: invalid ${port}`);
  return Bun.spawn(["ip", "netns", "exec", assertNetnsName(ns), process.execPath, "-e", script, host, String(port)], { stdin: "pipe", stdout: "pipe", stderr: "ignore" });
}

/** Reads stdout until `want` has arrived or the time is up (then rejects). */
function reader(stream: ReadableStream<Uint8Array>) {
  const r = stream.getReader();
  let buf = "";
  return async (want: string, timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (!buf.includes(want)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${JSON.stringify(want)} within ${timeoutMs} ms`);
      const next = await Promise.race([r.read(), Bun.sleep(left).then(() => null)]);
      if (next === null) continue;
      if (next.done) throw new Error(`closed before ${JSON.stringify(want)}`);
      buf += new TextDecoder().decode(next.value);
    }
    const i = buf.indexOf(want) + want.length;
    const out = buf.slice(0, i);
    buf = buf.slice(i);
    return out;
  };
}

export async function startLineEcho(ns: string, host: string, port: number): Promise<{ stop(): Promise<void> }> {
  const proc = spawnIn(ns, SERVER, host, port);
  try {
    await reader(proc.stdout)("listening\n", 10_000);
  } catch (e) {
    proc.kill("SIGKILL");
    throw e;
  }
  return {
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

export interface LineClient {
  /** Sends one line; resolves with the line echoed back (rejects after 2 s without it). */
  say(text: string): Promise<string>;
  close(): void;
}

/** Opens a connection; rejects when it is not established within `timeoutMs`. */
export async function lineClient(ns: string, host: string, port: number, timeoutMs = 5000): Promise<LineClient> {
  const proc = spawnIn(ns, CLIENT, host, port);
  const read = reader(proc.stdout);
  try {
    await read("connected\n", timeoutMs);
  } catch (e) {
    proc.kill("SIGKILL");
    throw e;
  }
  return {
    async say(text) {
      proc.stdin.write(`${text}\n`);
      proc.stdin.flush();
      return (await read("\n", 2000)).trimEnd();
    },
    close() {
      proc.kill("SIGKILL");
    },
  };
}
