// The simulated cloud's HTTP endpoints, bound to the management address in the root
// namespace (never 0.0.0.0): the EC2 Query API (+ its control API on a Unix socket) and the
// Kubernetes API (+ a kubeconfig usable from the root namespace) with its controllers
// (scheduler, DaemonSet controller, garbage collector; the VPC resource controller when the
// EC2 endpoint is given).
import { EC2Client } from "@aws-sdk/client-ec2";
import type pino from "pino";
import { startControlPlane } from "./controllers/control-plane.ts";
import type { VpcResourceControllerOptions } from "./controllers/vpc-rc/controller.ts";
import { serveSimEc2, type Ec2Model, type SimEc2Server } from "./sim-ec2/index.ts";
import { serveKube, writeKubeconfig, type ServedKube } from "./sim-kube/serve.ts";

export interface ServedApi {
  url: string;
  stop(): Promise<void>;
}

export interface KubeApi extends ServedApi {
  served: ServedKube;
  createNode(node: Record<string, unknown>): Promise<void>;
}

export interface Ec2Api extends ServedApi {
  served: SimEc2Server;
}

export async function startEc2Api(opts: { model: Ec2Model; host: string; controlSocket: string; log: pino.Logger }): Promise<Ec2Api> {
  // The service settles asynchronous attachments on its own timers.
  const served = serveSimEc2({ host: opts.host, port: 0, controlSocket: opts.controlSocket, model: opts.model });
  return { url: served.endpoint, served, stop: () => served.stop() };
}

/** The cluster name the local deployment's nodes are configured with (CLUSTER_NAME). */
export const LOCAL_CLUSTER_NAME = "local";

/** Tests only: hooks of the simulated VPC resource controller (a shorter cooldown floor, a slow annotation). */
export type VpcResourceHooks = Pick<VpcResourceControllerOptions, "minCooldownMs" | "annotationDelayMs">;

export async function startKubeApi(opts: { host: string; kubeconfig: string; log: pino.Logger; ec2Endpoint?: string; vpcResourceHooks?: VpcResourceHooks }): Promise<KubeApi> {
  const served = serveKube({ hostname: opts.host, port: 0 });
  await writeKubeconfig(opts.kubeconfig, served.url);
  // The VPC resource controller's EC2 client (dummy credentials: the simulated EC2 checks none).
  const ec2 = opts.ec2Endpoint
    ? new EC2Client({ region: "us-west-2", endpoint: opts.ec2Endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } })
    : undefined;
  const controlPlane = startControlPlane(served.store, {
    log: opts.log.child({ component: "controllers" }),
    ...(ec2 ? { vpcResources: { ec2, clusterName: LOCAL_CLUSTER_NAME, ...opts.vpcResourceHooks } } : {}),
  });
  return {
    url: served.url,
    served,
    stop: () => {
      controlPlane.stop();
      ec2?.destroy();
      return served.stop();
    },
    async createNode(node) {
      // Through the API's own validation, in process.
      const res = await served.kube.fetch(
        new Request(`${served.url}/api/v1/nodes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(node) }),
      );
      if (res.status !== 201 && res.status !== 200) throw new Error(`creating node failed: ${res.status} ${await res.text()}`);
    },
  };
}
