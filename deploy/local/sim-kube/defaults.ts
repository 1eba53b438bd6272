// The defaults the API server fills into pods, DaemonSets and Deployments (its defaulting functions and the
// admission plugins every cluster runs), so objects read back look as on a cluster and the
// controllers and the kubelet find every field they rely on. Each default only fills a field
// that is absent, so defaulting is idempotent and runs on every write.
import type { KubeObject } from "./validate.ts";

type Loose = Record<string, unknown>;

function isRecord(value: unknown): value is Loose {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function records(value: unknown): Loose[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** The built-in priority classes; any other name leaves `priority` to the caller. */
const PRIORITY_CLASSES: Record<string, number> = {
  "system-node-critical": 2000001000,
  "system-cluster-critical": 2000000000,
};

function defaultProbe(probe: unknown): void {
  if (!isRecord(probe)) return;
  probe.timeoutSeconds ??= 1;
  probe.periodSeconds ??= 10;
  probe.successThreshold ??= 1;
  probe.failureThreshold ??= 3;
  if (isRecord(probe.httpGet)) probe.httpGet.scheme ??= "HTTP";
}

function imagePullPolicy(image: unknown): string {
  if (typeof image !== "string") return "IfNotPresent";
  const afterSlash = image.slice(image.lastIndexOf("/") + 1);
  if (afterSlash.includes("@")) return "IfNotPresent";
  const tag = afterSlash.includes(":") ? afterSlash.slice(afterSlash.indexOf(":") + 1) : "latest";
  return tag === "latest" ? "Always" : "IfNotPresent";
}

function defaultContainer(container: Loose): void {
  container.imagePullPolicy ??= imagePullPolicy(container.image);
  container.terminationMessagePath ??= "/dev/termination-log";
  container.terminationMessagePolicy ??= "File";
  container.resources ??= {};
  for (const port of records(container.ports)) port.protocol ??= "TCP";
  for (const variable of records(container.env)) {
    const fieldRef = isRecord(variable.valueFrom) ? variable.valueFrom.fieldRef : undefined;
    if (isRecord(fieldRef)) fieldRef.apiVersion ??= "v1";
  }
  defaultProbe(container.livenessProbe);
  defaultProbe(container.readinessProbe);
  defaultProbe(container.startupProbe);
}

/** Defaults of a PodSpec, in a pod or in a template. */
export function defaultPodSpec(spec: unknown): void {
  if (!isRecord(spec)) return;
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  const priority = typeof spec.priorityClassName === "string" ? PRIORITY_CLASSES[spec.priorityClassName] : undefined;
  if (priority !== undefined) {
    spec.priority ??= priority;
    spec.preemptionPolicy ??= "PreemptLowerPriority";
  }
  for (const container of [...records(spec.initContainers), ...records(spec.containers)]) defaultContainer(container);
}

function tolerates(tolerations: Loose[], key: string, effect: string): boolean {
  return tolerations.some((toleration) =>
    (toleration.key === key || (toleration.key ?? "") === "" && toleration.operator === "Exists") &&
    (toleration.effect === effect || (toleration.effect ?? "") === ""));
}

function qosClass(spec: Loose): string {
  const containers = records(spec.containers);
  const resources = containers.map((container) => (isRecord(container.resources) ? container.resources : {}));
  const declared = resources.some((r) => isRecord(r.requests) && Object.keys(r.requests).length > 0 || isRecord(r.limits) && Object.keys(r.limits).length > 0);
  if (!declared) return "BestEffort";
  const guaranteed = resources.every((r) => {
    const limits = isRecord(r.limits) ? r.limits : {};
    const requests = isRecord(r.requests) ? r.requests : limits;
    return ["cpu", "memory"].every((name) => limits[name] !== undefined && requests[name] === limits[name]);
  });
  return guaranteed ? "Guaranteed" : "Burstable";
}

/**
 * A pod's defaults: its spec's, the ServiceAccount admission's (`default`), the
 * DefaultTolerationSeconds admission's (not-ready and unreachable tolerated for 300 s), and
 * the status a new pod starts with.
 */
export function defaultPod(pod: KubeObject): void {
  const spec = pod.spec;
  if (!isRecord(spec)) return;
  defaultPodSpec(spec);
  spec.serviceAccountName ??= "default";
  spec.serviceAccount ??= spec.serviceAccountName;
  const tolerations = records(spec.tolerations);
  for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
    if (!tolerates(tolerations, key, "NoExecute")) {
      tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
    }
  }
  spec.tolerations = tolerations;
  pod.status ??= { phase: "Pending", qosClass: qosClass(spec) };
}

/** An update strategy (DaemonSet's updateStrategy, Deployment's strategy): RollingUpdate unless set, with these bounds unless set. */
function rollingUpdateByDefault(value: unknown, maxUnavailable: number | string, maxSurge: number | string): Loose {
  const strategy = isRecord(value) ? value : {};
  strategy.type ??= "RollingUpdate";
  if (strategy.type === "RollingUpdate") {
    if (!isRecord(strategy.rollingUpdate)) strategy.rollingUpdate = {};
    const rolling = strategy.rollingUpdate as Loose;
    rolling.maxUnavailable ??= maxUnavailable;
    rolling.maxSurge ??= maxSurge;
  }
  return strategy;
}

/** A DaemonSet's defaults: rolling update of one node at a time, ten revisions, its template's. */
export function defaultDaemonSet(daemonSet: KubeObject): void {
  const spec = daemonSet.spec;
  if (!isRecord(spec)) return;
  spec.updateStrategy = rollingUpdateByDefault(spec.updateStrategy, 1, 0);
  spec.revisionHistoryLimit ??= 10;
  spec.minReadySeconds ??= 0;
  if (isRecord(spec.template)) defaultPodSpec(spec.template.spec);
  daemonSet.status ??= { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 };
}

/** A Deployment's defaults: one replica, a rolling update of 25 % surge and unavailable, its template's. */
export function defaultDeployment(deployment: KubeObject): void {
  const spec = deployment.spec;
  if (!isRecord(spec)) return;
  spec.replicas ??= 1;
  spec.strategy = rollingUpdateByDefault(spec.strategy, "25%", "25%");
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  if (isRecord(spec.template)) defaultPodSpec(spec.template.spec);
}

/** A CustomResourceDefinition is accepted and established as soon as it is stored. */
export function defaultCrd(crd: KubeObject): void {
  const spec = isRecord(crd.spec) ? crd.spec : {};
  const versions = records(spec.versions);
  const storage = versions.find((version) => version.storage === true) ?? versions[0];
  crd.status ??= {
    acceptedNames: spec.names ?? {},
    conditions: [
      { type: "NamesAccepted", status: "True", reason: "NoConflicts", message: "no conflicts found" },
      { type: "Established", status: "True", reason: "InitialNamesAccepted", message: "the initial names have been accepted" },
    ],
    storedVersions: storage === undefined ? [] : [storage.name],
  };
}
