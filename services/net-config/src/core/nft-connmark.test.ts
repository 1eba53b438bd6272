import { describe, expect, test } from "bun:test";
import { BASE_HEADER, listedRules, parseNftTable, planNftConnmark, type NftConnmarkWant } from "./nft-connmark.ts";

const want: NftConnmarkWant = { vethPrefix: "eni", mark: 0x80, exemptCidrs: ["10.0.0.0/16", "192.168.1.7/32", "172.16.0.0/12"] };

/** What `nft list table ip aws-cni` prints for the wanted table, with counters. */
function listing(base: string[], mark: string[], header = BASE_HEADER): string {
  const c = (r: string) => r.replace(/(^|\s)counter/, "$1counter packets 4 bytes 336");
  return ["table ip aws-cni {", "\tchain nat-prerouting {", `\t\t${header}`, ...base.map((r) => `\t\t${c(r)}`), "\t}", "", "\tchain snat-mark {", ...mark.map((r) => `\t\t${c(r)}`), "\t}", "}", ""].join("\n");
}

describe("nft connmark plan", () => {
  const wanted = listedRules(want);

  test("the listed form: /32 without a length, the mark as nft prints it", () => {
    expect(wanted.base).toEqual(["fib daddr type local return", 'iifname "eni*" counter jump snat-mark', "counter meta mark set ct mark & 0x00000080"]);
    expect(wanted.mark).toEqual(["counter ip daddr 10.0.0.0/16 return", "counter ip daddr 192.168.1.7 return", "counter ip daddr 172.16.0.0/12 return", "counter ct mark set ct mark | 0x00000080"]);
  });

  test("no table: table, both chains, every rule, CIDRs written with an explicit mask", () => {
    const p = planNftConnmark(want, undefined);
    expect(p.changes).toEqual(["nft table aws-cni created"]);
    expect(p.script).toContain("add chain ip aws-cni nat-prerouting { type nat hook prerouting priority -90; policy accept; }");
    expect(p.script).toContain("add rule ip aws-cni snat-mark counter ip daddr & 255.255.0.0 == 10.0.0.0 return");
    expect(p.script).toContain("add rule ip aws-cni snat-mark counter ip daddr & 255.255.255.255 == 192.168.1.7 return");
    expect(p.script.trim().split("\n").at(-1)).toBe("add rule ip aws-cni nat-prerouting counter meta mark set ct mark and 0x00000080");
  });

  test("the wanted table with counters, CIDRs in another order: nothing to do", () => {
    const seen = parseNftTable(listing(wanted.base, [wanted.mark[2]!, wanted.mark[0]!, wanted.mark[1]!, wanted.mark[3]!]));
    expect(planNftConnmark(want, seen)).toEqual({ script: "", changes: [] });
  });

  const rows: Array<[string, string, string[]]> = [
    // [what was changed by hand, listing, changes]
    ["a CIDR removed", listing(wanted.base, wanted.mark.slice(1)), ["nft chain snat-mark refilled"]],
    ["a rule added after the set-mark", listing(wanted.base, [...wanted.mark, "counter ip daddr 8.8.8.8 return"]), ["nft chain snat-mark refilled"]],
    ["base rules out of order", listing([wanted.base[1]!, wanted.base[0]!, wanted.base[2]!], wanted.mark), ["nft chain nat-prerouting refilled"]],
    ["the restore rule with another mask", listing([...wanted.base.slice(0, 2), "counter meta mark set ct mark & 0x00004000"], wanted.mark), ["nft chain nat-prerouting refilled"]],
    ["another priority", listing(wanted.base, wanted.mark, "type nat hook prerouting priority dstnat; policy accept;"), ["nft chain nat-prerouting re-created (was: type nat hook prerouting priority dstnat; policy accept;)"]],
  ];
  for (const [name, text, changes] of rows) {
    test(`repairs: ${name}`, () => {
      const p = planNftConnmark(want, parseNftTable(text));
      expect(p.changes).toEqual(changes);
      expect(p.script).not.toBe("");
    });
  }

  test("a changed priority deletes the chain before adding it again", () => {
    const p = planNftConnmark(want, parseNftTable(listing(wanted.base, wanted.mark, "type filter hook prerouting priority -90; policy accept;")));
    const lines = p.script.split("\n");
    expect(lines.indexOf("delete chain ip aws-cni nat-prerouting")).toBeLessThan(lines.findIndex((l) => l.startsWith("add chain ip aws-cni nat-prerouting")));
  });

  test("duplicate and non-canonical CIDRs collapse to one rule each", () => {
    const r = listedRules({ ...want, exemptCidrs: ["10.0.0.0/16", "10.0.5.5/16", "10.0.0.0/16"] });
    expect(r.mark).toEqual(["counter ip daddr 10.0.0.0/16 return", "counter ct mark set ct mark | 0x00000080"]);
  });

  const bad: Array<[string, NftConnmarkWant, string]> = [
    ["no CIDR", { ...want, exemptCidrs: [] }, "exemptCidrs"],
    ["an IPv6 CIDR", { ...want, exemptCidrs: ["fd00::/8"] }, "exemptCidrs.0"],
    ["not a CIDR", { ...want, exemptCidrs: ["10.0.0.0/16", "10.0.0.0/33"] }, "exemptCidrs.1"],
    ["a veth prefix with a quote", { ...want, vethPrefix: 'e"' }, "vethPrefix"],
    ["mark 0", { ...want, mark: 0 }, "connmark"],
  ];
  for (const [name, w, field] of bad) {
    test(`refused: ${name}, naming ${field}`, () => {
      expect(() => planNftConnmark(w, undefined)).toThrow(expect.objectContaining({ field }));
    });
  }
});
