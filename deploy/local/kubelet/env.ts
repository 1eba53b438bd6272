// A container's environment as the kubelet computes it: envFrom first (in order, each with
// its prefix), then env on top; values from the pod's own fields (downward API) and from
// ConfigMaps; `$(NAME)` references expanded against what is defined before. Pure: the
// ConfigMaps are fetched beforehand (configMapsReferenced) and passed in.
import type { ConfigMap, Container, Pod } from "./pod-types.ts";
import { PodSpecError } from "./spec-error.ts";

export class EnvError extends PodSpecError {}

export interface EnvContext {
  pod: Pod;
  podIP?: string;
  hostIP: string;
  /** ConfigMaps of the pod's namespace by name; a missing one is absent. */
  configMaps: ReadonlyMap<string, ConfigMap>;
}

export interface ResolvedEnv {
  env: Array<[string, string]>;
  /** envFrom keys that are not valid variable names (skipped, as the kubelet does). */
  skipped: string[];
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const LABEL_REF = /^metadata\.(labels|annotations)\['([^']+)'\]$/;

/** The ConfigMap names a container's env and envFrom refer to (to fetch before resolving). */
export function configMapsReferenced(container: Container): string[] {
  const names = new Set<string>();
  for (const from of container.envFrom ?? []) if (from.configMapRef?.name) names.add(from.configMapRef.name);
  for (const v of container.env ?? []) if (v.valueFrom?.configMapKeyRef?.name) names.add(v.valueFrom.configMapKeyRef.name);
  return [...names];
}

/** A downward-API field of the pod (valueFrom.fieldRef.fieldPath). */
export function podField(ctx: EnvContext, fieldPath: string, field: string): string {
  const { pod } = ctx;
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata.name ?? "";
    case "metadata.namespace":
      return pod.metadata.namespace ?? "";
    case "metadata.uid":
      return pod.metadata.uid ?? "";
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "default";
    case "status.podIP":
    case "status.podIPs":
      return ctx.podIP ?? "";
    case "status.hostIP":
    case "status.hostIPs":
      return ctx.hostIP;
  }
  const m = LABEL_REF.exec(fieldPath);
  if (m) return (m[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations)?.[m[2] ?? ""] ?? "";
  throw new EnvError("KUBELET_ENV_FIELD", field, `unsupported fieldPath ${JSON.stringify(fieldPath)}`);
}

/**
 * `$(NAME)` → the value of NAME when defined, else left as written; `$$` → `$`. The
 * expansion Kubernetes applies to env values, command and args.
 */
export function expandRefs(text: string, lookup: (name: string) => string | undefined): string {
  return text.replace(/\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)/g, (whole, name: string | undefined) => {
    if (whole === "$$") return "$";
    return lookup(name ?? "") ?? whole;
  });
}

function configMapValue(ctx: EnvContext, ref: { name?: string; key?: string; optional?: boolean }, field: string): string | undefined {
  const namespace = ctx.pod.metadata.namespace ?? "default";
  if (!ref.name) throw new EnvError("KUBELET_ENV_REF", `${field}.name`, "required");
  if (!ref.key) throw new EnvError("KUBELET_ENV_REF", `${field}.key`, "required");
  const cm = ctx.configMaps.get(ref.name);
  if (!cm) {
    if (ref.optional) return undefined;
    throw new EnvError("KUBELET_ENV_CONFIGMAP", field, `configmap "${ref.name}" not found`);
  }
  const value = cm.data?.[ref.key];
  if (value === undefined) {
    if (ref.optional) return undefined;
    throw new EnvError("KUBELET_ENV_CONFIGMAP", field, `couldn't find key ${ref.key} in ConfigMap ${namespace}/${ref.name}`);
  }
  return value;
}

export function resolveEnv(container: Container, ctx: EnvContext, field = "spec.containers[0]"): ResolvedEnv {
  const values = new Map<string, string>();
  const skipped: string[] = [];
  for (const [i, from] of (container.envFrom ?? []).entries()) {
    const at = `${field}.envFrom[${i}]`;
    if (from.secretRef) {
      if (from.secretRef.optional) continue;
      throw new EnvError("KUBELET_ENV_SECRET", `${at}.secretRef`, "Secrets are not served by the local deployment");
    }
    const name = from.configMapRef?.name;
    if (!name) throw new EnvError("KUBELET_ENV_REF", `${at}.configMapRef.name`, "required");
    const cm = ctx.configMaps.get(name);
    if (!cm) {
      if (from.configMapRef?.optional) continue;
      throw new EnvError("KUBELET_ENV_CONFIGMAP", `${at}.configMapRef`, `configmap "${name}" not found`);
    }
    for (const [key, value] of Object.entries(cm.data ?? {})) {
      const envName = `${from.prefix ?? ""}${key}`;
      if (ENV_NAME.test(envName)) values.set(envName, value);
      else skipped.push(envName);
    }
  }
  for (const [i, v] of (container.env ?? []).entries()) {
    const at = `${field}.env[${i}]`;
    if (!v.name || !ENV_NAME.test(v.name)) throw new EnvError("KUBELET_ENV_NAME", `${at}.name`, `${JSON.stringify(v.name)} is not a valid variable name`);
    const from = v.valueFrom;
    let value: string | undefined;
    if (from === undefined) value = expandRefs(v.value ?? "", (name) => values.get(name));
    else if (from.fieldRef) value = podField(ctx, from.fieldRef.fieldPath ?? "", `${at}.valueFrom.fieldRef.fieldPath`);
    else if (from.configMapKeyRef) value = configMapValue(ctx, from.configMapKeyRef, `${at}.valueFrom.configMapKeyRef`);
    else if (from.secretKeyRef) {
      if (!from.secretKeyRef.optional) throw new EnvError("KUBELET_ENV_SECRET", `${at}.valueFrom.secretKeyRef`, "Secrets are not served by the local deployment");
    } else throw new EnvError("KUBELET_ENV_REF", `${at}.valueFrom`, "unsupported source (fieldRef and configMapKeyRef are)");
    if (value !== undefined) values.set(v.name, value);
  }
  return { env: [...values], skipped };
}

/** command and args with `$(NAME)` expanded against the container's environment. */
export function expandArgv(argv: readonly string[], env: ReadonlyArray<[string, string]>): string[] {
  const values = new Map(env);
  return argv.map((a) => expandRefs(a, (name) => values.get(name)));
}
