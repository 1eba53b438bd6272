// Starts the echo service (echo-server.ts) inside the outside namespace and waits until it listens.
import { assertNetnsName } from "./names.ts";
import { OUTSIDE_IP } from "./fabric.ts";
import { isIp } from "../../../shared/ip.ts";

export const ECHO_PORT = 7;
const SCRIPT = new URL("./echo-server.ts", import.meta.url).pathname;

export interface EchoService {
  pid: number;
  address: string;
  stop(): Promise<void>;
}

/** `host`: OUTSIDE_IP, or OUTSIDE_IPV6 for the IPv6 echo (its address is then `[ip]:port`). */
export async function startEcho(outsideNs: string, port = ECHO_PORT, timeoutMs = 10_000, host: string = OUTSIDE_IP): Promise<EchoService> {
  if (!isIp(host)) throw new Error(`host: not an IP address: ${JSON.stringify(host)}`);
  const proc = Bun.spawn(["ip", "netns", "exec", assertNetnsName(outsideNs), process.execPath, "run", SCRIPT, host, String(port)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let seen = "";
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    while (!seen.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw Object.assign(new Error(`echo service in ${outsideNs} exited before listening (exit ${await proc.exited})`), { code: "LOCAL_ECHO_FAILED" });
      seen += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return {
    pid: proc.pid,
    address: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    async stop() {
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 2000);
      await proc.exited;
      clearTimeout(t);
    },
  };
}
