/**
 * iptables in a namespace: backend detection as kube-proxy's iptables-wrapper does it
 * (more rules under legacy than under nft → legacy; else nft), save and restore --noflush.
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
    private readonly ns: NetnsRef,
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

  /** Detect the backend the node already uses; `forceNft` (ENABLE_NFTABLES) skips detection. */
  static async detect(ns: NetnsRef, forceNft = false): Promise<IptablesBackend> {
    if (forceNft) return "nft";
    const count = async (backend: IptablesBackend) => {
      let n = 0;
      for (const tool of ["iptables", "ip6tables"]) {
        const r = await new Iptables(ns, backend).run(`${tool}-save`, [], undefined, true);
        n += r.out.split("\n").filter((l) => l.startsWith("-")).length;
      }
      return n;
    };
    const [legacy, nft] = await Promise.all([count("legacy"), count("nft")]);
    return legacy > nft ? "legacy" : "nft";
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
