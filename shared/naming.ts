/**
 * Names the kernel sees, derived exactly as upstream derives them so that an in-place
 * upgrade from the Go daemon finds the links and tables it created. Hashes with Bun.CryptoHasher:
 * node:crypto costs a service ~2 MiB on import (bench/README.md, "every service's frame").
 */
export const MAIN_TABLE = 254;

/**
 * Host-side veth of a pod: `<prefix><sha1("<namespace>.<pod>")[:11]>` as upstream. A pod
 * without a Kubernetes namespace and name (podman, a bare runtime) gets a name derived
 * from its container ID and interface, stable across retries.
 */
export function hostVethName(prefix: string, pod: { namespace?: string; name?: string; containerId: string; ifName: string }): string {
  const key = pod.namespace && pod.name ? `${pod.namespace}.${pod.name}` : `${pod.containerId}.${pod.ifName}`;
  return prefix + new Bun.CryptoHasher("sha1").update(key).digest("hex").slice(0, 11);
}

/**
 * The prefix a host veth named by hostVethName was made with (its name less the 11 hex
 * digits), or undefined for a name of another shape.
 */
export function vethPrefixOf(hostVeth: string): string | undefined {
  return /^[A-Za-z0-9]{1,4}[0-9a-f]{11}$/.test(hostVeth) ? hostVeth.slice(0, -11) : undefined;
}

/** Route table of an ENI: main for device 0, else device number + 1 (network card 0). */
export function routeTableFor(deviceNumber: number): number {
  if (!Number.isInteger(deviceNumber) || deviceNumber < 0) throw new RangeError(`deviceNumber: ${deviceNumber}`);
  return deviceNumber === 0 ? MAIN_TABLE : deviceNumber + 1;
}

/** Linux interface names: 1–15 bytes, no '/', no whitespace, not "." or "..". */
export function isValidIfName(name: string): boolean {
  return name.length > 0 && name.length <= 15 && name !== "." && name !== ".." && !/[\s/:]/.test(name) && /^[\x21-\x7e]+$/.test(name);
}

/** CNI container IDs: alphanumeric first, then [A-Za-z0-9_.-]. */
export function isValidContainerId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.\-]*$/.test(id) && id.length <= 1024;
}
