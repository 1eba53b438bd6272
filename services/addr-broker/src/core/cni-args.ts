/**
 * CNI_ARGS: `KEY=VALUE;KEY=VALUE`. Known keys are the Kubernetes ones runtimes send;
 * an unknown key is an error unless `IgnoreUnknown` is true, as libcni's LoadArgs does.
 * Every key is optional: podman sends K8S_POD_NAME without a namespace.
 */
import { CniCode, CniError } from "./cni-error.ts";

export interface PodArgs {
  podName?: string;
  podNamespace?: string;
  infraContainerId?: string;
  podUid?: string;
}

const KNOWN: Record<string, keyof PodArgs | null> = {
  K8S_POD_NAME: "podName",
  K8S_POD_NAMESPACE: "podNamespace",
  K8S_POD_INFRA_CONTAINER_ID: "infraContainerId",
  K8S_POD_UID: "podUid",
  IgnoreUnknown: null,
};

export function parseCniArgs(raw: string | undefined): PodArgs {
  const out: PodArgs = {};
  if (!raw) return out;
  const pairs: Array<[string, string]> = [];
  for (const part of raw.split(";")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw new CniError(CniCode.INVALID_ENV, `CNI_ARGS: "${part}" is not KEY=VALUE`);
    pairs.push([part.slice(0, eq), part.slice(eq + 1)]);
  }
  const ignoreUnknown = pairs.some(([k, v]) => k === "IgnoreUnknown" && /^(1|true)$/i.test(v));
  for (const [key, value] of pairs) {
    const field = KNOWN[key];
    if (field === undefined) {
      if (ignoreUnknown) continue;
      throw new CniError(CniCode.UNSUPPORTED_FIELD, `CNI_ARGS: unknown key "${key}" (set IgnoreUnknown=1 to allow it)`);
    }
    if (field && value !== "") out[field] = value;
  }
  return out;
}
