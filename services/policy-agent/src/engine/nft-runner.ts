/**
 * Runs nft commands: `run(["-f", "-"], script)` is one transaction (all or nothing),
 * `run(["-j", "list", ...])` a listing as JSON, `run(["delete", "table", ...])` one command.
 *
 * Default (`nftRunner`): libnftables in process through one persistent context (nft-lib.ts),
 * which saves a process start, nft's dynamic linking and, in a named namespace, nsenter — per
 * transaction. The call blocks the event loop while the kernel works, so only transactions up
 * to `syncMaxBytes` of script run in process; larger ones (a node's first apply, a rewrite of
 * every pod) and listings (the background read-back) spawn nft as before and are awaited
 * without blocking. Without the library (not installed), everything spawns nft, logged once.
 *
 * Spawning uses argv arrays (never a shell), scripts on stdin (`nft -f -`); in a named network
 * namespace it goes through `nsenter --net=/run/netns/<name>`, as net-config and the local
 * deployment's nodes do. Either way, a failure's `err` is nft's own message.
 */
import { ServiceError } from "../../../../shared/ipc/errors.ts";
import { openNftContext, type NftContext } from "./nft-lib.ts";

const NETNS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** A command word run in process (joined with spaces, so no word may carry a space or quote). */
const WORD = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$/;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
export const DEFAULT_SYNC_MAX_BYTES = 32 * 1024;

export interface NftResult {
  code: number;
  out: string;
  err: string;
}

export interface NftRunner {
  run(args: string[], script?: string): Promise<NftResult>;
  /** Releases what the runner holds (libnftables' context and its netlink socket); runs after it spawn nft. */
  close?(): void;
}

export interface NftRunnerOptions {
  /** Where the fallback to spawning nft is reported (once per process). */
  log?: { warn(obj: object, msg?: string): void };
  /** libnftables' file name (tests point it at a missing one for the fallback); default libnftables.so.1. */
  library?: string;
  /** Scripts longer than this spawn nft instead of blocking the event loop (default 32 KiB: a few pods; a first apply or a rewrite of every pod spawns). */
  syncMaxBytes?: number;
  /** "spawn": never in process (benches compare both). */
  mode?: "auto" | "spawn";
}

function checkNetns(netns: string | undefined): void {
  if (netns !== undefined && !NETNS_NAME.test(netns)) throw new ServiceError("POLICY_ENGINE_CONFIG", `netns: ${JSON.stringify(netns)} is not a network namespace name`, 400, "netns");
}

/** nft as a process per call. */
export function spawnNftRunner(netns?: string): NftRunner {
  checkNetns(netns);
  const prefix = netns === undefined ? [] : ["nsenter", `--net=/run/netns/${netns}`];
  return {
    async run(args, script) {
      const p = Bun.spawn([...prefix, "nft", ...args], { stdin: script === undefined ? "ignore" : new Blob([script]), stdout: "pipe", stderr: "pipe", env: { PATH } });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { code, out, err };
    },
  };
}

let fallbackReported = false;

/** libnftables in process where it can be loaded (small transactions), nft spawned otherwise. */
export function nftRunner(netns?: string, opts: NftRunnerOptions = {}): NftRunner & { readonly inProcess: boolean } {
  checkNetns(netns);
  const spawned = spawnNftRunner(netns);
  if (opts.mode === "spawn") return { ...spawned, inProcess: false };
  let ctx: NftContext;
  try {
    ctx = openNftContext({ ...(netns === undefined ? {} : { netns }), ...(opts.library === undefined ? {} : { library: opts.library }) });
  } catch (err) {
    if (!fallbackReported) opts.log?.warn({ err: (err as Error).message, library: opts.library ?? "libnftables.so.1" }, "libnftables not usable: spawning nft for every transaction");
    fallbackReported = true;
    return { ...spawned, inProcess: false };
  }
  const syncMax = opts.syncMaxBytes ?? DEFAULT_SYNC_MAX_BYTES;
  let open = true;
  return {
    inProcess: true,
    async run(args, script) {
      const inline = open ? inProcessScript(args, script, syncMax) : undefined;
      if (inline === undefined) return spawned.run(args, script);
      const r = ctx.run(inline.script, inline.json);
      return { code: r.ok ? 0 : 1, out: r.out, err: r.err };
    },
    close() {
      open = false;
      ctx.free();
    },
  };
}

/** What runs in process: a transaction from stdin within the size limit, or a command that writes (listings spawn: they are large and off the apply path). */
function inProcessScript(args: string[], script: string | undefined, syncMax: number): { script: string; json: boolean } | undefined {
  const json = args[0] === "-j";
  const rest = json ? args.slice(1) : args;
  if (rest.length === 2 && rest[0] === "-f" && rest[1] === "-") return script !== undefined && script.length <= syncMax ? { script, json } : undefined;
  if (script !== undefined || rest.length === 0 || rest[0] === "list" || !rest.every((w) => WORD.test(w))) return undefined;
  return { script: rest.join(" "), json };
}

export const nftFailed = (what: string, r: NftResult) => new ServiceError("NFT_FAILED", `${what} exited ${r.code}: ${r.err.trim().slice(0, 2000)}`, 500);
