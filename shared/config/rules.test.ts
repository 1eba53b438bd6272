// Cross-field rules: IP family, prefix delegation for IPv6, MTU ranges per family, POD_MTU default.
import { expect, test } from "bun:test";
import { ConfigError, loadConfig } from "./index.ts";

function problemNames(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => p.name);
  }
}

const IPV6 = { ENABLE_IPv4: "false", ENABLE_IPv6: "true", ENABLE_PREFIX_DELEGATION: "true" };

test.each([
  // [case, env, offending variables ([] = valid)]
  ["IPv4 by default", {}, []],
  ["IPv6 with prefix delegation", IPV6, []],
  ["both families enabled", { ENABLE_IPv6: "true", ENABLE_PREFIX_DELEGATION: "true" }, ["ENABLE_IPv6"]],
  ["no family enabled", { ENABLE_IPv4: "false" }, ["ENABLE_IPv4"]],
  ["IPv6 without prefix delegation", { ENABLE_IPv4: "false", ENABLE_IPv6: "true" }, ["ENABLE_PREFIX_DELEGATION"]],
  ["IPv6 with prefix delegation false", { ...IPV6, ENABLE_PREFIX_DELEGATION: "false" }, ["ENABLE_PREFIX_DELEGATION"]],
  // both families on AND no prefix delegation: both rules are reported
  ["both families, no prefix delegation", { ENABLE_IPv6: "true" }, ["ENABLE_IPv6", "ENABLE_PREFIX_DELEGATION"]],
  ["IPv4 MTU at the lower bound", { AWS_VPC_ENI_MTU: "576" }, []],
  ["IPv4 MTU below the lower bound", { AWS_VPC_ENI_MTU: "575" }, ["AWS_VPC_ENI_MTU"]],
  ["IPv4 MTU above 9001", { AWS_VPC_ENI_MTU: "9002" }, ["AWS_VPC_ENI_MTU"]],
  ["IPv6 MTU at its lower bound", { ...IPV6, AWS_VPC_ENI_MTU: "1280" }, []],
  ["IPv6 MTU valid for IPv4 only", { ...IPV6, AWS_VPC_ENI_MTU: "1279" }, ["AWS_VPC_ENI_MTU"]],
  ["IPv6 pod MTU valid for IPv4 only", { ...IPV6, POD_MTU: "576" }, ["POD_MTU"]],
  ["IPv4 pod MTU below the lower bound", { POD_MTU: "500" }, ["POD_MTU"]],
  ["both MTUs out of range", { AWS_VPC_ENI_MTU: "10000", POD_MTU: "1" }, ["AWS_VPC_ENI_MTU", "POD_MTU"]],
  // a broken family variable does not hide an MTU problem (checked against the widest range)
  ["invalid family and invalid MTU", { ENABLE_IPv6: "yes", AWS_VPC_ENI_MTU: "100" }, ["ENABLE_IPv6", "AWS_VPC_ENI_MTU"]],
  ["multi-NIC in IPv4 mode", { ENABLE_MULTI_NIC: "true" }, []],
  ["multi-NIC in IPv6 mode (cards above 0 are IPv4 only)", { ...IPV6, ENABLE_MULTI_NIC: "true" }, ["ENABLE_MULTI_NIC"]],
  ["multi-NIC with IMDS-only mode (card ENIs come from EC2)", { ENABLE_MULTI_NIC: "true", ENABLE_IMDS_ONLY_MODE: "true" }, ["ENABLE_MULTI_NIC"]],
  // a broken field does not hide a cross-field problem
  ["invalid field and a broken rule", { WARM_IP_TARGET: "x", ENABLE_IPv4: "false" }, ["WARM_IP_TARGET", "ENABLE_IPv4"]],
] as [string, Record<string, string>, string[]][])("%s", (_case, env, offending) => {
  expect(problemNames(env).sort()).toEqual([...offending].sort());
});

test("the rule's message says what is accepted and names the other variable", () => {
  try {
    loadConfig({ ENABLE_IPv4: "false", ENABLE_IPv6: "true" });
    throw new Error("expected a ConfigError");
  } catch (error) {
    const problem = (error as ConfigError).problems[0];
    expect(problem?.name).toBe("ENABLE_PREFIX_DELEGATION");
    expect(problem?.value).toBeUndefined();
    expect(problem?.accepted).toContain("ENABLE_IPv6=true");
    expect((error as ConfigError).message).toContain("invalid configuration: ENABLE_PREFIX_DELEGATION=(unset): true when");
  }
});

test("IPv6 mode sets the family", () => {
  const { config } = loadConfig(IPV6);
  expect(config.ipFamily).toBe("ipv6");
  expect(loadConfig({}).config.ipFamily).toBe("ipv4");
});

test.each([
  [{}, 9001, 9001],
  [{ AWS_VPC_ENI_MTU: "1500" }, 1500, 1500],
  [{ AWS_VPC_ENI_MTU: "1500", POD_MTU: "1400" }, 1500, 1400],
  [{ POD_MTU: "8000" }, 9001, 8000],
] as [Record<string, string>, number, number][])("POD_MTU defaults to AWS_VPC_ENI_MTU: %p", (env, eniMtu, podMtu) => {
  const { config } = loadConfig(env);
  expect(config.network.eniMtu).toBe(eniMtu);
  expect(config.network.podMtu).toBe(podMtu);
});
