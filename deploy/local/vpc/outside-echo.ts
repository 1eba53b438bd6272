// Starts the echo service (echo-server.ts) inside the outside namespace and waits until it listens.
import { assertNetnsName } from "./names.ts";
import { OUTSIDE_IP } from "./fabric.ts";

export const ECHO_PORT = 7;
const SCRIPT = new URL("./echo-server.ts", import.meta.url).pathname;

export interface EchoService {
  pid: number;
  address: string;
  stop(): Promise<void>;
}

export async function startEcho(outsideNs: string, port = ECHO_PORT, timeoutMs = 10_000): Promise<EchoService> {
  const proc = Bun.spawn(["ip", "netns", "exec", assertNetnsName(outsideNs), process.execPath, "run", SCRIPT, OUTSIDE_IP, String(port)], {
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
    address: `${OUTSIDE_IP}:${port}`,
    async stop() {
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 2000);
      await proc.exited;
      clearTimeout(t);
    },
  };
}
