// The simulated control plane's controllers, run in process against the API's store: the
// scheduler, the DaemonSet and Deployment controllers and the garbage collector; with `vpcResources`, also the
// VPC resource controller (security groups for pods) and its pod webhook, which stay idle until
// a node's CNINode has SecurityGroupsForPods and a SecurityGroupPolicy matches a pod. `stop`
// ends them at once (no pass runs after it returns).
import type { KubeStore } from "../sim-kube/store.ts";
import { ClusterApi } from "./cluster.ts";
import { DaemonSetController } from "./daemonset.ts";
import type { DaemonSetControllerOptions } from "./daemonset.ts";
import { DeploymentController } from "./deployment.ts";
import { GarbageCollector } from "./garbage-collector.ts";
import type { GarbageCollectorOptions } from "./garbage-collector.ts";
import type { ControllerLog } from "./reconcile-loop.ts";
import { Scheduler } from "./scheduler.ts";
import { VpcResourceController } from "./vpc-rc/controller.ts";
import type { VpcResourceControllerOptions } from "./vpc-rc/controller.ts";
import { podEniAdmission } from "./vpc-rc/sgp.ts";
import type { SchedulerOptions } from "./scheduler.ts";

export interface ControlPlaneOptions {
  log?: ControllerLog;
  scheduler?: Omit<SchedulerOptions, "log">;
  daemonSets?: Omit<DaemonSetControllerOptions, "log">;
  garbageCollector?: Omit<GarbageCollectorOptions, "log">;
  /** The simulated EC2 the VPC resource controller calls; absent: no such controller, no webhook. */
  vpcResources?: Omit<VpcResourceControllerOptions, "log">;
}

export interface RunningControlPlane {
  stop(): void;
}

export function startControlPlane(store: KubeStore, options: ControlPlaneOptions = {}): RunningControlPlane {
  const cluster = new ClusterApi(store);
  const log = options.log;
  const controllers = [
    new Scheduler(cluster, { ...options.scheduler, ...(log ? { log } : {}) }),
    new DaemonSetController(cluster, { ...options.daemonSets, ...(log ? { log } : {}) }),
    new DeploymentController(cluster, log ? { log } : {}),
    new GarbageCollector(cluster, { ...options.garbageCollector, ...(log ? { log } : {}) }),
  ];
  for (const controller of controllers) controller.start();
  const vpc = options.vpcResources ? new VpcResourceController(cluster, { ...options.vpcResources, ...(log ? { log } : {}) }) : undefined;
  const removeWebhook = vpc ? store.addCreateAdmission(podEniAdmission) : () => {};
  vpc?.start();
  return {
    stop: () => {
      for (const controller of controllers) controller.stop();
      vpc?.stop();
      removeWebhook();
    },
  };
}
