// The project's five pool fixes default on, except under the compat policy, where each is off
// (upstream's behaviour) unless its own variable is set.
import { describe, expect, test } from "bun:test";
import { describeConfig, loadConfig } from "./index.ts";

const pool = (env: Record<string, string>) => loadConfig(env).config.pool;
const fixes = (env: Record<string, string>) => {
  const p = pool(env);
  return { cooling: p.coolingIpsCountAsAvailable, hold: p.holdCoolingIps, verify: p.verifyImdsWithEc2, fallback: p.prefixDelegationFallbackToIps, demand: p.demandAware };
};
const PROJECT = { cooling: false, hold: true, verify: true, fallback: true, demand: true };
const UPSTREAM = { cooling: true, hold: false, verify: false, fallback: false, demand: false };

describe("pool switches follow AWS_VPC_CNI_POOL_POLICY unless set", () => {
  const rows: [string, Record<string, string>, typeof PROJECT][] = [
    ["nothing set: demand policy, the project's fixes", {}, PROJECT],
    ["explicit demand", { AWS_VPC_CNI_POOL_POLICY: "demand" }, PROJECT],
    ["explicit compat: upstream's behaviour for all five", { AWS_VPC_CNI_POOL_POLICY: "compat" }, UPSTREAM],
    // An upstream target alone selects compat, so the switches follow it.
    ["WARM_ENI_TARGET=1 alone (the shipped manifest)", { WARM_ENI_TARGET: "1" }, UPSTREAM],
    // demand policy chosen explicitly beside an upstream target: the fixes stay on.
    ["WARM_IP_TARGET with policy demand", { WARM_IP_TARGET: "5", AWS_VPC_CNI_POOL_POLICY: "demand" }, PROJECT],
    ["compat with each fix asked for explicitly", {
      AWS_VPC_CNI_POOL_POLICY: "compat",
      AWS_VPC_CNI_COOLING_IPS_COUNT_AS_AVAILABLE: "false",
      AWS_VPC_CNI_HOLD_COOLING_IPS: "true",
      AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2: "TRUE",
      AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS: "true",
      AWS_VPC_CNI_DEMAND_AWARE_POOL: "true",
    }, PROJECT],
    ["compat with only the /32 fallback", { AWS_VPC_CNI_POOL_POLICY: "compat", AWS_VPC_CNI_PREFIX_DELEGATION_FALLBACK_TO_IPS: "true" }, { ...UPSTREAM, fallback: true }],
    ["demand with upstream's cooling arithmetic", { AWS_VPC_CNI_COOLING_IPS_COUNT_AS_AVAILABLE: "true" }, { ...PROJECT, cooling: true }],
    ["compat keeping cooling addresses until their cooldown is over", { WARM_IP_TARGET: "3", AWS_VPC_CNI_HOLD_COOLING_IPS: "true" }, { ...UPSTREAM, hold: true }],
    ["demand releasing cooling addresses at once", { AWS_VPC_CNI_HOLD_COOLING_IPS: "false" }, { ...PROJECT, hold: false }],
    // Empty means unset (os.Getenv semantics): the policy decides.
    ["empty switch under compat", { AWS_VPC_CNI_POOL_POLICY: "compat", AWS_VPC_CNI_DEMAND_AWARE_POOL: "" }, UPSTREAM],
  ];
  for (const [name, env, want] of rows) test(name, () => expect(fixes(env)).toEqual(want));

  test("an invalid switch is refused by name, whatever the policy", () => {
    expect(() => loadConfig({ AWS_VPC_CNI_POOL_POLICY: "compat", AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2: "1" })).toThrow(/AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2/);
  });

  test("describeConfig shows the effective value, and feeding it back gives the same pool", () => {
    const c = loadConfig({ WARM_ENI_TARGET: "2" }).config;
    const shown = describeConfig(c);
    expect(shown.AWS_VPC_CNI_DEMAND_AWARE_POOL).toBe("false");
    expect(shown.AWS_VPC_CNI_VERIFY_IMDS_WITH_EC2).toBe("false");
    expect(loadConfig(shown).config.pool).toEqual(c.pool);
  });
});
