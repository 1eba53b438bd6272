/**
 * What the executor makes of a failed EC2 call: throttling, retryable (the account or the
 * network failed, not the request), "in use" (normal right after a detach), or
 * insufficient-CIDR (recorded for the planner's windows).
 */
import { ec2Code } from "../core/ports.ts";
import type { ExecutorDeps } from "./executor.ts";
import type { SubnetShortage } from "./pool-conditions.ts";

export const INSUFFICIENT: ReadonlySet<string> = new Set<SubnetShortage>(["InsufficientFreeAddressesInSubnet", "InsufficientCidrBlocks"]);

/** Records an insufficient-CIDR error for the planner's windows; true when it was one. */
export function noteInsufficient(d: ExecutorDeps, err: unknown): boolean {
  const code = ec2Code(err);
  if (!code || !INSUFFICIENT.has(code)) return false;
  d.model.conditions.subnetRanOut(code as SubnetShortage, d.opts.now());
  return true;
}

export function isInUse(err: unknown): boolean {
  return ec2Code(err) === "InvalidNetworkInterface.InUse" || /in use/i.test(String((err as Error)?.message ?? ""));
}

export function isThrottle(err: unknown): boolean {
  return THROTTLE_CODES.has(ec2Code(err) ?? "");
}

const THROTTLE_CODES = new Set(["RequestLimitExceeded", "Throttling", "ThrottlingException"]);

/** Throttling, a 5xx or no answer: the account or the network, not the request, failed. */
export function isRetryable(err: unknown): boolean {
  const code = ec2Code(err) ?? "";
  const status = (err as { status?: number })?.status;
  return isThrottle(err) || RETRYABLE_CODES.has(code) || (status !== undefined && status >= 500);
}

const RETRYABLE_CODES = new Set(["InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "NETWORK"]);
