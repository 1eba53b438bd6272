/**
 * A CNI DEL addr-broker could not take (its socket unreachable): the shim tears the pod's
 * wiring down through net-config itself, as upstream's plugin does from prevResult, and leaves
 * this record so that addr-broker, when it is back, releases the pod's address. One JSON file
 * per attachment in `<run dir>/pending-del/`, written to a temporary name and renamed; the
 * file name is a hash of the attachment's key, so a repeated DEL overwrites its own record.
 */
import type * as NodeFs from "node:fs";
import { isValidContainerId, isValidIfName } from "./naming.ts";

export const PENDING_DEL_DIR = "pending-del";

/**
 * node:fs, loaded when first used. The shim bundles this file (its DEL fallback) and a
 * static node:fs import is hoisted into every start of the shim: ~5–6 ms of CPU per exec
 * measured on 2026-12-04 (bench/README.md, "the ADD path close to the floor").
 */
const fs = (): typeof NodeFs => process.getBuiltinModule("node:fs");

export interface PendingDel {
  networkName: string;
  containerId: string;
  ifName: string;
  /** The pod's address as prevResult listed it ("" when there was no prevResult). */
  address: string;
  /** When the shim recorded it (ms since the epoch). */
  at: number;
}

/** The record checked field by field; undefined for anything else (a foreign or torn file). */
export function parsePendingDel(text: string): PendingDel | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const ok =
    typeof r.networkName === "string" && r.networkName.length > 0 && r.networkName.length <= 256 &&
    typeof r.containerId === "string" && isValidContainerId(r.containerId) &&
    typeof r.ifName === "string" && isValidIfName(r.ifName) &&
    typeof r.address === "string" && r.address.length <= 64 && typeof r.at === "number";
  return ok ? { networkName: r.networkName as string, containerId: r.containerId as string, ifName: r.ifName as string, address: r.address as string, at: r.at as number } : undefined;
}

function fileName(r: Pick<PendingDel, "networkName" | "containerId" | "ifName">): string {
  return `${new Bun.CryptoHasher("sha256").update(`${r.networkName}\0${r.containerId}\0${r.ifName}`).digest("hex").slice(0, 32)}.json`;
}

export function writePendingDel(runDir: string, r: PendingDel): string {
  if (!parsePendingDel(JSON.stringify(r))) throw new Error("pending DEL: invalid record");
  const dir = `${runDir.replace(/\/+$/, "")}/${PENDING_DEL_DIR}`;
  fs().mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/${fileName(r)}`;
  const tmp = `${path}.${process.pid}.tmp`;
  fs().writeFileSync(tmp, JSON.stringify(r), { mode: 0o600 });
  fs().renameSync(tmp, path);
  return path;
}

/** Every record in the directory, with the path to delete once it is handled; unreadable files are skipped. */
export function readPendingDels(runDir: string): Array<{ path: string; record: PendingDel }> {
  const dir = `${runDir.replace(/\/+$/, "")}/${PENDING_DEL_DIR}`;
  let names: string[];
  try {
    names = fs().readdirSync(dir);
  } catch {
    return [];
  }
  const out: Array<{ path: string; record: PendingDel }> = [];
  for (const name of names.filter((n) => /^[0-9a-f]{32}\.json$/.test(n))) {
    try {
      const record = parsePendingDel(fs().readFileSync(`${dir}/${name}`, "utf8"));
      if (record) out.push({ path: `${dir}/${name}`, record });
    } catch {
      // gone meanwhile, or unreadable: nothing to do
    }
  }
  return out;
}

export function removePendingDel(path: string): void {
  fs().rmSync(path, { force: true });
}
