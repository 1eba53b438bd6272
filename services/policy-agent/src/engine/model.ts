/**
 * The engine's canonical form of a pod's policy: what the kernel rules must say, reduced so
 * that two states meaning the same thing compare equal. The renderer writes this form, the
 * decoder reads it back from `nft -j`, and apply compares the two per pod.
 *
 * A direction is `open` (everything allowed) or a list of rule groups (anything no group
 * allows is dropped; `deny` is the empty list). A group joins the rules that share family,
 * `except` and ports: (a ∨ b) ∧ ¬E ∧ P equals (a ∧ ¬E ∧ P) ∨ (b ∧ ¬E ∧ P), so one kernel rule
 * with an address set stands for hundreds of peer pods without changing any verdict.
 * Addresses are inclusive [lo, hi] spans, merged; ports are spans per protocol.
 */
import { ServiceError } from "../../../../shared/ipc/errors.ts";
import { bits, canonicalIp, parseCidr, parseIp, type Family } from "../../../../shared/ip.ts";
import { isValidIfName } from "../../../../shared/naming.ts";
import { nodePolicyState, podPolicyState, type DirectionState, type NodePolicyState, type PodPolicyState, type PolicyRule } from "../../../../shared/contracts/policy.ts";

export type Proto = "tcp" | "udp" | "sctp";
export const PROTOS: readonly Proto[] = ["tcp", "udp", "sctp"];

/** Inclusive span of addresses or ports. */
export interface Span {
  lo: bigint;
  hi: bigint;
}

/**
 * One kernel rule: remote in `remotes`, not in `except`, and — unless `proto` is null (every
 * protocol, ICMP too) — the protocol with its destination port in `ports`. A contract rule
 * naming TCP and UDP becomes two groups; groups equal but for their remotes are joined.
 */
export interface RuleGroup {
  family: Family;
  remotes: Span[];
  except: Span[];
  proto: Proto | null;
  /** Empty when `proto` is null; [0-65535] for every port of the protocol. */
  ports: Span[];
}

export const ALL_PORTS: Span = { lo: 0n, hi: 65535n };

export type DirectionModel = { kind: "open" } | { kind: "rules"; groups: RuleGroup[] };

export interface PodModel {
  hostVeth: string;
  namespace: string;
  name: string;
  /** Canonical text, sorted. */
  addresses: string[];
  ingress: DirectionModel;
  egress: DirectionModel;
}

export interface NodeModel {
  node4: Span[];
  node6: Span[];
  pods: PodModel[];
}

/** A bad state: names the field, and the engine changes nothing. */
export function invalidState(field: string, message: string): ServiceError {
  return new ServiceError("POLICY_STATE_INVALID", `policy state: invalid ${field}: ${message}`, 400, field);
}

/** Host veths reach chain names and nft scripts: an interface name of the plain kind only. */
const VETH = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export function isEngineVethName(name: string): boolean {
  return isValidIfName(name) && VETH.test(name);
}

/** Kubernetes names (DNS subdomain) — they are written into rule comments. */
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function mergeSpans(spans: Span[]): Span[] {
  const sorted = [...spans].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.lo <= last.hi + 1n) {
      if (s.hi > last.hi) last.hi = s.hi;
    } else out.push({ lo: s.lo, hi: s.hi });
  }
  return out;
}

export function cidrSpan(text: string): { family: Family; span: Span } | undefined {
  const c = parseCidr(text, false);
  if (!c) return undefined;
  return { family: c.family, span: { lo: c.base, hi: c.base + (1n << BigInt(bits(c.family) - c.prefix)) - 1n } };
}

/** The fewest CIDRs covering exactly the span. */
export function spanToCidrs(family: Family, span: Span): Array<{ base: bigint; prefix: number }> {
  const width = bits(family);
  const out: Array<{ base: bigint; prefix: number }> = [];
  let lo = span.lo;
  while (lo <= span.hi) {
    let size = 0;
    while (size < width && (lo & ((1n << BigInt(size + 1)) - 1n)) === 0n && lo + (1n << BigInt(size + 1)) - 1n <= span.hi) size++;
    out.push({ base: lo, prefix: width - size });
    lo += 1n << BigInt(size);
  }
  return out;
}

function portsByProto(ports: PolicyRule["ports"], field: string): Array<[Proto, Span[]]> {
  const acc: Partial<Record<Proto, Span[]>> = {};
  ports.forEach((p, i) => {
    const proto = p.protocol.toLowerCase() as Proto;
    let span: Span;
    if (p.port === undefined) {
      if (p.endPort !== undefined) throw invalidState(`${field}.${i}.endPort`, "endPort needs port");
      span = ALL_PORTS;
    } else {
      const end = p.endPort ?? p.port;
      if (end < p.port) throw invalidState(`${field}.${i}.endPort`, `${end} is below port ${p.port}`);
      span = { lo: BigInt(p.port), hi: BigInt(end) };
    }
    (acc[proto] ??= []).push(span);
  });
  return PROTOS.filter((p) => acc[p]).map((p) => [p, mergeSpans(acc[p]!)]);
}

