// The local copy of deploy/k8s/policy-controller.yaml (what is patched, what is not) and when
// its Deployment counts as rolled out.
import { describe, expect, test } from "bun:test";
import { loadManifest } from "./aws-node-daemonset.ts";
import { localPolicyController, POLICY_CONTROLLER_MANIFEST, rolloutGap } from "./policy-controller-deployment.ts";

const shipped = loadManifest(POLICY_CONTROLLER_MANIFEST);
const deploymentOf = (docs: typeof shipped) => docs.find((d) => d.kind === "Deployment")!;
const podSpec = (docs: typeof shipped) => deploymentOf(docs).spec!.template.spec;

describe("localPolicyController", () => {
  test("the image, CLUSTER_ENDPOINT and the node's network; everything else as shipped", () => {
    const local = localPolicyController(shipped, { image: "localhost/aws-vpc-cni:9", kubeEndpoint: "http://169.254.64.1:4321" });
    expect(local.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(shipped.map((d) => `${d.kind}/${d.metadata.name}`));
    expect(local.filter((d) => d.kind !== "Deployment")).toEqual(shipped.filter((d) => d.kind !== "Deployment"));
    const spec = podSpec(local);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.containers[0].image).toBe("localhost/aws-vpc-cni:9");
    expect(spec.containers[0].env).toEqual([{ name: "CLUSTER_ENDPOINT", value: "http://169.254.64.1:4321" }]);
    const { hostNetwork: _, ...rest } = spec;
    const { hostNetwork: __, ...shippedRest } = podSpec(shipped);
    const strip = (s: typeof rest) => ({ ...s, containers: s.containers.map(({ image: _i, env: _e, ...c }: Record<string, unknown>) => c) });
    expect(strip(rest)).toEqual(strip(shippedRest));
    // what the manifest asks of the container stays
    expect(spec.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 });
    expect(spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    expect(podSpec(shipped).hostNetwork).toBeUndefined();
  });

  test("a manifest without the Deployment or its container: LOCAL_MANIFEST, naming what is missing", () => {
    expect(() => localPolicyController(shipped.filter((d) => d.kind !== "Deployment"), { image: "i", kubeEndpoint: "http://x" })).toThrow(
      expect.objectContaining({ code: "LOCAL_MANIFEST", message: expect.stringContaining("no Deployment named policy-controller") }),
    );
    const renamed = structuredClone(shipped);
    podSpec(renamed).containers[0].name = "other";
    expect(() => localPolicyController(renamed, { image: "i", kubeEndpoint: "http://x" })).toThrow(expect.objectContaining({ code: "LOCAL_MANIFEST", message: expect.stringContaining("no container named controller") }));
  });
});

describe("rolloutGap", () => {
  const at = (generation: number, status: Record<string, number>) => ({ metadata: { generation }, spec: { replicas: 1 }, status });
  test.each([
    ["not observed", at(2, { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }), "generation 2 not observed yet"],
    ["no pod yet", at(1, { observedGeneration: 1 }), "0 of 1 updated, 0 ready, 0 available, 0 in all"],
    ["made, not ready", at(1, { observedGeneration: 1, replicas: 1, updatedReplicas: 1 }), "1 of 1 updated, 0 ready, 0 available, 1 in all"],
    ["an old pod left", at(2, { observedGeneration: 2, replicas: 2, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2 }), "1 of 1 updated, 2 ready, 2 available, 2 in all"],
    ["rolled out", at(1, { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }), undefined],
  ])("%s", (_, deployment, gap) => {
    expect(rolloutGap(deployment)).toBe(gap);
  });
});
