// A pod spec the kubelet cannot honour: a stable code, the field at fault, and the waiting
// reason the container then reports (as on a real node).

export class PodSpecError extends Error {
  readonly reason = "CreateContainerConfigError";
  constructor(readonly code: string, readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}
