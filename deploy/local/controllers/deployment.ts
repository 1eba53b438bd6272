// The Deployment controller: keeps spec.replicas pods of every apps/v1 Deployment's template
// (deployment-plan.ts decides; the scheduler binds them), replaces its pods when the template
// changes (Recreate: the old ones gone first), and keeps the status `kubectl get deploy` and
// `kubectl rollout status` read. Its pods are owned by the Deployment, so the garbage
// collector deletes them with it.
import type { KubeObject } from "../sim-kube/validate.ts";
import { DEPLOYMENTS, PODS } from "./cluster.ts";
import type { ClusterApi } from "./cluster.ts";
import { isControlledBy, templateHash, templateOf } from "./daemon-pods.ts";
import { deploymentPodFor, deploymentStatus, minReadySecondsOf, planDeployment } from "./deployment-plan.ts";
import type { DeploymentStatus } from "./deployment-plan.ts";
import { EventRecorder } from "./events.ts";
import { ReconcileLoop, SILENT_LOG } from "./reconcile-loop.ts";
import type { ControllerLog } from "./reconcile-loop.ts";
import { createOwnedPod, deleteOwnedPod } from "./owned-pods.ts";
import { isPodAvailable } from "./rollout.ts";

export const DEPLOYMENT_CONTROLLER = "deployment-controller";

export interface DeploymentControllerOptions {
  log?: ControllerLog;
}

const STATUS_FIELDS: ReadonlyArray<keyof DeploymentStatus> = [
  "observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas", "conditions",
];

export class DeploymentController {
  readonly #loop: ReconcileLoop;
  readonly #events: EventRecorder;
  readonly #log: ControllerLog;

  constructor(private readonly cluster: ClusterApi, options: DeploymentControllerOptions = {}) {
    this.#log = options.log ?? SILENT_LOG;
    this.#loop = new ReconcileLoop(DEPLOYMENT_CONTROLLER, () => this.#pass(), this.#log);
    this.#events = new EventRecorder(cluster, DEPLOYMENT_CONTROLLER);
  }

  start(): void {
    this.#loop.start((onChange) => this.cluster.subscribe([DEPLOYMENTS, PODS], onChange));
  }

  stop(): void {
    this.#loop.stop();
  }

  #pass(): number | undefined {
    const deployments = this.cluster.list(DEPLOYMENTS);
    if (deployments.length === 0) return undefined;
    const pods = this.cluster.list(PODS);
    let again: number | undefined;
    for (const deployment of deployments) {
      if (deployment.metadata.deletionTimestamp !== undefined) continue;
      try {
        const wait = this.#sync(deployment, pods.filter((pod) => isControlledBy(pod, deployment)));
        if (wait !== undefined) again = Math.min(again ?? Infinity, wait);
      } catch (error) {
        this.#log.warn({ deployment: `${deployment.metadata.namespace}/${deployment.metadata.name}`, error: String(error) }, "deployment sync failed");
        again = Math.min(again ?? Infinity, 1000);
      }
    }
    return again;
  }

  /** One Deployment: delete, create, then report; returns when it wants another pass. */
  #sync(deployment: KubeObject, pods: KubeObject[]): number | undefined {
    const hash = templateHash(templateOf(deployment));
    const now = this.cluster.now();
    const minReadySeconds = minReadySecondsOf(deployment);
    const plan = planDeployment(deployment, pods, hash, (pod) => isPodAvailable(pod, minReadySeconds, now));
    for (const pod of plan.remove) deleteOwnedPod(this.cluster, this.#events, deployment, pod);
    for (let i = 0; i < plan.create; i += 1) createOwnedPod(this.cluster, this.#events, deployment, deploymentPodFor(deployment, hash));

    const fresh = this.cluster.list(PODS, deployment.metadata.namespace).filter((pod) => isControlledBy(pod, deployment));
    const { status, availableInMs } = deploymentStatus(deployment, fresh, hash, this.cluster.now());
    this.#writeStatus(deployment, status);
    return availableInMs === undefined ? undefined : availableInMs + 50;
  }

  #writeStatus(deployment: KubeObject, status: DeploymentStatus): void {
    const current = this.cluster.get(DEPLOYMENTS, deployment.metadata.namespace, deployment.metadata.name ?? "");
    if (current === undefined || current.metadata.uid !== deployment.metadata.uid) return;
    // fields absent from the new status are removed (null), the others set; conditions replaced whole
    const patch = Object.fromEntries(STATUS_FIELDS.map((field) => [field, status[field] ?? null]));
    this.cluster.patch(DEPLOYMENTS, current, { status: patch }, { subresource: "status", type: "merge" });
  }
}
