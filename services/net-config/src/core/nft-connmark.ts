/**
 * The connmark rules as upstream (v1.23.1) programs them on a node whose iptables is the
 * nf_tables one: a table `ip aws-cni` of its own instead of AWS-CONNMARK-CHAIN-0 in the nat
 * table, so kube-proxy in nftables mode and these rules do not share a table.
 *
 *   table ip aws-cni {
 *     chain nat-prerouting {            # after kube-proxy's DNAT (dstnat = -100): sees pod IPs
 *       type nat hook prerouting priority -90; policy accept;
 *       fib daddr type local return
 *       iifname "eni*" counter jump snat-mark
 *       counter meta mark set ct mark & 0x80
 *     }
 *     chain snat-mark {
 *       counter ip daddr <each VPC / excluded CIDR> return
 *       counter ct mark set ct mark | 0x80
 *     }
 *   }
 *
 * Pure: the wanted rules as `nft list` prints them (to recognise them when read back) and as
 * `nft -f` input (to write them), and the plan from what the kernel shows to an nft
 * transaction that converges. CIDR matches are written as `ip daddr & <mask> == <net>` so
 * the kernel holds upstream's bytecode (4-byte load, bitwise mask, compare) for every length.
 */
import { parseCidr } from "../../../../shared/ip.ts";
import { checkCidr, checkVethPrefix } from "./validation.ts";
import { invalid } from "./errors.ts";

export const NFT_TABLE = "aws-cni";
export const NFT_BASE_CHAIN = "nat-prerouting";
export const NFT_MARK_CHAIN = "snat-mark";
/** dstnat (-100) + 10: after kube-proxy's DNAT. */
export const NFT_BASE_PRIORITY = -90;

export interface NftConnmarkWant {
  vethPrefix: string;
  mark: number;
  /** VPC CIDRs then AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS (IPv4 only), as upstream passes them. */
  exemptCidrs: string[];
}

/** What `nft list table ip aws-cni` shows, counters stripped; undefined chain = absent. */
export interface NftTableSeen {
  chains: Record<string, { header?: string; rules: string[] }>;
}

const hex8 = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

export function checkWant(w: NftConnmarkWant): NftConnmarkWant {
  checkVethPrefix(w.vethPrefix);
  if (!Number.isInteger(w.mark) || w.mark < 1 || w.mark > 0xffffffff) throw invalid("connmark", `${w.mark} must be 1..0xffffffff`);
  if (w.exemptCidrs.length === 0) throw invalid("exemptCidrs", "must not be empty");
  w.exemptCidrs.forEach((c, i) => {
    checkCidr(c, `exemptCidrs.${i}`);
    if (c.includes(":")) throw invalid(`exemptCidrs.${i}`, `${c} is not IPv4`);
  });
  return w;
}

/** The network address and dotted mask of an IPv4 CIDR (host bits cleared, as net.ParseCIDR does). */
function v4Parts(cidr: string): { net: string; mask: string; len: number } {
  const p = parseCidr(cidr, false);
  if (!p || p.family !== 4) throw invalid("exemptCidrs", `${cidr} is not an IPv4 CIDR`);
  const len = p.prefix;
  const maskN = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const dotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join(".");
  return { net: dotted(Number(p.base)), mask: dotted(maskN), len };
}

/** Exempt CIDRs once each, in the order given (upstream keys them by their text). */
function uniqueCidrs(w: NftConnmarkWant): string[] {
  return [...new Set(w.exemptCidrs.map((c) => v4Parts(c)).map((p) => `${p.net}/${p.len}`))];
}

export const BASE_HEADER = "type nat hook prerouting priority dstnat + 10; policy accept;";

/** The rules as `nft list` prints them, counters stripped. */
export function listedRules(w: NftConnmarkWant): { base: string[]; mark: string[] } {
  return {
    base: ["fib daddr type local return", `iifname "${w.vethPrefix}*" counter jump ${NFT_MARK_CHAIN}`, `counter meta mark set ct mark & ${hex8(w.mark)}`],
    mark: [
      ...uniqueCidrs(w).map((c) => {
        const [net, len] = c.split("/");
        return `counter ip daddr ${len === "32" ? net : c} return`;
      }),
      `counter ct mark set ct mark | ${hex8(w.mark)}`,
    ],
  };
}

/** Parses `nft list table ip aws-cni` output. */
export function parseNftTable(text: string): NftTableSeen {
  const seen: NftTableSeen = { chains: {} };
  let chain: { header?: string; rules: string[] } | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim().replace(/\s+/g, " ");
    const open = /^chain (\S+) \{$/.exec(line);
    if (open) {
      chain = { rules: [] };
      seen.chains[open[1]!] = chain;
    } else if (line === "}") chain = undefined;
    else if (chain && line.startsWith("type ")) chain.header = line;
    else if (chain && line) chain.rules.push(line.replace(/ ?counter packets \d+ bytes \d+/, (m) => (m.startsWith(" ") ? " counter" : "counter")));
  }
  return seen;
}

