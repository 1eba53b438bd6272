/**
 * Test oracle: upstream's own iptables argv for the SNAT and connmark rules, appended one by
 * one as its Go code does, so a test can program them into one namespace and compare
 * iptables-save's text with the rules net-config writes (core/snat-rules.ts) into another.
 */
import { CONNMARK_CHAIN, SNAT_CHAIN, type SnatInput } from "../core/snat-rules.ts";
import type { NetConfigSettings } from "../core/settings.ts";

const hex = (n: number) => `0x${n.toString(16)}`;

export function upstreamArgv(s: NetConfigSettings, input: SnatInput): string[][] {
  const mark = `${hex(s.connmark)}/${hex(s.connmark)}`;
  const mask = hex(s.connmark);
  const out: string[][] = [];
  const c = (...a: string[]) => out.push(a);
  // In nf_tables mode upstream keeps the connmark rules in nftables (core/nft-connmark.ts).
  const connmarkInNat = !s.externalSnat && input.connmarkBackend !== "nftables";
  if (!s.externalSnat) {
    c("-t", "nat", "-N", SNAT_CHAIN);
    if (connmarkInNat) c("-t", "nat", "-N", CONNMARK_CHAIN);
    c("-t", "nat", "-A", "POSTROUTING", "-m", "comment", "--comment", "AWS SNAT CHAIN", "-j", SNAT_CHAIN);
    for (const cidr of input.vpcCidrs) c("-t", "nat", "-A", SNAT_CHAIN, "-d", cidr, "-m", "comment", "--comment", "AWS SNAT CHAIN", "-j", "RETURN");
    for (const cidr of s.excludeSnatCidrs) c("-t", "nat", "-A", SNAT_CHAIN, ...(cidr === "0.0.0.0/0" ? [] : ["-d", cidr]), "-m", "comment", "--comment", "AWS SNAT CHAIN EXCLUSION", "-j", "RETURN");
    const snat = ["-t", "nat", "-A", SNAT_CHAIN, "!", "-o", "vlan+", "-m", "comment", "--comment", "AWS, SNAT", "-m", "addrtype", "!", "--dst-type", "LOCAL", "-j", "SNAT", "--to-source", input.primaryIp];
    if (s.randomizeSnat === "prng") snat.push("--random-fully");
    if (s.randomizeSnat === "hashrandom") snat.push("--random");
    out.push(snat);
  }
  if (s.nodePortSupport) {
    c("-t", "mangle", "-A", "PREROUTING", "-m", "comment", "--comment", "AWS, primary ENI", "-i", input.primaryIf, "-m", "addrtype", "--dst-type", "LOCAL", "--limit-iface-in", "-j", "CONNMARK", "--set-mark", mark);
  }
  if (s.nodePortSupport || !s.externalSnat) {
    c("-t", "mangle", "-A", "PREROUTING", "-m", "comment", "--comment", "AWS, primary ENI", "-i", `${s.vethPrefix}+`, "-j", "CONNMARK", "--restore-mark", "--mask", mask);
  }
  if (connmarkInNat) {
    c("-t", "nat", "-A", "PREROUTING", "-i", `${s.vethPrefix}+`, "-m", "comment", "--comment", "AWS, outbound connections", "-j", CONNMARK_CHAIN);
    // iptables_connmark.go: each exempt CIDR inserted at position 1 unless already there.
    const seen = new Set<string>();
    for (const cidr of [...input.vpcCidrs, ...s.excludeSnatCidrs]) {
      if (seen.has(cidr)) continue;
      seen.add(cidr);
      c("-t", "nat", "-I", CONNMARK_CHAIN, "1", ...(cidr === "0.0.0.0/0" ? [] : ["-d", cidr]), "-m", "comment", "--comment", "AWS CONNMARK CHAIN", "-j", "RETURN");
    }
    c("-t", "nat", "-A", CONNMARK_CHAIN, "-m", "comment", "--comment", "AWS, CONNMARK", "-j", "CONNMARK", "--set-xmark", mark);
    c("-t", "nat", "-A", "PREROUTING", "-m", "comment", "--comment", "AWS, CONNMARK", "-j", "CONNMARK", "--restore-mark", "--mask", mask);
  }
  return out;
}
