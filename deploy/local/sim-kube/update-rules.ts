// What the API server refuses on update beyond what it refuses on create: fields that are
// immutable once stored. A pod's spec changes only in its images, activeDeadlineSeconds and
// added tolerations (its node only through pods/binding); a DaemonSet keeps its selector.
import { sameJson } from "./lifecycle.ts";
import type { FieldCause } from "./status.ts";
import type { KubeObject } from "./validate.ts";

export type UpdateValidator = (current: KubeObject, next: KubeObject) => FieldCause[];

type Loose = Record<string, unknown>;

function isRecord(value: unknown): value is Loose {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const POD_UPDATE_FORBIDDEN =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/** The spec with every field a pod update may change taken out. */
function immutablePart(spec: unknown): unknown {
  if (!isRecord(spec)) return spec;
  const { activeDeadlineSeconds: _deadline, tolerations: _tolerations, ...rest } = spec;
  const withoutImages = (list: unknown) =>
    Array.isArray(list) ? list.map((container) => (isRecord(container) ? { ...container, image: undefined } : container)) : list;
  return { ...rest, containers: withoutImages(rest.containers), initContainers: withoutImages(rest.initContainers) };
}

function tolerationsOf(spec: unknown): unknown[] {
  return isRecord(spec) && Array.isArray(spec.tolerations) ? spec.tolerations : [];
}

export const validatePodUpdate: UpdateValidator = (current, next) => {
  const causes: FieldCause[] = [];
  if (!sameJson(immutablePart(current.spec), immutablePart(next.spec))) {
    causes.push({ field: "spec", message: `Forbidden: ${POD_UPDATE_FORBIDDEN}`, type: "FieldValueForbidden" });
  }
  const kept = tolerationsOf(next.spec);
  if (tolerationsOf(current.spec).some((old) => !kept.some((now) => sameJson(old, now)))) {
    causes.push({ field: "spec.tolerations", message: "Forbidden: existing toleration can not be modified except its tolerationSeconds", type: "FieldValueForbidden" });
  }
  return causes;
};

export const validateDaemonSetUpdate: UpdateValidator = (current, next) => {
  const selector = (object: KubeObject) => (isRecord(object.spec) ? object.spec.selector : undefined);
  if (sameJson(selector(current), selector(next))) return [];
  return [{ field: "spec.selector", message: `Invalid value: ${JSON.stringify(selector(next))}: field is immutable`, type: "FieldValueInvalid" }];
};

/** No finalizer can be added to an object that is being deleted. */
export function validateFinalizers(current: KubeObject, next: KubeObject): FieldCause[] {
  if (current.metadata.deletionTimestamp === undefined) return [];
  const before = new Set(current.metadata.finalizers);
  const added = (next.metadata.finalizers ?? []).filter((finalizer) => !before.has(finalizer));
  if (added.length === 0) return [];
  return [{ field: "metadata.finalizers", message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`, type: "FieldValueForbidden" }];
}
