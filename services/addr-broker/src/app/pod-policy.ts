/**
 * The policy agent's part of ADD and DEL (NETWORK_POLICY_ENFORCING_MODE standard or strict;
 * none: never called). ADD, after the wiring and before the answer: the agent programs what
 * it knows for the pod (strict: denied both ways until a policy selects it). If the agent
 * cannot be told, strict fails the ADD with its own code naming the agent's socket (the
 * caller undoes the pod's address and wiring); standard logs and goes on (the pod is open
 * until its policies are programmed, as standard promises anyway). DEL, after the teardown:
 * the agent forgets the pod; a failure is logged, never fails the DEL (docs/DESIGN-NOTES.md).
 */
import { CniCode, CniError } from "../core/cni-error.ts";
import type { PolicyAgentPort } from "../core/ports.ts";
import type { PodDeps } from "./pod-add.ts";

export interface PodPolicyDeps {
  agent: PolicyAgentPort;
  mode: "standard" | "strict";
}

function why(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Undefined when the ADD may answer; a CniError (strict only) when it must fail. */
export async function enforceNewPod(d: PodDeps, pod: { namespace?: string | undefined; name?: string | undefined; hostVeth: string; address: string }): Promise<CniError | undefined> {
  const p = d.policy;
  if (!p) return undefined;
  const { broker } = d;
  if (!pod.namespace || !pod.name) {
    // Without K8S_POD_NAMESPACE/K8S_POD_NAME no PolicyEndpoint can name the pod.
    broker.log.warn({ hostVeth: pod.hostVeth, address: pod.address }, "no pod name in CNI_ARGS: the policy agent is not told of this pod");
    return undefined;
  }
  let failure: string;
  try {
    const r = await p.agent.enforce({ podNamespace: pod.namespace, podName: pod.name, mode: p.mode, hostVeth: pod.hostVeth, addresses: [pod.address] });
    if (r.success) return undefined;
    failure = `the policy agent at ${p.agent.socketPath} could not program the pod's policy`;
  } catch (err) {
    failure = `the policy agent at ${p.agent.socketPath} is not reachable: ${why(err)}`;
  }
  const fields = { pod: `${pod.namespace}/${pod.name}`, mode: p.mode, err: failure };
  if (p.mode === "standard") {
    broker.log.warn(fields, "network policy (standard): the pod is open until its policies are programmed");
    return undefined;
  }
  broker.log.error(fields, "network policy (strict): ADD fails");
  return new CniError(CniCode.POLICY_AGENT_FAILED, `network policy (strict): ${failure}; the pod was not set up`);
}

/** After DEL's teardown: best effort (the agent's reconcile forgets pods addr-broker no longer has). */
export async function forgetDeletedPod(d: PodDeps, pod: { namespace?: string | undefined; name?: string | undefined }): Promise<void> {
  const p = d.policy;
  if (!p || !pod.namespace || !pod.name) return;
  try {
    const r = await p.agent.forget({ podNamespace: pod.namespace, podName: pod.name });
    if (!r.success) d.broker.log.warn({ pod: `${pod.namespace}/${pod.name}` }, "the policy agent could not remove the deleted pod's rules; its reconcile retries");
  } catch (err) {
    d.broker.log.warn({ pod: `${pod.namespace}/${pod.name}`, err: why(err) }, "the policy agent is not reachable for a DEL: DEL goes on; the agent forgets the pod at its next reconcile");
  }
}
