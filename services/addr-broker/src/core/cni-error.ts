/**
 * CNI errors: a stable numeric code (spec codes 1–11, STATUS 50/51, 100+ this plugin's
 * own), a message naming the offending field, and details. Written to stdout as
 * `{cniVersion, code, msg, details}` with a non-zero exit.
 */

export const CniCode = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_NETWORK_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  NOT_AVAILABLE: 50,
  LIMITED_CONNECTIVITY: 51,
  /** This plugin's own: an unexpected internal failure (a bug: see the daemon's log). */
  INTERNAL: 100,
  /** This plugin's own: CNI_IFNAME already exists in CNI_NETNS (held by another attachment). */
  INTERFACE_EXISTS: 101,
  /** This plugin's own: net-config could not wire (or check) the pod. */
  WIRING_FAILED: 102,
  /** This plugin's own: CHECK found the pod's state differs from what was set up. */
  CHECK_FAILED: 103,
  /** This plugin's own: strict network policy mode and the policy agent could not be told of the new pod (the ADD is undone). */
  POLICY_AGENT_FAILED: 104,
  /** This plugin's own: a pod asking for a branch ENI whose `vpc.amazonaws.com/pod-eni` annotation (or the pod itself) is unusable. */
  BRANCH_ENI_ANNOTATION: 105,
} as const;
export type CniCodeValue = (typeof CniCode)[keyof typeof CniCode];

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = "",
  ) {
    super(message);
    this.name = "CniError";
  }
}

export interface CniErrorBody {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function errorBody(cniVersion: string, err: CniError): CniErrorBody {
  const body: CniErrorBody = { cniVersion, code: err.code, msg: err.message };
  if (err.details) body.details = err.details;
  return body;
}
