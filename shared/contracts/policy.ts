/**
 * Network policy contracts: the PolicyEndpoint object (upstream's CRD
 * `networking.k8s.aws/v1alpha1`, every field), the node-local state the policy agent
 * enforces, and the agent's socket routes that addr-broker calls during ADD and DEL.
 *
 * Three parts build on this file: the controller writes PolicyEndpoints, the agent reads
 * them and turns them into per-pod rules, and addr-broker tells the agent of pods.
 */
import { int, lazy, z } from "../zod.ts";
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

const nonEmpty = z.string().check(z.minLength(1));
const portNumber = int().check(z.minimum(1), z.maximum(65535));

/** `{protocol, port, endPort}`; protocol defaults to TCP; no port means every port of the protocol. */
export const policyPort = lazy(() =>
  z.object({
    protocol: z.optional(policyProtocol),
    port: z.optional(portNumber),
    endPort: z.optional(portNumber),
  }),
);
export type PolicyPort = z.infer<typeof policyPort>;

/**
 * One allowed peer: `cidr` is a bare IP for a pod peer, a CIDR for an ipBlock, `0.0.0.0/0`
 * and `::/0` for "any". Empty `ports` allows every port and protocol. `domainName` exists
 * in upstream's CRD for other policy kinds; an egress entry with no `cidr` is skipped.
 */
export const endpointInfo = lazy(() =>
  z.object({
    cidr: z.optional(z.string().check(z.minLength(1))),
    except: z.optional(z.array(cidr)),
    ports: z.optional(z.array(policyPort)),
    domainName: z.optional(z.string()),
  }),
);
export type EndpointInfo = z.infer<typeof endpointInfo>;

/** A selected pod; addresses are bare IPs. */
export const podEndpoint = lazy(() =>
  z.object({
    hostIP: ipAddress,
    podIP: ipAddress,
    name: nonEmpty,
    namespace: nonEmpty,
  }),
);
export type PodEndpoint = z.infer<typeof podEndpoint>;

export const labelSelector = lazy(() =>
  z.object({
    matchLabels: z.optional(z.record(z.string(), z.string())),
    matchExpressions: z.optional(
      z.array(z.object({ key: z.string(), operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]), values: z.optional(z.array(z.string())) })),
    ),
  }),
);
export type LabelSelector = z.infer<typeof labelSelector>;

export const policyEndpointSpec = lazy(() =>
  z.object({
    policyRef: z.object({ name: nonEmpty, namespace: nonEmpty }),
    podSelector: z.optional(labelSelector),
    podIsolation: z.optional(z.array(z.enum(["Ingress", "Egress"]))),
    podSelectorEndpoints: z.optional(z.array(podEndpoint)),
    ingress: z.optional(z.array(endpointInfo)),
    egress: z.optional(z.array(endpointInfo)),
  }),
);
export type PolicyEndpointSpec = z.infer<typeof policyEndpointSpec>;

export const policyEndpoint = lazy(() =>
  z.object({
    apiVersion: z.optional(z.literal(`${POLICY_ENDPOINT_GROUP}/${POLICY_ENDPOINT_VERSION}`)),
    kind: z.optional(z.literal("PolicyEndpoint")),
    metadata: z.looseObject({
      name: nonEmpty,
      namespace: nonEmpty,
      uid: z.optional(z.string()),
      resourceVersion: z.optional(z.string()),
      annotations: z.optional(z.record(z.string(), z.string())),
    }),
    spec: policyEndpointSpec,
  }),
);
export type PolicyEndpoint = z.infer<typeof policyEndpoint>;

// ---- What the agent enforces on one node ----

export const enforcingMode = z.enum(["none", "standard", "strict"]);
export type EnforcingMode = z.infer<typeof enforcingMode>;

/** One rule as the agent evaluates it: allowed when the remote address is in `cidr`, not in any `except`, and the port matches. */
export const policyRule = lazy(() =>
  z.object({
    cidr,
    except: z.array(cidr),
    /** Empty: every protocol and port. */
    ports: z.array(z.object({ protocol: policyProtocol, port: z.optional(portNumber), endPort: z.optional(portNumber) })),
  }),
);
export type PolicyRule = z.infer<typeof policyRule>;

/**
 * One direction of one pod: `open` (no selecting policy isolates it), `deny` (strict's
 * start, or isolated by a policy with no entries), or `rules` (isolated; the union of the
 * selecting policies' entries, each evaluated whole).
 */
export const directionState = lazy(() =>
  z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("open") }),
    z.object({ kind: z.literal("deny") }),
    z.object({ kind: z.literal("rules"), rules: z.array(policyRule) }),
  ]),
);
export type DirectionState = z.infer<typeof directionState>;

/** The rules of one local pod, keyed by its host veth (a `vlan` veth for a branch-ENI pod). */
export const podPolicyState = lazy(() =>
  z.object({
    namespace: nonEmpty,
    name: nonEmpty,
    hostVeth: ifName,
    addresses: z.array(ipAddress).check(z.minLength(1)),
    ingress: directionState,
    egress: directionState,
  }),
);
export type PodPolicyState = z.infer<typeof podPolicyState>;

/** Everything the agent programs on its node: the node's own addresses are always allowed. */
export const nodePolicyState = lazy(() =>
  z.object({
    nodeAddresses: z.array(ipAddress),
    pods: z.array(podPolicyState),
  }),
);
export type NodePolicyState = z.infer<typeof nodePolicyState>;

// ---- The agent's socket routes, called by addr-broker (upstream's EnforceNpToPod / DeletePodNp) ----

const podIdentity = z.object({ podName: z.string().check(z.minLength(1), z.maxLength(253)), podNamespace: z.string().check(z.minLength(1), z.maxLength(63)) });

/**
 * During ADD, beside the pod's wiring, and before the ADD answers: program what is known for
 * the pod (strict: deny both ways until a policy selects it). `hostVeth` and `addresses` are
 * the pod's wiring as net-config makes it (the veth may not exist yet: rules match it by name).
 */
export const enforcePod = route(
  "POST",
  "/v1/pods/enforce",
  z.extend(podIdentity, { mode: enforcingMode, hostVeth: ifName, addresses: z.array(ipAddress).check(z.minLength(1)), interfaceCount: z._default(int().check(z.minimum(1)), 1) }),
  z.object({ success: z.boolean(), state: z.optional(z.object({ ingress: z.string(), egress: z.string() })) }),
);

/** During DEL, beside the pod's teardown (and after an ADD that failed): its rules are removed, so its address can be reused safely. */
export const deletePod = route("POST", "/v1/pods/delete", podIdentity, z.object({ success: z.boolean() }));
