/**
 * nft in a namespace: read one table as `nft list` prints it, apply a transaction from
 * stdin (`nft -f -`, all or nothing). Spawned with argv arrays only, through nsenter when
 * the namespace is not ours; table names are checked before they reach the command line.
 */
import { NetConfigError, invalid } from "../core/errors.ts";
import { checkNetnsPath } from "../core/validation.ts";
import type { NetnsRef } from "./netns.ts";

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export class Nft {
  constructor(private readonly ns: NetnsRef) {
    if (ns !== "self") checkNetnsPath(ns.path);
  }

  private argv(args: string[]): string[] {
    return this.ns === "self" ? ["nft", ...args] : ["nsenter", `--net=${this.ns.path}`, "nft", ...args];
  }

  private async run(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
    const p = Bun.spawn(this.argv(args), { stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out, err };
  }

  /** The table's listing, or undefined when there is no such table. */
  async listTable(family: "ip" | "ip6", name: string): Promise<string | undefined> {
    if (!TABLE_NAME.test(name)) throw invalid("nftTable", `${JSON.stringify(name)} is not a table name`);
    const r = await this.run(["list", "table", family, name]);
    if (r.code === 0) return r.out;
    if (/No such file or directory/.test(r.err)) return undefined;
    throw new NetConfigError("NFT_FAILED", `nft list table ${family} ${name} exited ${r.code}: ${r.err.trim()}`);
  }

  /** Applies an nft script as one transaction. */
  async apply(script: string): Promise<void> {
    const r = await this.run(["-f", "-"], script);
    if (r.code !== 0) throw new NetConfigError("NFT_FAILED", `nft -f exited ${r.code}: ${r.err.trim()}`);
  }
}
