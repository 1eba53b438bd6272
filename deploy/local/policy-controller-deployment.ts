/**
 * The policy controller in the local deployment's daemonset mode: deploy/k8s/policy-controller.yaml
 * (its ServiceAccount, RBAC and Deployment) applied with kubectl, the Deployment controller of
 * the simulated control plane making its pod and a node's kubelet running it from the image
 * built here, as the manifest says (uid 65532, read-only root filesystem, probes on :8081).
 * Two things are patched into the local copy, as for aws-node: the image, and the way to the
 * simulated API server:
 * - CLUSTER_ENDPOINT on the controller container: the in-cluster config would build
 *   https://KUBERNETES_SERVICE_HOST:PORT, but no Service network exists here and the simulated
 *   API server speaks plain HTTP at the management address; the service account's token and CA
 *   are still mounted and read by the client.
 * - hostNetwork: true. On EKS the controller runs in the control plane, outside the pod network
 *   the policies govern; a pod-network copy under NETWORK_POLICY_ENFORCING_MODE=strict would be
 *   cut off from the API server until a policy selects it, which only it can write. With the
 *   node's network (hostNetwork pods are exempt from policies) it reaches the API server the
 *   way the aws-node pod does.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonSetModeError, K8S_DIR, kubectl, loadManifest } from "./aws-node-daemonset.ts";
import type { Stack } from "./stack.ts";

export const POLICY_CONTROLLER_MANIFEST = join(K8S_DIR, "policy-controller.yaml");
export const POLICY_CONTROLLER_CONTAINER = "controller";
const DEPLOYMENT = "/apis/apps/v1/namespaces/kube-system/deployments/policy-controller";

type Obj = ReturnType<typeof loadManifest>[number];
type Container = { name: string; image?: string; env?: Array<{ name: string; value?: string }> };

/** The manifest with the local image, CLUSTER_ENDPOINT and the node's network (see above). */
export function localPolicyController(docs: readonly Obj[], o: { image: string; kubeEndpoint: string }): Obj[] {
  const out = structuredClone(docs) as Obj[];
  const deployment = out.find((d) => d.kind === "Deployment" && d.metadata.name === "policy-controller");
  if (!deployment) throw new DaemonSetModeError("LOCAL_MANIFEST", "deploy/k8s/policy-controller.yaml has no Deployment named policy-controller");
  const spec = deployment.spec?.template?.spec as { hostNetwork?: boolean; containers?: Container[] } | undefined;
  const controller = spec?.containers?.find((c) => c.name === POLICY_CONTROLLER_CONTAINER);
  if (!spec || !controller) throw new DaemonSetModeError("LOCAL_MANIFEST", `the policy-controller Deployment has no container named ${POLICY_CONTROLLER_CONTAINER}`);
  for (const c of spec.containers ?? []) c.image = o.image;
  controller.env = [...(controller.env ?? []).filter((e) => e.name !== "CLUSTER_ENDPOINT"), { name: "CLUSTER_ENDPOINT", value: o.kubeEndpoint }];
  spec.hostNetwork = true;
  return out;
}

/** Writes the patched manifest to DIR/policy-controller/ (one file per object) and applies it. */
export async function applyPolicyController(stack: Stack, o: { image: string }): Promise<{ dir: string }> {
  const dir = join(stack.dir, "policy-controller");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const docs = localPolicyController(loadManifest(POLICY_CONTROLLER_MANIFEST), { image: o.image, kubeEndpoint: stack.kube.endpoint });
  for (const [i, d] of docs.entries()) writeFileSync(join(dir, `${String(i).padStart(2, "0")}-${d.kind.toLowerCase()}-${d.metadata.name}.json`), JSON.stringify(d, null, 2));
  await kubectl(["--kubeconfig", stack.kube.kubeconfig, "apply", "-f", dir]);
  return { dir };
}

interface DeploymentJson {
  metadata: { generation?: number };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number };
}

/** What keeps the Deployment from being rolled out (as `kubectl rollout status` judges), or undefined when it is. */
export function rolloutGap(d: DeploymentJson): string | undefined {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  if ((s.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) return `generation ${d.metadata.generation} not observed yet`;
  const gap = `${s.updatedReplicas ?? 0} of ${want} updated, ${s.readyReplicas ?? 0} ready, ${s.availableReplicas ?? 0} available, ${s.replicas ?? 0} in all`;
  return (s.updatedReplicas ?? 0) >= want && (s.replicas ?? 0) <= (s.updatedReplicas ?? 0) && (s.availableReplicas ?? 0) >= want ? undefined : gap;
}

/** Waits until the Deployment is rolled out; on timeout the coded error says what is missing. */
export async function waitPolicyControllerAvailable(stack: Pick<Stack, "kube">, timeoutMs: number, pollMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "nothing yet";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${stack.kube.endpoint}${DEPLOYMENT}`, { signal: AbortSignal.timeout(5_000) });
      if (!res.ok) last = `GET deployment policy-controller: HTTP ${res.status}`;
      else {
        const gap = rolloutGap((await res.json()) as DeploymentJson);
        if (gap === undefined) return;
        last = gap;
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await Bun.sleep(pollMs);
  }
  throw new DaemonSetModeError(
    "LOCAL_POLICY_CONTROLLER_NOT_AVAILABLE",
    `deployment policy-controller not available after ${Math.round(timeoutMs / 1000)} s: ${last} (kubectl --kubeconfig ${stack.kube.kubeconfig} -n kube-system describe pods -l app.kubernetes.io/name=policy-controller)`,
  );
}
