// Kubernetes-shaped errors: a metav1.Status body with the code, reason and causes the real
// API server uses, so clients (client-node, kubectl) report them as they would on a cluster.

export type StatusReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Invalid"
  | "BadRequest"
  | "Unauthorized"
  | "MethodNotAllowed"
  | "UnsupportedMediaType"
  | "ServiceUnavailable"
  | "Gone"
  | "Expired";

const CODES: Record<StatusReason, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Invalid: 422,
  BadRequest: 400,
  Unauthorized: 401,
  MethodNotAllowed: 405,
  UnsupportedMediaType: 415,
  ServiceUnavailable: 503,
  Gone: 410,
  Expired: 410,
};

export interface FieldCause {
  field: string;
  message: string;
  /** FieldValueRequired, FieldValueInvalid, FieldValueNotSupported ... */
  type?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: Array<{ field: string; message: string; reason: string }>;
}

export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: StatusReason;
  details?: StatusDetails;
  code: number;
}

export class KubeError extends Error {
  readonly code: number;
  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.code = CODES[reason];
  }

  toStatus(): KubeStatus {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details === undefined ? {} : { details: this.details }),
      code: this.code,
    };
  }
}

/** Who an error is about: the resource's group and plural, and the object's name. */
export interface Subject {
  group: string;
  plural: string;
  kind: string;
  name: string;
}

function qualified(subject: Subject): string {
  return subject.group === "" ? subject.plural : `${subject.plural}.${subject.group}`;
}

export function notFound(subject: Subject): KubeError {
  return new KubeError("NotFound", `${qualified(subject)} "${subject.name}" not found`, {
    name: subject.name,
    group: subject.group,
    kind: subject.plural,
  });
}

export function alreadyExists(subject: Subject): KubeError {
  return new KubeError("AlreadyExists", `${qualified(subject)} "${subject.name}" already exists`, {
    name: subject.name,
    group: subject.group,
    kind: subject.plural,
  });
}

export function conflict(subject: Subject, why: string): KubeError {
  return new KubeError(
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(subject)} "${subject.name}": ${why}`,
    { name: subject.name, group: subject.group, kind: subject.plural },
  );
}

export function invalid(subject: Subject, causes: FieldCause[]): KubeError {
  const summary = causes.map((cause) => `${cause.field}: ${cause.message}`).join(", ");
  return new KubeError("Invalid", `${subject.kind} "${subject.name}" is invalid: ${summary}`, {
    name: subject.name,
    group: subject.group,
    kind: subject.kind,
    causes: causes.map((cause) => ({
      field: cause.field,
      message: cause.message,
      reason: cause.type ?? "FieldValueInvalid",
    })),
  });
}

export function badRequest(message: string): KubeError {
  return new KubeError("BadRequest", message);
}
