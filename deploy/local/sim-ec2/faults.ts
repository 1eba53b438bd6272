/**
 * Fault settings of the simulated EC2 (zod-validated, changed at run time through the
 * control API) and a seeded PRNG so injected errors are reproducible.
 */
import { z } from "zod";

export const ACTIONS = [
  "DescribeInstances",
  "DescribeInstanceTypes",
  "DescribeNetworkInterfaces",
  "DescribeSubnets",
  "DescribeSecurityGroups",
  "CreateNetworkInterface",
  "AttachNetworkInterface",
  "DetachNetworkInterface",
  "DeleteNetworkInterface",
  "ModifyNetworkInterfaceAttribute",
  "AssignPrivateIpAddresses",
  "UnassignPrivateIpAddresses",
  "AssignIpv6Addresses",
  "UnassignIpv6Addresses",
  "CreateTags",
  "DeleteTags",
  "AssociateTrunkInterface",
  "DisassociateTrunkInterface",
  "DescribeTrunkInterfaceAssociations",
  "CreateNetworkInterfacePermission",
  "CreateSecurityGroup",
  "DeleteSecurityGroup",
  "AuthorizeSecurityGroupIngress",
  "AuthorizeSecurityGroupEgress",
  "RevokeSecurityGroupIngress",
  "RevokeSecurityGroupEgress",
] as const;

export type Action = (typeof ACTIONS)[number];
const action = z.enum(ACTIONS);

export const INJECTABLE_ERRORS = ["InternalError", "ServiceUnavailable", "Unavailable", "RequestLimitExceeded"] as const;

const ms = z.number().int().min(0).max(600_000);

export const FaultSettingsSchema = z
  .object({
    /** Seed of the PRNG that decides injected errors. */
    seed: z.number().int(),
    /** Per action: probability (0..1) of failing with `code`. */
    errors: z.partialRecord(action, z.object({ rate: z.number().min(0).max(1), code: z.enum(INJECTABLE_ERRORS) }).strict()),
    /** Per action: added latency in ms before answering. */
    latencyMs: z.partialRecord(action, ms),
    throttling: z
      .object({
        enabled: z.boolean(),
        capacityScale: z.number().positive().max(1000),
        refillScale: z.number().min(0).max(1000),
      })
      .strict(),
    /** ms an attachment stays "attaching". */
    attachDelayMs: ms,
    /** ms before IMDS shows an attachment or address change. */
    imdsDelayMs: ms,
    /** Describe* answers from a state snapshot this many ms old. */
    describeLagMs: ms,
    /** ms after a detach during which DeleteNetworkInterface answers "in use". */
    deleteAfterDetachMs: ms,
    /** Actions answered with UnauthorizedOperation (403). */
    unauthorized: z.array(action),
  })
  .strict();

export type FaultSettings = z.infer<typeof FaultSettingsSchema>;

/** PUT /faults body: any subset; `throttling` may be partial too. */
export const FaultPatchSchema = FaultSettingsSchema.extend({
  throttling: FaultSettingsSchema.shape.throttling.partial(),
}).partial();

export type FaultPatch = z.infer<typeof FaultPatchSchema>;

export const DEFAULT_FAULTS: FaultSettings = {
  seed: 1,
  errors: {},
  latencyMs: {},
  throttling: { enabled: true, capacityScale: 1, refillScale: 1 },
  attachDelayMs: 300,
  imdsDelayMs: 200,
  describeLagMs: 0,
  deleteAfterDetachMs: 2000,
  unauthorized: [],
};

export function applyPatch(current: FaultSettings, patch: FaultPatch): FaultSettings {
  return { ...current, ...patch, throttling: { ...current.throttling, ...patch.throttling } } as FaultSettings;
}

/** First zod issue as "field: message". */
export function describeIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.join(".") || (issue.code === "unrecognized_keys" ? issue.keys.join(",") : "(body)");
  return `${path}: ${issue.message}`;
}

/** mulberry32: small, fast, deterministic for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
