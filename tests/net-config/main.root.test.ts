/**
 * net-config's main.ts as a process, run inside a fresh network namespace standing for the
 * node (so nothing in the machine's own namespace changes): it serves its socket, answers
 * /healthz and /debug, applies the host set-up it is asked for, reconciles on request,
 * and stops on SIGTERM removing its socket. Needs root.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Namespaces, run } from "../../services/net-config/test-support/namespaces.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";

const nss = new Namespaces();
const dir = mkdtempSync(join(tmpdir(), "netconfig-main-"));
let proc: ReturnType<typeof Bun.spawn> | undefined;
afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
  nss.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Waits until the service answers on its socket (not only until the file exists); if the process exits first, fails with its output. */
async function waitFor(path: string, p: ReturnType<typeof Bun.spawn>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (p.exitCode !== null) {
      const [out, err] = await Promise.all([new Response(p.stdout as ReadableStream).text(), new Response(p.stderr as ReadableStream).text()]);
      throw new Error(`net-config exited ${p.exitCode} before serving: ${err.trim() || out.trim()}`);
    }
    if (existsSync(path)) {
      const ok = await fetch("http://localhost/healthz", { unix: path, signal: AbortSignal.timeout(1000) }).then(() => true, () => false);
      if (ok) return;
    }
    await Bun.sleep(50);
  }
  throw new Error(`net-config did not answer on ${path} within 10 s`);
}

requires(...NAMESPACES, "iptables").describe("net-config main (root)", () => {
  test("serves, sets up the host when asked, reconciles, stops on SIGTERM", async () => {
    const node = nss.add("m");
    nss.ip(node.name, ["link", "add", "eth0", "address", "02:00:00:00:00:05", "type", "veth", "peer", "name", "ext0"]);
    nss.ip(node.name, ["addr", "add", "10.0.0.5/24", "dev", "eth0"]);
    const sock = join(dir, "net-config.sock");
    proc = Bun.spawn(["ip", "netns", "exec", node.name, process.execPath, "services/net-config/main.ts"], {
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", AWS_VPC_CNI_RUN_DIR: dir, AWS_VPC_K8S_CNI_LOG_FILE: `${dir}/net-config.log`, AWS_VPC_K8S_CNI_RANDOMIZESNAT: "hashrandom" },
      stdout: "pipe",
      stderr: "pipe",
    });
    await waitFor(sock, proc);
    const call = async (path: string, body?: unknown) => {
      const res = await fetch(`http://localhost${path}`, { unix: sock, method: body === undefined ? "GET" : "POST", body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    expect((await call("/healthz")).status).toBe(200);
    const setup = await call("/v1/host/setup", { vpcCidrs: ["10.0.0.0/16"], primaryIp: "10.0.0.5", primaryMac: "02:00:00:00:00:05" });
    expect(setup).toEqual({ status: 200, json: { ok: true } });
    const saved = run(["ip", "netns", "exec", node.name, "iptables-nft-save", "-t", "nat"]).out;
    expect(saved).toContain("-j SNAT --to-source 10.0.0.5 --random");
    expect(saved).not.toContain("--random-fully");
    const round = await call("/v1/reconcile", {});
    expect(round.json.pods).toContain("addr-broker unreachable");
    expect(round.json.errors).toBe(0);
    const debug = (await call("/debug")).json as { settings: { randomizeSnat: string }; recentOperations: Array<{ op: string }> };
    expect(debug.settings.randomizeSnat).toBe("hashrandom");
    expect(debug.recentOperations.map((o) => o.op)).toEqual(["setupHost", "reconcile"]);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(existsSync(sock)).toBe(false);
  });

  test("an invalid setting stops it before it serves, naming the variable", async () => {
    const p = Bun.spawn([process.execPath, "services/net-config/main.ts"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", AWS_VPC_CNI_RUN_DIR: dir, AWS_VPC_K8S_CNI_LOG_FILE: `${dir}/net-config.log`, AWS_VPC_K8S_CNI_VETHPREFIX: "eth" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await p.exited).toBe(1);
    expect(await new Response(p.stderr).text()).toContain("AWS_VPC_K8S_CNI_VETHPREFIX");
  });
});
