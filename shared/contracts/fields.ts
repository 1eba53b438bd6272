/** zod field types shared by every contract. */
import { int, z } from "../zod.ts";
import { isCidr, isIp } from "../ip.ts";
import { isValidContainerId, isValidIfName } from "../naming.ts";

export const ipAddress = z.string().check(z.refine(isIp, "must be an IPv4 or IPv6 address"));
export const cidr = z.string().check(z.refine(isCidr, "must be a CIDR such as 10.0.0.0/16"));
export const mac = z.string().check(z.regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, "must be a lower-case MAC such as 02:ab:cd:ef:01:23"));
export const eniId = z.string().check(z.regex(/^eni-[0-9a-f]{1,32}$/, "must be an ENI id such as eni-0123abcd"));
export const ifName = z.string().check(z.refine(isValidIfName, "must be 1-15 characters, no '/', whitespace or ':', not '.' or '..'"));
export const containerId = z.string().check(z.refine(isValidContainerId, "must start alphanumeric, then [A-Za-z0-9_.-]"));
/** A network namespace path the daemon may enter: under /proc, /var/run/netns or /run/netns. */
export const netnsPath = z.string().check(
  z.regex(/^\/(proc\/\d+\/(task\/\d+\/)?ns\/net|(var\/)?run\/netns\/[A-Za-z0-9_.\-]+|var\/run\/docker\/netns\/[A-Za-z0-9_.\-]+)$/, "must be /proc/<pid>/ns/net or a file under /run/netns or /var/run/netns"),
  z.refine((p) => !p.split("/").includes(".."), "must not contain '..'"),
);
export const routeTable = int().check(z.minimum(1), z.maximum(0xfffffffe));
export const vethPrefix = z.string().check(z.regex(/^[A-Za-z0-9]{1,4}$/, "must be 1-4 letters or digits"));

export const podRef = z.object({
  networkName: z.string().check(z.minLength(1), z.maxLength(128)),
  containerId,
  ifName,
});
export type PodRef = z.infer<typeof podRef>;
