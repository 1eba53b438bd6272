import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { podSettingsEnv, PodSettingsError } from "./pod-settings.ts";

const dir = mkdtempSync(join(tmpdir(), "pod-settings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the aws-node pod's settings, written once", () => {
  test("the aws-node container publishes its environment (not its process-local variables) and uses it unchanged", () => {
    const file = join(dir, "a", "settings.json");
    const env = { AWS_VPC_CNI_PUBLISH_SETTINGS: file, WARM_IP_TARGET: "5", MY_NODE_NAME: "n1", PATH: "/bin", HOME: "/root" };
    expect(podSettingsEnv(env)).toBe(env);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ version: 1, env: { WARM_IP_TARGET: "5", MY_NODE_NAME: "n1" } });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test("another container starts from the published settings with its own variables on top", () => {
    const file = join(dir, "b.json");
    podSettingsEnv({ AWS_VPC_CNI_PUBLISH_SETTINGS: file, WARM_IP_TARGET: "5", AWS_VPC_K8S_CNI_LOG_FILE: "/host/var/log/aws-routed-eni/ipamd.log" });
    const env = podSettingsEnv({ AWS_VPC_CNI_SETTINGS_FROM: file, AWS_VPC_K8S_CNI_LOG_FILE: "/host/var/log/aws-routed-eni/net-config.log", PATH: "/usr/bin" });
    expect(env).toEqual({ WARM_IP_TARGET: "5", AWS_VPC_K8S_CNI_LOG_FILE: "/host/var/log/aws-routed-eni/net-config.log", PATH: "/usr/bin" });
  });

  test("a consumer waits for the file, then takes it", () => {
    const file = join(dir, "late.json");
    let slept = 0;
    const env = podSettingsEnv({ AWS_VPC_CNI_SETTINGS_FROM: file }, {
      pollMs: 100,
      sleep: () => {
        if (++slept === 3) writeFileSync(file, JSON.stringify({ version: 1, env: { ENABLE_IPv6: "false" } }));
      },
    });
    expect(slept).toBe(3);
    expect(env).toEqual({ ENABLE_IPv6: "false" });
  });

  test("errors name the variable: a file that never comes, a corrupt file, a relative path, both set", () => {
    const never = join(dir, "never.json");
    expect(() => podSettingsEnv({ AWS_VPC_CNI_SETTINGS_FROM: never }, { waitMs: 300, pollMs: 100, sleep: () => {} })).toThrow(`AWS_VPC_CNI_SETTINGS_FROM: ${never} did not appear within 0 s`);
    const corrupt = join(dir, "corrupt.json");
    writeFileSync(corrupt, "{not json");
    expect(() => podSettingsEnv({ AWS_VPC_CNI_SETTINGS_FROM: corrupt })).toThrow(PodSettingsError);
    writeFileSync(corrupt, JSON.stringify({ version: 1, env: { A: 1 } }));
    expect(() => podSettingsEnv({ AWS_VPC_CNI_SETTINGS_FROM: corrupt })).toThrow('has no "env" object of strings');
    expect(() => podSettingsEnv({ AWS_VPC_CNI_PUBLISH_SETTINGS: "settings.json" })).toThrow("AWS_VPC_CNI_PUBLISH_SETTINGS");
    expect(() => podSettingsEnv({ AWS_VPC_CNI_PUBLISH_SETTINGS: "/a", AWS_VPC_CNI_SETTINGS_FROM: "/b" })).toThrow("either publishes");
  });

  test("neither variable: the environment as it is", () => {
    const env = { WARM_IP_TARGET: "1" };
    expect(podSettingsEnv(env)).toBe(env);
  });
});