/** Joins groups equal but for their remotes, and sorts: the canonical list. */
export function canonicalGroups(groups: RuleGroup[]): RuleGroup[] {
  const byKey = new Map<string, RuleGroup>();
  for (const g of groups) {
    const key = groupKey({ ...g, remotes: [] });
    const known = byKey.get(key);
    if (known) known.remotes.push(...g.remotes);
    else byKey.set(key, { ...g, remotes: [...g.remotes] });
  }
  return sortGroups([...byKey.values()].map((g) => ({ ...g, remotes: mergeSpans(g.remotes) })));
}

function compileDirection(dir: DirectionState, field: string): DirectionModel {
  if (dir.kind === "open") return { kind: "open" };
  if (dir.kind === "deny") return { kind: "rules", groups: [] };
  const groups: RuleGroup[] = [];
  dir.rules.forEach((rule, i) => {
    const c = cidrSpan(rule.cidr);
    if (!c) throw invalidState(`${field}.rules.${i}.cidr`, `${JSON.stringify(rule.cidr)} is not a CIDR`);
    const except: Span[] = [];
    rule.except.forEach((e, j) => {
      const x = cidrSpan(e);
      if (!x) throw invalidState(`${field}.rules.${i}.except.${j}`, `${JSON.stringify(e)} is not a CIDR`);
      if (x.family === c.family) except.push(x.span); // another family's except can never match
    });
    const base = { family: c.family, remotes: [c.span], except: mergeSpans(except) };
    if (rule.ports.length === 0) groups.push({ ...base, proto: null, ports: [] });
    else for (const [proto, ports] of portsByProto(rule.ports, `${field}.rules.${i}.ports`)) groups.push({ ...base, proto, ports });
  });
  return { kind: "rules", groups: canonicalGroups(groups) };
}

export function sortGroups(groups: RuleGroup[]): RuleGroup[] {
  return groups.map((g) => [groupKey(g), g] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, g]) => g);
}

const spanText = (s: Span) => `${s.lo.toString(16)}-${s.hi.toString(16)}`;

export function groupKey(g: RuleGroup): string {
  const ports = g.proto === null ? "*" : `${g.proto}:${g.ports.map(spanText).join(",")}`;
  return `${g.family}|${ports}|${g.except.map(spanText).join(",")}|${g.remotes.map(spanText).join(",")}`;
}

export function directionKey(d: DirectionModel): string {
  return d.kind === "open" ? "open" : `rules[${d.groups.map(groupKey).join(" / ")}]`;
}

/** Digest of a direction's canonical form, once per model (pods selected by the same policies share one). */
const directionDigests = new WeakMap<DirectionModel, string>();
function directionDigest(d: DirectionModel): string {
  let known = directionDigests.get(d);
  if (known === undefined) {
    known = new Bun.CryptoHasher("sha256").update(directionKey(d)).digest("hex");
    directionDigests.set(d, known);
  }
  return known;
}

/** Digest of a pod's canonical form: equal digests, equal kernel rules. */
const digests = new WeakMap<PodModel, string>();
export function podDigest(p: PodModel): string {
  const known = digests.get(p);
  if (known !== undefined) return known;
  const text = [p.hostVeth, p.namespace, p.name, p.addresses.join(","), `in ${directionDigest(p.ingress)}`, `eg ${directionDigest(p.egress)}`].join("\n");
  const digest = new Bun.CryptoHasher("sha256").update(text).digest("hex").slice(0, 16);
  digests.set(p, digest);
  return digest;
}

/**
 * Directions already validated and compiled, by the input object: the agent hands the same
 * direction state to every pod its policies select alike, and again on the next apply while
 * they are unchanged (core/resolve-cache.ts). Input states are never mutated once applied.
 */
const compiledDirections = new WeakMap<object, DirectionModel>();
const remember = (raw: unknown, model: DirectionModel) => {
  if (isObject(raw)) compiledDirections.set(raw, model);
};

function checkPod(pod: Pick<PodPolicyState, "hostVeth" | "namespace" | "name">, field: string): void {
  if (!isEngineVethName(pod.hostVeth)) throw invalidState(`${field}.hostVeth`, `${JSON.stringify(pod.hostVeth)} is not an interface name of letters, digits, '_', '.', '-' (1-15)`);
  if (!K8S_NAME.test(pod.namespace) || pod.namespace.length > 63) throw invalidState(`${field}.namespace`, `${JSON.stringify(pod.namespace)} is not a Kubernetes namespace name`);
  if (!K8S_NAME.test(pod.name) || pod.name.length > 253) throw invalidState(`${field}.name`, `${JSON.stringify(pod.name)} is not a Kubernetes pod name`);
}

