/**
 * iptables in a namespace: backend detection as kube-proxy's iptables-wrapper does it
 * (kubelet's hint chains first, then the rule counts), save and restore --noflush.
 * Processes are spawned with argv arrays only, via nsenter when the namespace is not ours.
 */
import { NetConfigError } from "../core/errors.ts";
import { checkNetnsPath } from "../core/validation.ts";
import type { NetnsRef } from "./netns.ts";

export type IptablesBackend = "legacy" | "nft";

export interface Ran {
  code: number;
  out: string;
  err: string;
}

/** Runs argv (stdin given or ignored) and collects its output and exit code. */
export async function spawn(argv: string[], stdin?: string): Promise<Ran> {
  const p = Bun.spawn(argv, { stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

export class Iptables {
  constructor(
    readonly ns: NetnsRef,
    readonly backend: IptablesBackend,
  ) {
    if (ns !== "self") checkNetnsPath(ns.path);
  }

  private argv(tool: string, args: string[]): string[] {
    // iptables-save → iptables-nft-save, ip6tables-restore → ip6tables-legacy-restore, iptables → iptables-nft
    const [base, suffix] = tool.split("-");
    const bin = suffix ? `${base}-${this.backend}-${suffix}` : `${base}-${this.backend}`;
    return this.ns === "self" ? [bin, ...args] : ["nsenter", `--net=${this.ns.path}`, bin, ...args];
  }

  /**
   * The backend the node already uses, decided as kube-proxy's iptables-wrapper decides (the
   * wrapper upstream's image installs as `iptables`): kubelet's hint chains under nft, then
   * under legacy, else whichever holds more rules (a tie is nft).
   */
  static async detect(ns: NetnsRef): Promise<IptablesBackend> {
    const saved = async (backend: IptablesBackend, table?: string) => {
      let text = "";
      for (const tool of ["iptables", "ip6tables"]) {
        text += (await new Iptables(ns, backend).run(`${tool}-save`, table ? ["-t", table] : [], undefined, true)).out;
      }
      return text;
    };
    const [nftMangle, legacy, nft] = await Promise.all([saved("nft", "mangle"), saved("legacy"), saved("nft")]);
    return chooseBackend({ nftMangle, legacy, nft });
  }

  private async run(tool: string, args: string[], stdin?: string, allowFail = false): Promise<Ran> {
    const r = await spawn(this.argv(tool, args), stdin);
    if (r.code !== 0 && !allowFail) {
      throw new NetConfigError("IPTABLES_FAILED", `${tool}-${this.backend} ${args.join(" ")} exited ${r.code}: ${r.err.trim()}`);
    }
    return r;
  }

  async save(family: 4 | 6 = 4): Promise<string> {
    return (await this.run(family === 4 ? "iptables-save" : "ip6tables-save", [])).out;
  }

  async restoreNoflush(text: string, family: 4 | 6 = 4): Promise<void> {
    await this.run(family === 4 ? "iptables-restore" : "ip6tables-restore", ["--noflush", "-w", "5"], text);
  }

  /** --random-fully needs iptables ≥ 1.6.2. */
  async supportsRandomFully(): Promise<boolean> {
    const r = await this.run("iptables", ["--version"], undefined, true);
    const m = /v(\d+)\.(\d+)\.(\d+)/.exec(r.out);
    if (!m) return false;
    const [maj, min, pat] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return maj > 1 || (maj === 1 && (min > 6 || (min === 6 && pat >= 2)));
  }
}

const KUBELET_HINT = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) /m;

/** iptables-wrapper's choice from the save outputs (iptables and ip6tables concatenated). Pure. */
export function chooseBackend(saved: { nftMangle: string; legacy: string; nft: string }): IptablesBackend {
  if (KUBELET_HINT.test(saved.nftMangle)) return "nft";
  if (KUBELET_HINT.test(saved.legacy)) return "legacy";
  const rules = (text: string) => text.split("\n").filter((l) => l.startsWith("-")).length;
  return rules(saved.legacy) > rules(saved.nft) ? "legacy" : "nft";
}
