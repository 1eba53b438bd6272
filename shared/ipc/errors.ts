/**
 * Errors that cross a service boundary. Every error has a stable `code` that callers and
 * tests switch on; `field` names the offending input when there is one.
 */
import type { z } from "../zod.ts";

export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = 500,
    readonly field?: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ServiceError";
  }

  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message, field: this.field, details: this.details } };
  }
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string; details?: unknown };
}

/** The dotted path of the first zod issue, e.g. "enis.0.cidrs.1.cidr" ("(body)" for the root). */
export function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path.length === 0 ? "(body)" : issue.path.map(String).join(".");
}

/** A validation failure named by its field, with every issue listed in details. */
export function validationError(code: string, error: z.core.$ZodError, where: string): ServiceError {
  const first = error.issues[0];
  const field = first ? issuePath(first) : "(body)";
  const list = error.issues.map((i) => `${issuePath(i)}: ${i.message}`);
  return new ServiceError(code, `${where}: invalid ${field}: ${first?.message ?? "invalid"}`, 400, field, list);
}
