/**
 * Network policy contracts: the PolicyEndpoint object (upstream's CRD
 * `networking.k8s.aws/v1alpha1`, every field), the node-local state the policy agent
 * enforces, and the agent's socket routes that addr-broker calls during ADD and DEL.
 *
 * Three parts build on this file: the controller writes PolicyEndpoints, the agent reads
 * them and turns them into per-pod rules, and addr-broker tells the agent of pods.
 */
import { z } from "zod";
import { route } from "../ipc/contract.ts";
import { cidr, ifName, ipAddress } from "./fields.ts";

// ---- The PolicyEndpoint CRD (networking.k8s.aws/v1alpha1) ----

export const POLICY_ENDPOINT_GROUP = "networking.k8s.aws";
export const POLICY_ENDPOINT_VERSION = "v1alpha1";
export const POLICY_ENDPOINT_PLURAL = "policyendpoints";
/** Annotation the controller sets on every create and patch (RFC 3339 with nanoseconds). */
export const LAST_CHANGE_TRIGGER_TIME = "networking.k8s.aws/last-change-trigger-time";

export const policyProtocol = z.enum(["TCP", "UDP", "SCTP"]);
export type PolicyProtocol = z.infer<typeof policyProtocol>;

const portNumber = z.number().int().min(1).max(65535);

/** `{protocol, port, endPort}`; protocol defaults to TCP; no port means every port of the protocol. */
export const policyPort = z.object({
  protocol: policyProtocol.optional(),
  port: portNumber.optional(),
  endPort: portNumber.optional(),
});
export type PolicyPort = z.infer<typeof policyPort>;

/**
 * One allowed peer: `cidr` is a bare IP for a pod peer, a CIDR for an ipBlock, `0.0.0.0/0`
 * and `::/0` for "any". Empty `ports` allows every port and protocol. `domainName` exists
 * in upstream's CRD for other policy kinds; an egress entry with no `cidr` is skipped.
 */
export const endpointInfo = z.object({
  cidr: z.string().min(1).optional(),
  except: z.array(cidr).optional(),
  ports: z.array(policyPort).optional(),
  domainName: z.string().optional(),
});
export type EndpointInfo = z.infer<typeof endpointInfo>;

/** A selected pod; addresses are bare IPs. */
export const podEndpoint = z.object({
  hostIP: ipAddress,
  podIP: ipAddress,
  name: z.string().min(1),
  namespace: z.string().min(1),
});
export type PodEndpoint = z.infer<typeof podEndpoint>;

const labelSelectorRequirement = z.object({
  key: z.string(),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
  values: z.array(z.string()).optional(),
});
export const labelSelector = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z.array(labelSelectorRequirement).optional(),
});
export type LabelSelector = z.infer<typeof labelSelector>;

export const policyEndpointSpec = z.object({
  policyRef: z.object({ name: z.string().min(1), namespace: z.string().min(1) }),
  podSelector: labelSelector.optional(),
  podIsolation: z.array(z.enum(["Ingress", "Egress"])).optional(),
  podSelectorEndpoints: z.array(podEndpoint).optional(),
  ingress: z.array(endpointInfo).optional(),
  egress: z.array(endpointInfo).optional(),
});
export type PolicyEndpointSpec = z.infer<typeof policyEndpointSpec>;

export const policyEndpoint = z.object({
  apiVersion: z.literal(`${POLICY_ENDPOINT_GROUP}/${POLICY_ENDPOINT_VERSION}`).optional(),
  kind: z.literal("PolicyEndpoint").optional(),
  metadata: z
    .object({
      name: z.string().min(1),
      namespace: z.string().min(1),
      uid: z.string().optional(),
      resourceVersion: z.string().optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    })
    .passthrough(),
  spec: policyEndpointSpec,
});
export type PolicyEndpoint = z.infer<typeof policyEndpoint>;

// ---- What the agent enforces on one node ----

export const enforcingMode = z.enum(["none", "standard", "strict"]);
export type EnforcingMode = z.infer<typeof enforcingMode>;

/** One rule as the agent evaluates it: allowed when the remote address is in `cidr`, not in any `except`, and the port matches. */
export const policyRule = z.object({
  cidr,
  except: z.array(cidr),
  /** Empty: every protocol and port. */
  ports: z.array(z.object({ protocol: policyProtocol, port: portNumber.optional(), endPort: portNumber.optional() })),
});
export type PolicyRule = z.infer<typeof policyRule>;

/**
 * One direction of one pod: `open` (no selecting policy isolates it), `deny` (strict's
 * start, or isolated by a policy with no entries), or `rules` (isolated; the union of the
 * selecting policies' entries, each evaluated whole).
 */
export const directionState = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("open") }),
  z.object({ kind: z.literal("deny") }),
  z.object({ kind: z.literal("rules"), rules: z.array(policyRule) }),
]);
export type DirectionState = z.infer<typeof directionState>;

/** The rules of one local pod, keyed by its host veth (a `vlan` veth for a branch-ENI pod). */
export const podPolicyState = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  hostVeth: ifName,
  addresses: z.array(ipAddress).min(1),
  ingress: directionState,
  egress: directionState,
});
export type PodPolicyState = z.infer<typeof podPolicyState>;

/** Everything the agent programs on its node: the node's own addresses are always allowed. */
export const nodePolicyState = z.object({
  nodeAddresses: z.array(ipAddress),
  pods: z.array(podPolicyState),
});
export type NodePolicyState = z.infer<typeof nodePolicyState>;

// ---- The agent's socket routes, called by addr-broker (upstream's EnforceNpToPod / DeletePodNp) ----

const podIdentity = z.object({ podName: z.string().min(1).max(253), podNamespace: z.string().min(1).max(63) });

/**
 * After a pod's wiring and before the ADD answers: program what is known for the pod
 * (strict: deny both ways until a policy selects it). `hostVeth` and `addresses` are the
 * pod's wiring as net-config made it.
 */
export const enforcePod = route(
  "POST",
  "/v1/pods/enforce",
  podIdentity.extend({ mode: enforcingMode, hostVeth: ifName, addresses: z.array(ipAddress).min(1), interfaceCount: z.number().int().min(1).default(1) }),
  z.object({ success: z.boolean(), state: z.object({ ingress: z.string(), egress: z.string() }).optional() }),
);

/** After a pod's teardown: its rules are removed, so its address can be reused safely. */
export const deletePod = route("POST", "/v1/pods/delete", podIdentity, z.object({ success: z.boolean() }));
