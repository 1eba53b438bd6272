// The simulated cloud's HTTP endpoints, bound to the management address in the root
// namespace (never 0.0.0.0): the EC2 Query API (+ its control API on a Unix socket) and the
// Kubernetes API (+ a kubeconfig usable from the root namespace) with its controllers
// (scheduler, DaemonSet controller, garbage collector).
import type pino from "pino";
import { startControlPlane } from "./controllers/control-plane.ts";
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

export async function startKubeApi(opts: { host: string; kubeconfig: string; log: pino.Logger }): Promise<KubeApi> {
  const served = serveKube({ hostname: opts.host, port: 0 });
  await writeKubeconfig(opts.kubeconfig, served.url);
  const controlPlane = startControlPlane(served.store, { log: opts.log.child({ component: "controllers" }) });
  return {
    url: served.url,
    served,
    stop: () => {
      controlPlane.stop();
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
