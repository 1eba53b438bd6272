// Warnings: what upstream skips or ignores, said out loud instead of silently.
import { expect, test } from "bun:test";
import { loadConfig } from "./index.ts";

test.each([
  // [case, env, expected warnings (substrings, in order)]
  ["no warnings by default", {}, []],
  ["an invalid SNAT exclusion is skipped", { AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: "10.0.0.0/8,bogus,10.0.0.0/33,1.2.3/24" },
    ['AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: skipped "bogus"', 'skipped "10.0.0.0/33"', 'skipped "1.2.3/24"']],
  ["an IPv6 CIDR is not an IPv4 CIDR", { AWS_EXTERNAL_SERVICE_CIDRS: "fd00::/8,52.94.0.0/16" },
    ['AWS_EXTERNAL_SERVICE_CIDRS: skipped "fd00::/8"']],
  ["a reserved tag key is dropped", { ADDITIONAL_ENI_TAGS: '{"cluster.k8s.amazonaws.com/name":"x","team":"a"}' },
    ['ADDITIONAL_ENI_TAGS: dropped tag "cluster.k8s.amazonaws.com/name"']],
  ["a negative WARM_IP_TARGET means unset", { WARM_IP_TARGET: "-1" }, ["WARM_IP_TARGET=-1: a negative value means unset"]],
  ["a negative WARM_ENI_TARGET means 1", { WARM_ENI_TARGET: "-1" }, ["WARM_ENI_TARGET=-1: a negative value means the default, 1"]],
  ["MINIMUM_IP_TARGET without WARM_IP_TARGET", { MINIMUM_IP_TARGET: "10" }, ["MINIMUM_IP_TARGET is set without WARM_IP_TARGET"]],
  ["MINIMUM_IP_TARGET with WARM_IP_TARGET", { MINIMUM_IP_TARGET: "10", WARM_IP_TARGET: "2" }, []],
  ["the deprecated rp_filter switch", { AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER: "false" }, ["AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER is deprecated"]],
  ["the deprecated nftables switch", { ENABLE_NFTABLES: "true" }, ["ENABLE_NFTABLES is deprecated"]],
  ["a cooldown of zero", { IP_COOLDOWN_PERIOD: "0" }, ["IP_COOLDOWN_PERIOD=0"]],
  ["exclusions under external SNAT", { AWS_VPC_K8S_CNI_EXTERNALSNAT: "true", AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: "10.0.0.0/8" },
    ["AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS has no effect"]],
] as [string, Record<string, string>, string[]][])("%s", (_case, env, expected) => {
  const { warnings } = loadConfig(env);
  expect(warnings.length).toBe(expected.length);
  expected.forEach((fragment, i) => expect(warnings[i]).toContain(fragment));
});

test("skipped CIDRs are left out and valid ones kept, normalised", () => {
  const { config } = loadConfig({ AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: "10.1.2.3/8,bogus,,192.168.1.0/24" });
  expect(config.snat.excludeCidrs).toEqual(["10.0.0.0/8", "192.168.1.0/24"]);
});

test("dropped tags are left out, the rest kept", () => {
  const { config } = loadConfig({ ADDITIONAL_ENI_TAGS: '{"x.k8s.amazonaws.com":"1","team":"a"}' });
  expect(config.eni.additionalTags).toEqual({ team: "a" });
});

test.each([
  // [case, env, policy, warnings (substrings, in order)]
  // Nothing set: the demand policy.
  ["unset, no upstream target", {}, "demand", []],
  // Any upstream target set: upstream's semantics, drop-in.
  ["WARM_ENI_TARGET set", { WARM_ENI_TARGET: "1" }, "compat", []],
  ["WARM_IP_TARGET set", { WARM_IP_TARGET: "5" }, "compat", []],
  ["MINIMUM_IP_TARGET set", { MINIMUM_IP_TARGET: "10", WARM_IP_TARGET: "2" }, "compat", []],
  ["WARM_PREFIX_TARGET set", { WARM_PREFIX_TARGET: "1" }, "compat", []],
  // Empty means unset, as upstream reads os.Getenv.
  ["an empty target is unset", { WARM_ENI_TARGET: " " }, "demand", []],
  // Explicit wins; the targets demand cannot honour are named.
  ["demand with WARM_ENI_TARGET", { AWS_VPC_CNI_POOL_POLICY: "demand", WARM_ENI_TARGET: "2" }, "demand", ["WARM_ENI_TARGET is ignored with AWS_VPC_CNI_POOL_POLICY=demand"]],
  ["demand with WARM_PREFIX_TARGET", { AWS_VPC_CNI_POOL_POLICY: "DEMAND", WARM_PREFIX_TARGET: "1" }, "demand", ["WARM_PREFIX_TARGET is ignored"]],
  ["demand with WARM_IP_TARGET as a floor", { AWS_VPC_CNI_POOL_POLICY: "demand", WARM_IP_TARGET: "3" }, "demand", []],
  ["compat explicitly", { AWS_VPC_CNI_POOL_POLICY: "compat" }, "compat", []],
] as [string, Record<string, string>, string, string[]][])("pool policy: %s", (_case, env, policy, expected) => {
  const { config, warnings } = loadConfig(env);
  expect(config.pool.policy).toBe(policy as "compat" | "demand");
  expect(warnings.length).toBe(expected.length);
  expected.forEach((fragment, i) => expect(warnings[i]).toContain(fragment));
});
