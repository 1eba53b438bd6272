// Cross-field rules. They run over whatever fields parsed, so one invalid field does not
// hide another problem: every offending variable is reported at once.
import type { EnvName, ParsedEnv } from "./schema.ts";

export interface RuleIssue {
  name: EnvName;
  accepted: string;
}

export const MTU_RANGE = { ipv4: { min: 576, max: 9001 }, ipv6: { min: 1280, max: 9001 } } as const;

export function crossFieldIssues(parsed: Partial<ParsedEnv>): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const v4 = parsed.ENABLE_IPv4;
  const v6 = parsed.ENABLE_IPv6;

  if (v4 === true && v6 === true) {
    issues.push({
      name: "ENABLE_IPv6",
      accepted: "false while ENABLE_IPv4=true: dual stack is not supported (for IPv6 mode set ENABLE_IPv4=false)",
    });
  }
  if (v4 === false && v6 === false) {
    issues.push({
      name: "ENABLE_IPv4",
      accepted: "true unless ENABLE_IPv6=true: one IP family must be enabled",
    });
  }
  if (v6 === true && parsed.ENABLE_PREFIX_DELEGATION === false) {
    issues.push({
      name: "ENABLE_PREFIX_DELEGATION",
      accepted: "true when ENABLE_IPv6=true: IPv6 mode works only with prefix delegation",
    });
  }

  // Cards above 0 get IPv4 secondary addresses only, from EC2 (card-pools.ts): refused where that would not hold.
  if (parsed.ENABLE_MULTI_NIC === true && v6 === true) {
    issues.push({ name: "ENABLE_MULTI_NIC", accepted: "false when ENABLE_IPv6=true: network cards above 0 are managed for IPv4 only (upstream gives them IPv6 prefixes too)" });
  }
  if (parsed.ENABLE_MULTI_NIC === true && parsed.ENABLE_IMDS_ONLY_MODE === true) {
    issues.push({ name: "ENABLE_MULTI_NIC", accepted: "false when ENABLE_IMDS_ONLY_MODE=true: network cards above 0 get their ENI and addresses from EC2" });
  }

  // The family decides the range; when it is unknown (its variable is invalid) check the widest.
  const family = v6 === true && v4 !== true ? "ipv6" : v6 === undefined ? "unknown" : "ipv4";
  const range = family === "ipv6" ? MTU_RANGE.ipv6 : MTU_RANGE.ipv4;
  const label = family === "ipv6" ? "IPv6" : "IPv4";
  for (const name of ["AWS_VPC_ENI_MTU", "POD_MTU"] as const) {
    const mtu = parsed[name];
    if (mtu !== undefined && (mtu < range.min || mtu > range.max)) {
      issues.push({ name, accepted: `an integer from ${range.min} to ${range.max} in ${label} mode` });
    }
  }
  return issues;
}
