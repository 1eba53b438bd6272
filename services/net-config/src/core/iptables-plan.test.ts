import { describe, expect, test } from "bun:test";
import { isOwnRule, parseSave, planIptables } from "./iptables-plan.ts";
import { snatLayout } from "./snat-rules.ts";
import { DEFAULT_SETTINGS } from "./settings.ts";

const input = { vpcCidrs: ["10.0.0.0/16"], primaryIp: "10.0.0.5", primaryIf: "eth0", randomFullySupported: true };
const foreign = `*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-POSTROUTING - [0:0]
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
COMMIT
`;

/** What iptables-save would show after the plan's restore (enough of it for these tests). */
function applied(layoutSettings = DEFAULT_SETTINGS): string {
  const l = snatLayout(layoutSettings, input);
  const lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]", ":KUBE-POSTROUTING - [0:0]"];
  for (const c of Object.keys(l.chains.nat)) lines.push(`:${c} - [0:0]`);
  lines.push('-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
  for (const [chain, rules] of [...Object.entries(l.builtin.nat), ...Object.entries(l.chains.nat)]) for (const r of rules) lines.push(`-A ${chain} ${r}`);
  lines.push("COMMIT", "*mangle", ":PREROUTING ACCEPT [0:0]");
  for (const r of l.builtin.mangle.PREROUTING ?? []) lines.push(`-A PREROUTING ${r}`);
  lines.push("COMMIT");
  return lines.join("\n");
}

describe("planIptables", () => {
  test("from scratch: own chains declared and filled, jumps appended, others' rules untouched", () => {
    const plan = planIptables(snatLayout(DEFAULT_SETTINGS, input), parseSave(foreign));
    expect(plan.restore).toContain(":AWS-SNAT-CHAIN-0 - [0:0]");
    expect(plan.restore).toContain('-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0');
    expect(plan.restore).not.toContain("KUBE-POSTROUTING");
    expect(plan.restore).toContain("*mangle");
  });

  test("nothing to do when the kernel already matches", () => {
    expect(planIptables(snatLayout(DEFAULT_SETTINGS, input), parseSave(applied()))).toEqual({ restore: "", changes: [] });
  });

  test("EXTERNALSNAT: own jumps deleted by their exact text, own chains removed, mangle restore kept for node ports", () => {
    const plan = planIptables(snatLayout({ ...DEFAULT_SETTINGS, externalSnat: true }, input), parseSave(applied()));
    expect(plan.restore).toContain('-D POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0');
    expect(plan.restore).toContain("-X AWS-SNAT-CHAIN-0");
    expect(plan.restore).toContain("-X AWS-CONNMARK-CHAIN-0");
    expect(plan.restore).not.toContain("*mangle");
    expect(plan.restore.indexOf("-D POSTROUTING")).toBeLessThan(plan.restore.indexOf("-X AWS-SNAT-CHAIN-0"));
  });

  test("a changed VPC CIDR refills only the chains that differ", () => {
    const plan = planIptables(snatLayout(DEFAULT_SETTINGS, { ...input, vpcCidrs: ["10.0.0.0/16", "10.1.0.0/16"] }), parseSave(applied()));
    expect(plan.changes).toEqual(["nat/AWS-SNAT-CHAIN-0 refilled", "nat/AWS-CONNMARK-CHAIN-0 refilled"]);
  });

  test("prng falls back to --random without --random-fully support", () => {
    const l = snatLayout(DEFAULT_SETTINGS, { ...input, randomFullySupported: false });
    expect(l.chains.nat["AWS-SNAT-CHAIN-0"]?.at(-1)).toEndWith("--to-source 10.0.0.5 --random");
  });

  test.each([
    ['-m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0', true],
    ["-j AWS-SNAT-CHAIN-3", true],
    ['-i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0', true],
    ['-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING', false],
    ["-j MASQUERADE", false],
  ])("isOwnRule(%s) = %p", (rule, own) => {
    expect(isOwnRule(rule)).toBe(own);
  });
});
