/** The CNI spec versions this plugin speaks, and which commands each allows. */
import { CniCode, CniError } from "./cni-error.ts";

export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = "1.1.0";

export const COMMANDS = ["ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"] as const;
export type CniCommand = (typeof COMMANDS)[number];

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** 0.3.x and 0.4.0 results carry `ips[].version`; 1.x results do not. */
export function hasIpVersionField(v: CniVersion): boolean {
  return compareVersions(v, "1.0.0") < 0;
}

const MINIMUM: Partial<Record<CniCommand, CniVersion>> = { CHECK: "0.4.0", GC: "1.1.0", STATUS: "1.1.0" };

/** The version of the config, checked against the command (code 1 when it cannot be served). */
export function requireVersion(command: CniCommand, raw: unknown): CniVersion {
  if (raw !== undefined && typeof raw !== "string") {
    throw new CniError(CniCode.DECODE_FAILURE, "cniVersion: must be a string such as \"1.1.0\"");
  }
  const v = raw ?? "0.1.0";
  if (!isSupportedVersion(v)) {
    throw new CniError(
      CniCode.INCOMPATIBLE_VERSION,
      `cniVersion: ${raw === undefined ? "missing (means 0.1.0)" : `"${v}"`} is not supported`,
      `supported versions: ${SUPPORTED_VERSIONS.join(", ")}`,
    );
  }
  const min = MINIMUM[command];
  if (min && compareVersions(v, min) < 0) {
    throw new CniError(CniCode.INCOMPATIBLE_VERSION, `cniVersion: ${command} needs cniVersion ${min} or later, the config says ${v}`);
  }
  return v;
}
