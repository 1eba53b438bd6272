/**
 * The policy agent's part of ADD and DEL (NETWORK_POLICY_ENFORCING_MODE standard or strict;
 * none: never called). ADD: the call starts right after the assignment, beside net-config's
 * wiring and the checkpoint write (app/pod-add.ts), and the ADD answers only once all have
 * settled: the agent's rules match the pod's host veth by name, so they can be in the kernel
 * before the veth exists, and no packet reaches or leaves the pod before the ADD answers
 * (docs/DESIGN-NOTES.md). The agent programs what it knows for the pod (strict: denied both
 * ways until a policy selects it). If the agent cannot be told, strict fails the ADD with its
 * own code naming the agent's socket (the caller undoes the pod's address and wiring);
 * standard logs and goes on (the pod is open until its policies are programmed, as standard
 * promises anyway). An ADD that fails after the agent may have recorded the pod has the agent
 * forget it again before it answers. DEL, beside the teardown: the agent forgets the pod; a
 * failure is logged, never fails the DEL.
 */
import { CniCode, CniError } from "../core/cni-error.ts";
import type { CniRequest } from "../core/cni-request.ts";
import type { CniResult } from "../core/cni-result.ts";
import type { PolicyAgentPort } from "../core/ports.ts";
import type { PodDeps } from "./pod-add.ts";
import { delBranchPod, type BranchAdded, type BranchDeps } from "./branch-pods.ts";

export interface PodPolicyDeps {
  agent: PolicyAgentPort;
  mode: "standard" | "strict";
}

/** The pod as the agent knows it: by namespace and name (CNI_ARGS). */
export interface PolicyPod {
  namespace?: string | undefined;
  name?: string | undefined;
}

/** What the agent's enforce call came to. */
export interface Enforced {
  /** Strict only: the ADD must fail with this. */
  refused?: CniError;
  /**
   * The agent answered, so it recorded the pod (also when its apply failed). A call that
   * failed or timed out on the way counts as not told: forgetting then would cost another
   * timeout, and the agent's reconcile drops a pod whose address addr-broker released.
   */
  told: boolean;
}

function why(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Never rejects: its outcome says whether the ADD may answer. */
export async function enforceNewPod(d: PodDeps, pod: PolicyPod & { hostVeth: string; address: string }): Promise<Enforced> {
  const p = d.policy;
  if (!p) return { told: false };
  const { broker } = d;
  if (!pod.namespace || !pod.name) {
    // Without K8S_POD_NAMESPACE/K8S_POD_NAME no PolicyEndpoint can name the pod.
    broker.log.warn({ hostVeth: pod.hostVeth, address: pod.address }, "no pod name in CNI_ARGS: the policy agent is not told of this pod");
    return { told: false };
  }
  let failure: string;
  let told = false;
  try {
    const r = await p.agent.enforce({ podNamespace: pod.namespace, podName: pod.name, mode: p.mode, hostVeth: pod.hostVeth, addresses: [pod.address] });
    told = true;
    if (r.success) return { told };
    // The agent recorded the pod before its apply failed.
    failure = `the policy agent at ${p.agent.socketPath} could not program the pod's policy`;
  } catch (err) {
    failure = `the policy agent at ${p.agent.socketPath} is not reachable: ${why(err)}`;
  }
  const fields = { pod: `${pod.namespace}/${pod.name}`, mode: p.mode, err: failure };
  if (p.mode === "standard") {
    broker.log.warn(fields, "network policy (standard): the pod is open until its policies are programmed");
    return { told };
  }
  broker.log.error(fields, "network policy (strict): ADD fails");
  return { told, refused: new CniError(CniCode.POLICY_AGENT_FAILED, `network policy (strict): ${failure}; the pod was not set up`) };
}

/**
 * A failed ADD whose call may have reached the agent: once that call has settled, the agent
 * forgets the pod (best effort, never throws), so its book keeps no pod that never came up.
 * The ADD awaits it before answering: a retried ADD's own call cannot be overtaken by it.
 */
export async function withdrawNewPod(d: PodDeps, call: Promise<Enforced> | undefined, pod: PolicyPod): Promise<void> {
  if (call && (await call).told) await forgetPod(d, pod, "ADD");
}

/**
 * A branch-ENI pod (security groups for pods), once wired: told as every other pod is, after
 * its wiring rather than beside it (its host veth's name depends on the pod's
 * POD_SECURITY_GROUP_ENFORCING_MODE, `vlan…` in strict, and net-config's answer names it).
 * Strict refused: the agent forgets the pod, the branch pod is torn down and forgotten, and
 * the ADD fails with the agent's code.
 */
export async function enforceBranchPod(d: PodDeps, branch: BranchDeps, req: Extract<CniRequest, { command: "ADD" }>, added: BranchAdded): Promise<CniResult> {
  if (!d.policy) return added.result;
  const pod = { namespace: req.args.podNamespace, name: req.args.podName };
  const call = enforceNewPod(d, { ...pod, hostVeth: added.hostVeth, address: added.address });
  const { refused } = await call;
  if (!refused) return added.result;
  await withdrawNewPod(d, call, pod);
  const del: Extract<CniRequest, { command: "DEL" }> = { ...req, command: "DEL" };
  await delBranchPod(branch, del).catch((err) => d.broker.log.error({ pod: `${pod.namespace}/${pod.name}`, err: why(err) }, "network policy (strict): the refused branch-ENI pod could not be torn down; the runtime's DEL will"));
  throw refused;
}

/** DEL, beside the teardown: best effort (the agent's reconcile forgets pods addr-broker no longer has). */
export function forgetDeletedPod(d: PodDeps, pod: PolicyPod): Promise<void> {
  return forgetPod(d, pod, "DEL");
}

async function forgetPod(d: PodDeps, pod: PolicyPod, during: "ADD" | "DEL"): Promise<void> {
  const p = d.policy;
  if (!p || !pod.namespace || !pod.name) return;
  const fields = { pod: `${pod.namespace}/${pod.name}`, during };
  try {
    const r = await p.agent.forget({ podNamespace: pod.namespace, podName: pod.name });
    if (!r.success) d.broker.log.warn(fields, "the policy agent could not remove the pod's rules; its reconcile retries");
  } catch (err) {
    d.broker.log.warn({ ...fields, err: why(err) }, `the policy agent is not reachable: the ${during} goes on; the agent forgets the pod at its next reconcile`);
  }
}
