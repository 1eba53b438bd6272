/**
 * The policy controller in a one-node local deployment (processes mode, the kubelet running
 * pods with podman): pods made with kubectl get VPC addresses from the product, a
 * NetworkPolicy applied with kubectl becomes a PolicyEndpoint naming those pods with the node's
 * address as hostIP and the client pod as the allowed peer, and deleting the policy removes it.
 */
import { expect } from "bun:test";
import { usingKubeDeployment } from "./kube-deployment.ts";
import { apply, getJson, kubectl } from "./kubelet/kube.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { eventually } from "./podman/node-state.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl");

type PodJson = { status?: { podIP?: string; phase?: string } };
type PolicyEndpointList = { items: Array<{ spec: { podSelectorEndpoints?: Array<{ name: string; namespace: string; podIP: string; hostIP: string }>; ingress?: Array<{ cidr: string; ports?: unknown[] }> } }> };

gate.describe("the policy controller of a local deployment (root)", () => {
  const deployment = usingKubeDeployment({ tag: "npcontroller", deployment: { nodes: 1 }, stopTimeoutMs: 120_000 });
  const stack = () => deployment.dep().stack;

  const policyEndpoints = async (): Promise<PolicyEndpointList | undefined> => {
    const r = await kubectl(stack(), ["get", "policyendpoints.networking.k8s.aws", "-n", "default", "-o", "json"]);
    return r.exitCode === 0 ? (JSON.parse(r.stdout) as PolicyEndpointList) : undefined;
  };

  const pod = (name: string, labels: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels },
    spec: { nodeName: stack().nodes[0]!.name, terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox:1.36", command: ["sleep", "3600"], ports: [{ name: "http", containerPort: 8080 }] }] },
  });

  gate.test("a policy applied with kubectl names the pods' VPC addresses and the node; deleting it removes its objects", async () => {
    await apply(stack(), pod("server", { app: "server" }));
    await apply(stack(), pod("client", { app: "client" }));
    const ipOf = (name: string) => eventually(`${name} has an address`, 60_000, async () => (await getJson<PodJson>(stack(), "pod", name))?.status?.podIP || undefined);
    const [serverIp, clientIp] = [await ipOf("server"), await ipOf("client")];
    await apply(stack(), {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "server", namespace: "default" },
      spec: { podSelector: { matchLabels: { app: "server" } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }], ports: [{ port: "http" }] }] },
    });
    const list = await eventually("the PolicyEndpoint", 10_000, async () => {
      const found = await policyEndpoints();
      return found?.items.length ? found : undefined;
    });
    expect(list.items[0]!.spec.podSelectorEndpoints).toEqual([{ hostIP: stack().nodes[0]!.primaryIp, podIP: serverIp, name: "server", namespace: "default" }]);
    expect(list.items[0]!.spec.ingress).toEqual([{ cidr: clientIp, ports: [{ protocol: "TCP", port: 8080 }] }]);
    expect((await kubectl(stack(), ["delete", "netpol", "server"])).exitCode).toBe(0);
    await eventually("no PolicyEndpoint left", 10_000, async () => ((await policyEndpoints())?.items.length === 0 ? true : undefined));
  }, 120_000);
});
