// Every variable: its default, a valid value, and an invalid value that is reported by name.
import { describe, expect, test } from "bun:test";
import { ConfigError, ENV_NAMES, loadConfig, type EnvName } from "./index.ts";
import { TABLE, type Row } from "./variables.test-support.ts";

function problemsOf(env: Record<string, string>): { name: string; value: string | undefined; accepted: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe("INVALID_CONFIG");
    return (error as ConfigError).problems;
  }
  return [];
}

test("the table covers every variable of the schema, and only those", () => {
  expect(Object.keys(TABLE).sort()).toEqual([...ENV_NAMES].sort());
});

describe.each(Object.entries(TABLE) as [EnvName, Row][])("%s", (name, row) => {
  test("default", () => {
    expect(row.get(loadConfig({}).config)).toEqual(row.default);
    expect(row.get(loadConfig({ [name]: "" }).config)).toEqual(name === "AWS_VPC_K8S_PLUGIN_LOG_FILE" ? "stderr" : row.default);
  });

  test.each(row.valid)("valid %p", (raw, expected) => {
    expect(row.get(loadConfig({ [name]: raw }).config)).toEqual(expected);
  });

  if (Array.isArray(row.invalid)) {
    test.each(row.invalid)("invalid %p is reported by name with what is accepted", (raw) => {
      const problems = problemsOf({ [name]: raw });
      expect(problems.map((p) => p.name)).toEqual([name]);
      expect(problems[0]?.value).toBe(raw);
      expect(problems[0]?.accepted.length).toBeGreaterThan(5);
    });
  } else {
    test(`has no invalid value: ${row.invalid.none}`, () => {
      expect(problemsOf({ [name]: "not-a-cidr,also bad" })).toEqual([]);
    });
  }
});

test("KUBERNETES_SERVICE_PORT is used with KUBERNETES_SERVICE_HOST; CLUSTER_ENDPOINT overrides both", () => {
  const env = { KUBERNETES_SERVICE_HOST: "10.100.0.1", KUBERNETES_SERVICE_PORT: "6443" };
  expect(loadConfig(env).config.kubernetes.apiServer).toBe("https://10.100.0.1:6443");
  const withEndpoint = { ...env, CLUSTER_ENDPOINT: "https://api.example.com" };
  expect(loadConfig(withEndpoint).config.kubernetes.apiServer).toBe("https://api.example.com");
});

test("the checkpoint and sockets follow the run dir unless the backing store is given", () => {
  const { config } = loadConfig({ AWS_VPC_CNI_RUN_DIR: "/tmp/x" });
  expect(config.checkpoint.path).toBe("/tmp/x/ipam.json");
  expect(config.sockets).toEqual({
    addrBroker: "/tmp/x/addr-broker.sock",
    poolManager: "/tmp/x/pool-manager.sock",
    netConfig: "/tmp/x/net-config.sock",
    metrics: "/tmp/x/metrics.sock",
    policyAgent: "/tmp/x/policy-agent.sock",
  });
});

test("the EC2 buckets mirror AWS's at scale 1 and scale with the factor", () => {
  expect(loadConfig({}).config.ec2.rateLimit.buckets.addressesAndEnis).toEqual({ capacity: 100, refillPerSecond: 5 });
  expect(loadConfig({}).config.ec2.rateLimit.buckets.describe).toEqual({ capacity: 100, refillPerSecond: 20 });
  const half = loadConfig({ AWS_VPC_CNI_EC2_RATE_LIMIT_SCALE: "0.5" }).config.ec2.rateLimit.buckets;
  expect(half.mutating).toEqual({ capacity: 25, refillPerSecond: 2.5 });
});

test("every problem is reported at once, in one error", () => {
  const problems = problemsOf({ WARM_IP_TARGET: "x", AWS_VPC_K8S_CNI_VETHPREFIX: "eth", AWS_VPC_ENI_MTU: "1", ENABLE_POD_ENI: "yes" });
  expect(problems.map((p) => p.name).sort()).toEqual(["AWS_VPC_ENI_MTU", "AWS_VPC_K8S_CNI_VETHPREFIX", "ENABLE_POD_ENI", "WARM_IP_TARGET"]);
});

test("variables outside the schema are ignored", () => {
  expect(problemsOf({ PATH: "/bin", HOME: "nowhere", ENABLE_FOO: "maybe" })).toEqual([]);
});
