/**
 * resolveNode (resolve.ts) for the agent's every apply, without doing again what has not
 * changed. A pod's state depends only on which stored PolicyEndpoint versions select it, the
 * families of its addresses and the mode; so:
 * - pods with the same selecting set share their direction states (200 policies selecting
 *   the 110 pods of a node make one ingress and one egress state, not 110 of each);
 * - a selecting set met in the previous resolution keeps its direction states, and a pod
 *   whose set, veth and addresses are unchanged keeps its very PodPolicyState object, which
 *   the engine recognises as unchanged without serialising it (model.ts).
 * A PolicyEndpoint change thus costs its own pods' rules, once per distinct selecting set.
 * The semantics are resolve.ts's (the same functions decide selection and rules); the
 * states handed out are shared between pods and resolutions: never mutated.
 */
import type { DirectionState, EnforcingMode, NodePolicyState, PodPolicyState } from "../../../../shared/contracts/policy.ts";
import { canonicalIp, parseIp } from "../../../../shared/ip.ts";
import type { EndpointStore, StoredEndpoint } from "./endpoint-store.ts";
import { directionState, type LocalPod } from "./resolve.ts";

interface Directions {
  ingress: DirectionState;
  egress: DirectionState;
}

const canon = (ip: string) => canonicalIp(ip) ?? ip;

function familyKey(addresses: readonly string[]): string {
  let v4 = false;
  let v6 = false;
  for (const a of addresses) {
    const ip = parseIp(a);
    if (ip?.family === 4) v4 = true;
    else if (ip?.family === 6) v6 = true;
  }
  return `${v4 ? 4 : ""}${v6 ? 6 : ""}`;
}

export class NodeResolver {
  private directions = new Map<string, Directions>();
  private pods = new Map<string, PodPolicyState>();

  constructor(
    private readonly store: EndpointStore,
    private readonly mode: EnforcingMode,
  ) {}

  resolve(pods: readonly LocalPod[], nodeIps: readonly string[]): NodePolicyState {
    const node = new Set(nodeIps.map(canon));
    // The stored endpoints selecting each local pod's name: [endpoint, podIP, endpoint, podIP, ...] in store order.
    const byPod = new Map<string, Array<StoredEndpoint | string>>();
    for (const pe of this.store.values()) {
      for (const e of pe.spec.podSelectorEndpoints ?? []) {
        if (!node.has(e.hostIP) || e.podIP === e.hostIP) continue;
        const list = byPod.get(e.key);
        if (list) list.push(pe, e.podIP);
        else byPod.set(e.key, [pe, e.podIP]);
      }
    }
    const directions = new Map<string, Directions>();
    const states = new Map<string, PodPolicyState>();
    const sorted = [...pods].sort((a, b) => (a.hostVeth < b.hostVeth ? -1 : a.hostVeth > b.hostVeth ? 1 : 0));
    const out = sorted.map((p) => {
      const key = `${p.namespace}/${p.name}`;
      const addresses = p.addresses.map(canon);
      const selecting: StoredEndpoint[] = [];
      const candidates = byPod.get(key) ?? [];
      for (let i = 0; i < candidates.length; i += 2) {
        const pe = candidates[i] as StoredEndpoint;
        if (addresses.includes(candidates[i + 1] as string) && selecting[selecting.length - 1] !== pe && !selecting.includes(pe)) selecting.push(pe);
      }
      const setKey = `${familyKey(addresses)}|${selecting.map((pe) => this.store.idOf(pe)).join(",")}`;
      let dirs = directions.get(setKey) ?? this.directions.get(setKey);
      if (!dirs) {
        const pod = { ...p, addresses };
        dirs = { ingress: directionState(selecting, "ingress", pod, this.mode), egress: directionState(selecting, "egress", pod, this.mode) };
      }
      directions.set(setKey, dirs);
      const last = this.pods.get(key);
      const same = last && last.hostVeth === p.hostVeth && last.ingress === dirs.ingress && last.egress === dirs.egress && last.addresses.length === addresses.length && last.addresses.every((a, i) => a === addresses[i]);
      const state: PodPolicyState = same ? last : { namespace: p.namespace, name: p.name, hostVeth: p.hostVeth, addresses, ingress: dirs.ingress, egress: dirs.egress };
      states.set(key, state);
      return state;
    });
    this.directions = directions;
    this.pods = states;
    return { nodeAddresses: nodeIps.map(canon), pods: out };
  }
}
