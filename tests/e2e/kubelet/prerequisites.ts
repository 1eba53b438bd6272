/**
 * What the kubelet tests need of the machine. Under CI=true a missing prerequisite is a
 * failure naming it; elsewhere the tests skip with the reason printed.
 */
import { existsSync } from "node:fs";

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const TOOLS = ["podman", "runc", "conmon", "nsenter", "kubectl", "curl", "ip"];

export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root (network namespaces, rootful podman)");
  for (const t of TOOLS) if (Bun.which(t, { PATH }) === null) missing.push(t);
  if (!existsSync("/bin/busybox")) missing.push("/bin/busybox");
  return missing;
}

/** true: run the tests. Under CI a missing prerequisite throws (the suite fails naming it). */
export function prerequisitesMet(suite: string): boolean {
  const missing = missingPrerequisites();
  if (missing.length === 0) return true;
  const reason = `${suite}: missing ${missing.join(", ")} (tests/setup-host.sh installs the tools)`;
  if (process.env.CI === "true") throw new Error(reason);
  console.log(`${reason}; skipped`);
  return false;
}
