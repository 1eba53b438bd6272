/** net-config's errors: a stable code, the offending field when there is one, an HTTP status. */
import { ServiceError } from "../../../../shared/ipc/errors.ts";

export class NetConfigError extends ServiceError {
  constructor(code: string, message: string, field?: string, status = 500) {
    super(code, message, status, field);
    this.name = "NetConfigError";
  }
}

export function invalid(field: string, message: string): NetConfigError {
  return new NetConfigError("INVALID_" + field.replace(/[^A-Za-z0-9]+/g, "_").toUpperCase(), `${field}: ${message}`, field, 400);
}
