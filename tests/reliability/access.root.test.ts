// Access: every service socket is 0600 and root's (0660 and the configured
// group's with AWS_VPC_CNI_SOCKET_GROUP); nothing but metrics (:61678) and introspection
// (127.0.0.1:61679) listens on TCP in the node namespace; a process without root cannot
// talk to the services (dropped with setpriv), while a member of the configured group can.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type RunningDeployment } from "../../deploy/local/deployment.ts";
import { summary } from "./support.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";

const SERVICES = ["net-config", "pool-manager", "addr-broker", "metrics"] as const;
const NOGROUP = 65534;
const started: Array<{ d: RunningDeployment; dir: string }> = [];
const counts = { sockets: 0, listeners: 0, deniedAttempts: 0, groupAttempts: 0 };

const gate = requires(...LOCAL_DEPLOYMENT, "setpriv");

afterAll(async () => {
  for (const s of started) {
    await s.d.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
  summary("access", counts);
});

async function deploy(env: Record<string, string>): Promise<RunningDeployment> {
  const dir = mkdtempSync(join(tmpdir(), "rel-access-"));
  const d = await startDeployment({ dir, nodes: 1, env });
  started.push({ d, dir });
  // Make the path to the sockets traversable, so only the sockets' own modes decide.
  for (const p of [dir, join(dir, "nodes"), join(dir, "nodes/0"), d.nodes[0]!.layout.runDir]) chmodSync(p, 0o755);
  return d;
}

/** curl over the socket as uid/gid 65534 with no supplementary groups; the HTTP code, or the curl failure. */
async function curlAs(socket: string): Promise<{ exit: number; out: string }> {
  const p = Bun.spawn(["setpriv", `--reuid=${NOGROUP}`, `--regid=${NOGROUP}`, "--clear-groups", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--unix-socket", socket, "http://localhost/healthz"], { stdout: "pipe", stderr: "pipe" });
  const [out, err, exit] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { exit, out: `${out} ${err}`.trim() };
}

interface Listener {
  address: string;
  port: number;
}

/** TCP sockets in LISTEN state inside a namespace, from /proc/net/tcp{,6}. */
function tcpListeners(netns: string): Listener[] {
  const out: Listener[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const r = Bun.spawnSync(["ip", "netns", "exec", netns, "cat", file], { stdout: "pipe" });
    for (const line of r.stdout.toString().split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== "0A") continue;
      const [hex, port] = f[1]!.split(":");
      let address: string;
      if (hex!.length === 8) address = [3, 2, 1, 0].map((i) => Number.parseInt(hex!.slice(i * 2, i * 2 + 2), 16)).join(".");
      else address = /^0+$/.test(hex!) ? "::" : hex!.endsWith("0100007F") && /^0{16}FFFF0000/.test(hex!) ? "::ffff:127.0.0.1" : hex!;
      out.push({ address, port: Number.parseInt(port!, 16) });
    }
  }
  return out;
}

gate.describe("access", () => {
  test("default: sockets 0600 root:root, only metrics and introspection on TCP, non-root refused", async () => {
    const d = await deploy({});
    const runDir = d.nodes[0]!.layout.runDir;
    for (const s of SERVICES) {
      const st = statSync(join(runDir, `${s}.sock`));
      counts.sockets++;
      expect({ s, socket: st.isSocket(), mode: (st.mode & 0o777).toString(8), uid: st.uid, gid: st.gid }).toEqual({ s, socket: true, mode: "600", uid: 0, gid: 0 });
    }
    const listeners = tcpListeners(d.stack.nodes[0]!.netns);
    counts.listeners += listeners.length;
    const unexpected = listeners.filter((l) => !(l.port === 61678 || (l.port === 61679 && (l.address === "127.0.0.1" || l.address === "::ffff:127.0.0.1"))));
    expect(unexpected).toEqual([]);
    expect(listeners.some((l) => l.port === 61678)).toBe(true);
    for (const s of SERVICES) {
      counts.deniedAttempts++;
      const r = await curlAs(join(runDir, `${s}.sock`));
      // connect(2) fails with EACCES; curl reports it as exit 7 "Couldn't connect" (no HTTP answer).
      expect({ s, refused: r.exit === 7 && r.out.startsWith("000") }).toEqual({ s, refused: true });
    }
  }, 60_000);

  test("AWS_VPC_CNI_SOCKET_GROUP: sockets 0660 root:<group>; a member of the group may talk, others may not", async () => {
    const d = await deploy({ AWS_VPC_CNI_SOCKET_GROUP: String(NOGROUP) });
    const runDir = d.nodes[0]!.layout.runDir;
    const wrong: string[] = [];
    for (const s of SERVICES) {
      const st = statSync(join(runDir, `${s}.sock`));
      counts.sockets++;
      const got = { mode: (st.mode & 0o777).toString(8), uid: st.uid, gid: st.gid };
      if (JSON.stringify(got) !== JSON.stringify({ mode: "660", uid: 0, gid: NOGROUP })) wrong.push(`${s}: ${JSON.stringify(got)}`);
      counts.groupAttempts++;
      // uid/gid 65534 is in the group: allowed through the socket mode (any HTTP answer).
      const r = await curlAs(join(runDir, `${s}.sock`));
      if (!/^[0-9]{3}/.test(r.out) || r.out.startsWith("000")) wrong.push(`${s}: group member refused: ${r.out}`);
    }
    expect(wrong).toEqual([]);
  }, 60_000);
});
