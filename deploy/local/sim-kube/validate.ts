// What the API server refuses with 422 Invalid, for the kinds this server stores. Each check
// names the offending field. Only the rules the project's objects and manifests can break.
import type { FieldCause } from "./status.ts";

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    generation?: number;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    finalizers?: string[];
    ownerReferences?: OwnerReference[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
};

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export type Validator = (object: KubeObject) => FieldCause[];

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function required(field: string): FieldCause {
  return { field, message: "Required value", type: "FieldValueRequired" };
}

function invalidValue(field: string, message: string): FieldCause {
  return { field, message, type: "FieldValueInvalid" };
}

function stringMap(value: unknown, field: string): FieldCause[] {
  if (value === undefined) return [];
  if (!isRecord(value)) return [invalidValue(field, "must be a map of strings")];
  return Object.entries(value)
    .filter(([, entry]) => typeof entry !== "string")
    .map(([key]) => invalidValue(`${field}[${key}]`, "must be a string"));
}

export function validateMetadata(object: KubeObject): FieldCause[] {
  const causes: FieldCause[] = [];
  const name = object.metadata.name;
  if (name === undefined || name === "") causes.push(required("metadata.name"));
  else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    causes.push(invalidValue("metadata.name", `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`));
  }
  causes.push(...stringMap(object.metadata.labels, "metadata.labels"));
  causes.push(...stringMap(object.metadata.annotations, "metadata.annotations"));
  causes.push(...finalizers(object.metadata.finalizers));
  causes.push(...ownerReferences(object.metadata.ownerReferences));
  return causes;
}

function finalizers(value: unknown): FieldCause[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== "string" || entry === "")) {
    return [invalidValue("metadata.finalizers", "must be a list of non-empty strings")];
  }
  return [];
}

function ownerReferences(value: unknown): FieldCause[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return [invalidValue("metadata.ownerReferences", "must be a list")];
  const causes = value.flatMap((reference, index): FieldCause[] => {
    const at = `metadata.ownerReferences[${index}]`;
    if (!isRecord(reference)) return [invalidValue(at, "must be an object")];
    return ["apiVersion", "kind", "name", "uid"]
      .filter((key) => typeof reference[key] !== "string" || reference[key] === "")
      .map((key) => required(`${at}.${key}`));
  });
  if (value.filter((reference) => isRecord(reference) && reference.controller === true).length > 1) {
    causes.push(invalidValue("metadata.ownerReferences", "Only one reference can have Controller set to true"));
  }
  return causes;
}

function envVars(value: unknown, field: string): FieldCause[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return [invalidValue(field, "must be a list")];
  return value.flatMap((variable, index): FieldCause[] =>
    isRecord(variable) && typeof variable.name === "string" && variable.name !== "" ? [] : [required(`${field}[${index}].name`)],
  );
}

function containers(value: unknown, field: string): FieldCause[] {
  if (!Array.isArray(value) || value.length === 0) return [required(field)];
  return value.flatMap((container, index): FieldCause[] => {
    const at = `${field}[${index}]`;
    if (!isRecord(container)) return [invalidValue(at, "must be an object")];
    const causes: FieldCause[] = [];
    if (typeof container.name !== "string" || container.name === "") causes.push(required(`${at}.name`));
    if (typeof container.image !== "string" || container.image === "") causes.push(required(`${at}.image`));
    causes.push(...envVars(container.env, `${at}.env`));
    return causes;
  });
}

function podSpec(spec: unknown, field: string): FieldCause[] {
  if (!isRecord(spec)) return [required(field)];
  const causes = containers(spec.containers, `${field}.containers`);
  if (spec.initContainers !== undefined) causes.push(...containers(spec.initContainers, `${field}.initContainers`));
  if (spec.nodeName !== undefined && typeof spec.nodeName !== "string") {
    causes.push(invalidValue(`${field}.nodeName`, "must be a string"));
  }
  return causes;
}

export const validatePod: Validator = (pod) => podSpec(pod.spec, "spec");

export const validateNode: Validator = (node) => {
  const spec = node.spec;
  if (spec === undefined) return [];
  if (!isRecord(spec)) return [invalidValue("spec", "must be an object")];
  if (spec.taints === undefined) return [];
  if (!Array.isArray(spec.taints)) return [invalidValue("spec.taints", "must be a list")];
  const effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
  return spec.taints.flatMap((taint, index): FieldCause[] => {
    const at = `spec.taints[${index}]`;
    if (!isRecord(taint)) return [invalidValue(at, "must be an object")];
    const causes: FieldCause[] = [];
    if (typeof taint.key !== "string" || taint.key === "") causes.push(required(`${at}.key`));
    if (typeof taint.effect !== "string" || !effects.includes(taint.effect)) {
      causes.push({ field: `${at}.effect`, message: `Unsupported value: ${JSON.stringify(taint.effect)}: supported values: ${effects.join(", ")}`, type: "FieldValueNotSupported" });
    }
    return causes;
  });
};

export const validateEniConfig: Validator = (eniConfig) => {
  const spec = eniConfig.spec;
  if (spec === undefined) return [];
  if (!isRecord(spec)) return [invalidValue("spec", "must be an object")];
  const causes: FieldCause[] = [];
  if (spec.subnet !== undefined && typeof spec.subnet !== "string") causes.push(invalidValue("spec.subnet", "must be a string"));
  if (spec.securityGroups !== undefined) {
    if (!Array.isArray(spec.securityGroups) || spec.securityGroups.some((group) => typeof group !== "string")) {
      causes.push(invalidValue("spec.securityGroups", "must be a list of strings"));
    }
  }
  return causes;
};