function podModel(pod: Pick<PodPolicyState, "hostVeth" | "namespace" | "name" | "addresses">, ingress: DirectionModel, egress: DirectionModel): PodModel {
  const addresses = [...new Set(pod.addresses.map((a) => canonicalIp(a)!))].sort();
  return { hostVeth: pod.hostVeth, namespace: pod.namespace, name: pod.name, addresses, ingress, egress };
}

function compilePod(pod: PodPolicyState, field: string): PodModel {
  checkPod(pod, field);
  return podModel(pod, compileDirection(pod.ingress, `${field}.ingress`), compileDirection(pod.egress, `${field}.egress`));
}

const OPEN_STATE: DirectionState = { kind: "open" };

/**
 * A pod whose two directions are compiled already (same input objects): only the rest is
 * validated. Otherwise the whole pod is, and its directions are remembered by input object.
 */
function compilePodShared(raw: PodPolicyState, field: string): PodModel {
  const ingress = compiledDirections.get(raw.ingress);
  const egress = compiledDirections.get(raw.egress);
  if (ingress && egress) {
    const pod = zodField(podPolicyState, { ...raw, ingress: OPEN_STATE, egress: OPEN_STATE }, field);
    checkPod(pod, field);
    return podModel(pod, ingress, egress);
  }
  const model = compilePod(zodField(podPolicyState, raw, field), field);
  remember(raw.ingress, model.ingress);
  remember(raw.egress, model.egress);
  return model;
}

function zodField<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } } }, value: unknown, prefix: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw invalidState([prefix, ...issue.path.map(String)].filter((x) => x !== "").join(".") || "(state)", issue.message);
}

/**
 * Compiles a node's state, reusing `previous` for pods whose input is unchanged (same JSON:
 * a node's 110 pods with hundreds of peer addresses each take a second to validate and
 * reduce, an unchanged one only its serialisation). Throws before anything is touched.
 * The cache keeps the SHA-256 of each pod's JSON, not the JSON: with 200 policies selecting
 * 110 pods the texts held 3.3 MiB for as long as the agent ran.
 */
export function compileStateCached(input: NodePolicyState, previous: Map<string, CompiledPod> = new Map()): { model: NodeModel; cache: Map<string, CompiledPod> } {
  const nodeAddresses = zodField(nodePolicyState.shape.nodeAddresses, input?.nodeAddresses, "nodeAddresses");
  if (!Array.isArray(input?.pods)) throw invalidState("pods", "must be an array");
  const cache = new Map<string, CompiledPod>();
  const pods = input.pods.map((raw, i) => {
    const known = previous.get(raw?.hostVeth);
    let entry: CompiledPod;
    if (known && isObject(raw) && known.raw === raw) entry = known; // the very object applied before
    else if (isObject(raw) && compiledDirections.has(raw.ingress) && compiledDirections.has(raw.egress)) {
      // no serialisation: directions compiled before cost a lookup, the rest is small
      entry = { input: "", raw, model: compilePodShared(raw, `pods.${i}`) };
    } else {
      const text = inputDigest(raw);
      const unchanged = known?.input === text;
      const model = unchanged ? known.model : compilePodShared(raw, `pods.${i}`);
      // Pods after this one that share its (new, equal) direction objects take the same models: without this, every
      // apply of equal content gave one more pod models of its own, until each pod held its own copy (110 × 2 per node).
      if (unchanged && isObject(raw)) {
        remember(raw.ingress, model.ingress);
        remember(raw.egress, model.egress);
      }
      entry = { input: text, raw, model };
    }
    const { model } = entry;
    if (cache.has(model.hostVeth)) throw invalidState(`pods.${i}.hostVeth`, `${model.hostVeth} is used by two pods`);
    cache.set(model.hostVeth, entry);
    return model;
  });
  const node4: Span[] = [];
  const node6: Span[] = [];
  for (const a of nodeAddresses) {
    const ip = parseIp(a)!;
    (ip.family === 4 ? node4 : node6).push({ lo: ip.value, hi: ip.value });
  }
  return { model: { node4: mergeSpans(node4), node6: mergeSpans(node6), pods }, cache };
}

/** A compiled pod: its input object (reused as is when applied again) or, for input that is not an object, a digest of its JSON. */
export interface CompiledPod {
  input: string;
  raw?: unknown;
  model: PodModel;
}

const isObject = (v: unknown): v is object => typeof v === "object" && v !== null;

/** What the cache compares: a digest of the pod's input as JSON. */
export function inputDigest(raw: unknown): string {
  return new Bun.CryptoHasher("sha256").update(JSON.stringify(raw) ?? "undefined").digest("base64");
}

/** Validates the whole state (zod shape, then the engine's own limits) and reduces it; throws before anything is touched. */
export function compileState(input: NodePolicyState): NodeModel {
  return compileStateCached(input).model;
}
