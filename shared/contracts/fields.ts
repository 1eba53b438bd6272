/** zod field types shared by every contract. */
import { z } from "zod";
import { isCidr, isIp } from "../ip.ts";
import { isValidContainerId, isValidIfName } from "../naming.ts";

export const ipAddress = z.string().refine(isIp, "must be an IPv4 or IPv6 address");
export const cidr = z.string().refine(isCidr, "must be a CIDR such as 10.0.0.0/16");
export const mac = z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, "must be a lower-case MAC such as 02:ab:cd:ef:01:23");
export const eniId = z.string().regex(/^eni-[0-9a-f]{1,32}$/, "must be an ENI id such as eni-0123abcd");
export const ifName = z.string().refine(isValidIfName, "must be 1-15 characters, no '/', whitespace or ':', not '.' or '..'");
export const containerId = z.string().refine(isValidContainerId, "must start alphanumeric, then [A-Za-z0-9_.-]");
/** A network namespace path the daemon may enter: under /proc, /var/run/netns or /run/netns. */
export const netnsPath = z
  .string()
  .regex(/^\/(proc\/\d+\/(task\/\d+\/)?ns\/net|(var\/)?run\/netns\/[A-Za-z0-9_.\-]+|var\/run\/docker\/netns\/[A-Za-z0-9_.\-]+)$/, "must be /proc/<pid>/ns/net or a file under /run/netns or /var/run/netns")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'");
export const routeTable = z.number().int().min(1).max(0xfffffffe);
export const vethPrefix = z.string().regex(/^[A-Za-z0-9]{1,4}$/, "must be 1-4 letters or digits");

export const podRef = z.object({
  networkName: z.string().min(1).max(128),
  containerId,
  ifName,
});
export type PodRef = z.infer<typeof podRef>;