export const validateCniNode: Validator = (cniNode) => {
  const spec = cniNode.spec;
  if (spec === undefined) return [];
  if (!isRecord(spec)) return [invalidValue("spec", "must be an object")];
  if (spec.features === undefined) return [];
  if (!Array.isArray(spec.features)) return [invalidValue("spec.features", "must be a list")];
  return spec.features.flatMap((feature, index): FieldCause[] =>
    isRecord(feature) && typeof feature.name === "string" && feature.name !== ""
      ? []
      : [required(`spec.features[${index}].name`)],
  );
};

const INT_OR_PERCENT = /^(\d+)%$/;

/** An IntOrString of a rolling update: a non-negative integer or "N%" with N ≤ 100. */
function intOrPercent(value: unknown, field: string): FieldCause[] {
  if (value === undefined) return [];
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return [];
  const percent = typeof value === "string" ? INT_OR_PERCENT.exec(value) : null;
  if (percent && Number(percent[1]) <= 100) return [];
  return [invalidValue(field, `Invalid value: ${JSON.stringify(value)}: must be a non-negative integer or a percentage up to 100%`)];
}

function isZero(value: unknown): boolean {
  return value === 0 || value === "0%";
}

function updateStrategy(strategy: unknown): FieldCause[] {
  if (strategy === undefined) return [];
  if (!isRecord(strategy)) return [invalidValue("spec.updateStrategy", "must be an object")];
  if (strategy.type !== "RollingUpdate" && strategy.type !== "OnDelete") {
    return [{ field: "spec.updateStrategy.type", message: `Unsupported value: ${JSON.stringify(strategy.type)}: supported values: "OnDelete", "RollingUpdate"`, type: "FieldValueNotSupported" }];
  }
  const rolling = strategy.rollingUpdate;
  if (strategy.type === "OnDelete" || rolling === undefined) return [];
  if (!isRecord(rolling)) return [invalidValue("spec.updateStrategy.rollingUpdate", "must be an object")];
  const causes = [
    ...intOrPercent(rolling.maxUnavailable, "spec.updateStrategy.rollingUpdate.maxUnavailable"),
    ...intOrPercent(rolling.maxSurge, "spec.updateStrategy.rollingUpdate.maxSurge"),
  ];
  if (causes.length === 0 && isZero(rolling.maxUnavailable) && (rolling.maxSurge === undefined || isZero(rolling.maxSurge))) {
    causes.push(invalidValue("spec.updateStrategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0"));
  }
  return causes;
}

export const validateDaemonSet: Validator = (daemonSet) => {
  const spec = daemonSet.spec;
  if (!isRecord(spec)) return [required("spec")];
  const causes: FieldCause[] = [];
  const selector = spec.selector;
  const template = spec.template;
  if (!isRecord(selector) || !isRecord(selector.matchLabels) && !Array.isArray(selector.matchExpressions)) {
    causes.push(required("spec.selector"));
  }
  if (!isRecord(template)) return [...causes, required("spec.template")];
  causes.push(...podSpec(template.spec, "spec.template.spec"));
  causes.push(...updateStrategy(spec.updateStrategy));
  const templateLabels = isRecord(template.metadata) && isRecord(template.metadata.labels) ? template.metadata.labels : {};
  if (isRecord(selector) && isRecord(selector.matchLabels)) {
    const mismatch = Object.entries(selector.matchLabels).some(([key, value]) => templateLabels[key] !== value);
    if (mismatch) causes.push(invalidValue("spec.template.metadata.labels", "`selector` does not match template `labels`"));
  }
  return causes;
};

export const validateConfigMap: Validator = (configMap) => stringMap(configMap.data, "data");

export const validateClusterRole: Validator = (role) => {
  if (role.rules === undefined) return [];
  if (!Array.isArray(role.rules)) return [invalidValue("rules", "must be a list")];
  return role.rules.flatMap((rule, index): FieldCause[] =>
    isRecord(rule) && Array.isArray(rule.verbs) && rule.verbs.length > 0 ? [] : [required(`rules[${index}].verbs`)],
  );
};

export const validateRoleBinding: Validator = (binding) => {
  const roleRef = binding.roleRef;
  if (!isRecord(roleRef)) return [required("roleRef")];
  const causes: FieldCause[] = [];
  if (typeof roleRef.kind !== "string" || roleRef.kind === "") causes.push(required("roleRef.kind"));
  if (typeof roleRef.name !== "string" || roleRef.name === "") causes.push(required("roleRef.name"));
  if (typeof roleRef.apiGroup !== "string") causes.push(required("roleRef.apiGroup"));
  return causes;
};

export const validateCrd: Validator = (crd) => {
  const spec = crd.spec;
  if (!isRecord(spec)) return [required("spec")];
  const causes: FieldCause[] = [];
  const names = isRecord(spec.names) ? spec.names : undefined;
  if (typeof spec.group !== "string" || spec.group === "") causes.push(required("spec.group"));
  if (names === undefined || typeof names.plural !== "string") causes.push(required("spec.names.plural"));
  if (names === undefined || typeof names.kind !== "string") causes.push(required("spec.names.kind"));
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") {
    causes.push({ field: "spec.scope", message: `Unsupported value: ${JSON.stringify(spec.scope)}: supported values: "Cluster", "Namespaced"`, type: "FieldValueNotSupported" });
  }
  if (!Array.isArray(spec.versions) || spec.versions.length === 0) causes.push(required("spec.versions"));
  if (names !== undefined && typeof names.plural === "string" && typeof spec.group === "string") {
    const expected = `${names.plural}.${spec.group}`;
    if (crd.metadata.name !== expected) causes.push(invalidValue("metadata.name", `must be spec.names.plural+"."+spec.group: "${expected}"`));
  }
  return causes;
};
