/**
 * libnftables (libnftables.so.1, shipped with nftables) in process through bun:ffi: one
 * context kept for the runner's life, its output and errors buffered, commands run from a
 * buffer — what `nft` itself does, without a process, its dynamic linking and its start per
 * transaction. The call is synchronous: the caller keeps large transactions off it. After each
 * command malloc_trim(3) hands what the command freed back to the system.
 *
 * A context talks to the kernel over the netlink socket it opens when created, in the network
 * namespace of the creating thread. For a named namespace the thread enters it
 * (setns(2), /run/netns/<name>) only while the context is created, then returns to its own;
 * every later command on the context programs the named namespace.
 */
import { closeSync, openSync } from "node:fs";
import { CString, dlopen, FFIType, type Pointer } from "bun:ffi";

/** NFT_CTX_OUTPUT_JSON (libnftables.h): what `nft -j` sets. */
const OUTPUT_JSON = 1 << 4;
const CLONE_NEWNET = 0x40000000;

const NFT_SYMBOLS = {
  nft_ctx_new: { args: [FFIType.u32], returns: FFIType.ptr },
  nft_ctx_free: { args: [FFIType.ptr], returns: FFIType.void },
  nft_ctx_buffer_output: { args: [FFIType.ptr], returns: FFIType.i32 },
  nft_ctx_buffer_error: { args: [FFIType.ptr], returns: FFIType.i32 },
  nft_ctx_get_output_buffer: { args: [FFIType.ptr], returns: FFIType.ptr },
  nft_ctx_get_error_buffer: { args: [FFIType.ptr], returns: FFIType.ptr },
  nft_ctx_output_set_flags: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.void },
  nft_ctx_output_get_flags: { args: [FFIType.ptr], returns: FFIType.u32 },
  nft_run_cmd_from_buffer: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
} as const;

type NftSymbols = ReturnType<typeof dlopen<typeof NFT_SYMBOLS>>["symbols"];

const LIBC_SYMBOLS = {
  setns: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  malloc_trim: { args: [FFIType.u64], returns: FFIType.i32 },
} as const;
let libcSymbols: ReturnType<typeof dlopen<typeof LIBC_SYMBOLS>>["symbols"] | undefined;
const libc = () => (libcSymbols ??= dlopen("libc.so.6", LIBC_SYMBOLS).symbols);
const loaded = new Map<string, NftSymbols>();

function nftSymbols(library: string): NftSymbols {
  let s = loaded.get(library);
  if (!s) {
    s = dlopen(library, NFT_SYMBOLS).symbols;
    loaded.set(library, s);
  }
  return s;
}

/** Runs `fn` with the calling thread in /run/netns/<netns>, then puts the thread back. */
function inNetns<T>(netns: string, fn: () => T): T {
  const own = openSync("/proc/thread-self/ns/net", "r");
  let target: number | undefined;
  try {
    target = openSync(`/run/netns/${netns}`, "r");
    if (libc().setns(target, CLONE_NEWNET) !== 0) throw new Error(`setns into network namespace ${netns} failed`);
    try {
      return fn();
    } finally {
      // the thread must not stay in the other namespace: everything else this thread opens would land there
      if (libc().setns(own, CLONE_NEWNET) !== 0) throw new Error(`could not return from network namespace ${netns}: the process is in an unknown state`);
    }
  } finally {
    closeSync(own);
    if (target !== undefined) closeSync(target);
  }
}

export interface NftLibResult {
  ok: boolean;
  out: string;
  err: string;
}

export interface NftContext {
  /** Runs a script (one transaction, all or nothing, as `nft -f`); json: output as `nft -j`. */
  run(script: string, json?: boolean): NftLibResult;
  free(): void;
}

const text = (p: Pointer | bigint | null) => (p === null ? "" : new CString(p as Pointer).toString());

/** A buffered context in the calling thread's namespace, or in /run/netns/<netns>. Throws when the library cannot be loaded. */
export function openNftContext(opts: { netns?: string; library?: string } = {}): NftContext {
  const s = nftSymbols(opts.library ?? "libnftables.so.1");
  const create = () => s.nft_ctx_new(0);
  const ctx = opts.netns === undefined ? create() : inNetns(opts.netns, create);
  if (ctx === null) throw new Error("nft_ctx_new failed");
  if (s.nft_ctx_buffer_output(ctx) !== 0 || s.nft_ctx_buffer_error(ctx) !== 0) {
    s.nft_ctx_free(ctx);
    throw new Error("nft_ctx_buffer_output/error failed");
  }
  const plain = s.nft_ctx_output_get_flags(ctx);
  const { malloc_trim } = libc();
  const trim = () => void malloc_trim(0);
  let freed = false;
  return {
    run(script, json = false) {
      if (freed) throw new Error("nft context already freed");
      s.nft_ctx_output_set_flags(ctx, json ? plain | OUTPUT_JSON : plain);
      const rc = s.nft_run_cmd_from_buffer(ctx, Buffer.from(`${script}\0`));
      // each get returns what was buffered since the last one
      const result = { ok: rc === 0, out: text(s.nft_ctx_get_output_buffer(ctx)), err: text(s.nft_ctx_get_error_buffer(ctx)) };
      // what parsing and the kernel's answers allocated goes back to the system, not kept by
      // malloc for the next transaction (the agent's memory is budgeted; the cache stays)
      trim();
      return result;
    },
    free() {
      if (freed) return;
      freed = true;
      s.nft_ctx_free(ctx);
    },
  };
}
