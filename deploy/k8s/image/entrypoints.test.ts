import { describe, expect, test } from "bun:test";
import { SERVICE_RUNTIME_ENV } from "../../../services/runtime-env.ts";
import { renderEntrypoints } from "./entrypoints.ts";

async function sh(script: string, args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn(["/bin/sh", "-c", script, "entrypoint", ...args], { env: { PATH: "/usr/bin:/bin", ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

/** The script with its exec replaced by printing what it would run and with which variables. */
function dryRun(script: string): string {
  return script.replace(/^exec (.*)$/m, 'printf "%s\\n" $1; env | grep -E "^(BUN_|MIMALLOC_)" | sort');
}

describe("the image's entry points", () => {
  const scripts = renderEntrypoints(SERVICE_RUNTIME_ENV);

  test("four POSIX shell scripts", () => {
    expect(Object.keys(scripts).sort()).toEqual(["bun", "install-cni", "policy-controller", "probe", "service"]);
    for (const text of Object.values(scripts)) expect(text.startsWith("#!/bin/sh\n")).toBe(true);
  });

  test("service refuses an unknown name before running anything", async () => {
    const r = await sh(scripts.service!, ["ipamd"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("usage: service <pool-manager|addr-broker|net-config|metrics|policy-agent> (got: ipamd)\n");
    expect((await sh(scripts.service!, [])).code).toBe(2);
  });

  test("service runs the bundle as Bun with the runtime env, the pod's own values winning", async () => {
    const r = await sh(dryRun(scripts.service!), ["addr-broker", "--x"], { BUN_JSC_useDFGJIT: "1" });
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      "/app/bin/aws-cni",
      "/app/services/addr-broker/main.js",
      "--x",
      "BUN_BE_BUN=1",
      "BUN_JSC_thresholdForJITAfterWarmUp=20000",
      "BUN_JSC_thresholdForJITSoon=20000",
      "BUN_JSC_useDFGJIT=1",
      "MIMALLOC_PURGE_DELAY=0",
      "",
    ]);
  });

  test("probe passes the run dir from AWS_VPC_CNI_RUN_DIR, else /var/run/aws-node", async () => {
    const set = await sh(dryRun(scripts.probe!), ["metrics", "live"], { AWS_VPC_CNI_RUN_DIR: "/run/x" });
    expect(set.stdout.split("\n").slice(0, 5)).toEqual(["/app/bin/aws-cni", "/app/lib/probe.js", "metrics", "live", "/run/x"]);
    const unset = await sh(dryRun(scripts.probe!), ["metrics", "live"], { AWS_VPC_CNI_RUN_DIR: "" });
    expect(unset.stdout.split("\n")[4]).toBe("/var/run/aws-node");
  });

  test("a variable a shell would interpret is refused, not written", () => {
    expect(() => renderEntrypoints({ X: "$(reboot)" })).toThrow(/ENTRYPOINT_BAD_ENV: X=/);
    expect(() => renderEntrypoints({ "X;Y": "1" })).toThrow(/ENTRYPOINT_BAD_ENV: variable name/);
  });
});