export interface NftPlan {
  /** nft -f input; "" when the kernel already holds the wanted table. */
  script: string;
  changes: string[];
}

/**
 * The transaction that converges: the table and both chains added (idempotent), a base chain
 * of another type/hook/priority/policy deleted first, a chain whose rules differ flushed and
 * refilled. snat-mark's CIDR rules may be in any order (upstream inserts them in map order);
 * its set-mark rule must be last. Other chains in the table are left alone, as upstream does.
 */
export function planNftConnmark(want: NftConnmarkWant, seen: NftTableSeen | undefined): NftPlan {
  checkWant(want);
  const t = `ip ${NFT_TABLE}`;
  const rules = listedRules(want);
  const base = seen?.chains[NFT_BASE_CHAIN];
  const mark = seen?.chains[NFT_MARK_CHAIN];
  const lines: string[] = [];
  const changes: string[] = [];
  if (!seen) changes.push(`nft table ${NFT_TABLE} created`);
  const baseRecreated = !!base && base.header !== BASE_HEADER;
  if (baseRecreated) {
    lines.push(`flush chain ${t} ${NFT_BASE_CHAIN}`, `delete chain ${t} ${NFT_BASE_CHAIN}`);
    changes.push(`nft chain ${NFT_BASE_CHAIN} re-created (was: ${base.header ?? "a regular chain"})`);
  }
  // snat-mark made a base chain by hand: nothing may jump to it while it is deleted.
  const markRecreated = !!mark?.header;
  if (markRecreated) {
    if (base && !baseRecreated) lines.push(`flush chain ${t} ${NFT_BASE_CHAIN}`);
    lines.push(`flush chain ${t} ${NFT_MARK_CHAIN}`, `delete chain ${t} ${NFT_MARK_CHAIN}`);
    changes.push(`nft chain ${NFT_MARK_CHAIN} re-created (was: ${mark.header})`);
  }
  const baseOk = !!base && !baseRecreated && !markRecreated && same(base.rules, rules.base);
  const markOk = !!mark && !markRecreated && sameCidrRules(mark.rules, rules.mark);
  if (baseOk && markOk) return { script: "", changes: [] };
  lines.unshift(`add table ${t}`);
  lines.push(`add chain ${t} ${NFT_BASE_CHAIN} { type nat hook prerouting priority ${NFT_BASE_PRIORITY}; policy accept; }`);
  lines.push(`add chain ${t} ${NFT_MARK_CHAIN}`);
  const cidrs = uniqueCidrs(want);
  if (!markOk) {
    if (mark && !markRecreated) lines.push(`flush chain ${t} ${NFT_MARK_CHAIN}`);
    for (const c of cidrs) {
      const p = v4Parts(c);
      lines.push(`add rule ${t} ${NFT_MARK_CHAIN} counter ip daddr & ${p.mask} == ${p.net} return`);
    }
    lines.push(`add rule ${t} ${NFT_MARK_CHAIN} counter ct mark set ct mark or ${hex8(want.mark)}`);
    if (seen && !markRecreated) changes.push(`nft chain ${NFT_MARK_CHAIN} ${mark ? "refilled" : "created"}`);
  }
  if (!baseOk) {
    if (base && !baseRecreated && !markRecreated) lines.push(`flush chain ${t} ${NFT_BASE_CHAIN}`);
    lines.push(`add rule ${t} ${NFT_BASE_CHAIN} fib daddr type local return`);
    lines.push(`add rule ${t} ${NFT_BASE_CHAIN} iifname "${want.vethPrefix}*" counter jump ${NFT_MARK_CHAIN}`);
    lines.push(`add rule ${t} ${NFT_BASE_CHAIN} counter meta mark set ct mark and ${hex8(want.mark)}`);
    if (seen && !baseRecreated) changes.push(`nft chain ${NFT_BASE_CHAIN} ${base ? "refilled" : "created"}`);
  }
  return { script: lines.join("\n") + "\n", changes };
}

/** The script that removes the table (external SNAT, IPv4 connmark in iptables). */
export function nftDeleteScript(): string {
  return `delete table ip ${NFT_TABLE}\n`;
}

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameCidrRules(have: string[], want: string[]): boolean {
  if (have.length !== want.length || have.at(-1) !== want.at(-1)) return false;
  const a = [...have.slice(0, -1)].sort();
  const b = [...want.slice(0, -1)].sort();
  return same(a, b);
}
