/**
 * Every service, started as the kubelet would start its container: an invalid variable
 * stops it before it does anything, naming the variable; a valid start serves /healthz on
 * its socket and SIGTERM stops it with exit 0, removing the socket.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BUN = join(import.meta.dir, "../../node_modules/.bin/bun");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function runDir(): string {
  const d = mkdtempSync(join(tmpdir(), "svc-start-"));
  dirs.push(d);
  return d;
}

function env(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    AWS_VPC_CNI_RUN_DIR: dir,
    AWS_VPC_K8S_CNI_LOG_FILE: join(dir, "service.log"),
    AWS_VPC_CNI_METRICS_BIND_ADDRESS: `unix:${join(dir, "metrics-tcp.sock")}`,
    INTROSPECTION_BIND_ADDRESS: `unix:${join(dir, "introspection.sock")}`,
    ...extra,
  };
}

const SERVICES = ["pool-manager", "addr-broker", "net-config", "metrics", "policy-agent"].filter((s) => existsSync(join(import.meta.dir, `../../services/${s}/main.ts`)));

describe.each(SERVICES)("%s", (service) => {
  const main = join(import.meta.dir, `../../services/${service}/main.ts`);

  test("an invalid variable stops it before it starts, naming the variable", async () => {
    const dir = runDir();
    const p = Bun.spawn([BUN, main], { env: env(dir, { WARM_IP_TARGET: "lots" }), stdout: "pipe", stderr: "pipe" });
    const code = await p.exited;
    const stderr = await new Response(p.stderr).text();
    expect(code).not.toBe(0);
    expect(stderr).toContain("WARM_IP_TARGET=lots");
    expect(existsSync(join(dir, `${service}.sock`))).toBe(false);
  });
});

test("metrics starts, serves /healthz on its socket, and SIGTERM stops it cleanly", async () => {
  const dir = runDir();
  const socket = join(dir, "metrics.sock");
  const p = Bun.spawn([BUN, join(import.meta.dir, "../../services/metrics/main.ts")], { env: env(dir), stdout: "pipe", stderr: "pipe" });
  try {
    for (let i = 0; i < 100 && !existsSync(socket); i++) await Bun.sleep(50);
    const res = await fetch("http://localhost/healthz", { unix: socket });
    expect(res.status).toBe(200);
    const metrics = await (await fetch("http://localhost/metrics", { unix: join(dir, "metrics-tcp.sock") })).text();
    expect(metrics).toContain('awscni_metrics_scrape_up{service="addr-broker"} 0');
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(existsSync(socket)).toBe(false);
  } finally {
    p.kill("SIGKILL");
  }
});

test("policy-agent starts with upstream's flags, answers addr-broker's enforce on its socket, SIGTERM stops it; an unknown flag stops it, named", async () => {
  const dir = runDir();
  const socket = join(dir, "policy-agent.sock");
  const main = join(import.meta.dir, "../../services/policy-agent/main.ts");
  const bad = Bun.spawn([BUN, main, "--enable-network-polcy=true"], { env: env(dir), stdout: "pipe", stderr: "pipe" });
  expect(await bad.exited).toBe(2);
  expect(await new Response(bad.stderr).text()).toContain("--enable-network-polcy");
  const p = Bun.spawn([BUN, main, "--enable-network-policy=false", "--conntrack-cache-table-size=524288"], { env: env(dir, { NETWORK_POLICY_ENFORCING_MODE: "strict" }), stdout: "pipe", stderr: "pipe" });
  try {
    for (let i = 0; i < 100 && !existsSync(socket); i++) await Bun.sleep(50);
    expect((await fetch("http://localhost/healthz", { unix: socket })).status).toBe(200);
    const enforce = await fetch("http://localhost/v1/pods/enforce", {
      unix: socket,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ podName: "p", podNamespace: "default", mode: "strict", hostVeth: "eni0123456789a", addresses: ["10.0.1.5"] }),
    });
    expect(await enforce.json()).toEqual({ success: true });
    // Recorded for a restart.
    expect(JSON.parse(await Bun.file(join(dir, "policy-agent-pods.json")).text()).pods).toEqual([{ namespace: "default", name: "p", hostVeth: "eni0123456789a", addresses: ["10.0.1.5"] }]);
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(existsSync(socket)).toBe(false);
  } finally {
    p.kill("SIGKILL");
  }
});
