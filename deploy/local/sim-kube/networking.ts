// NetworkPolicy (networking.k8s.io/v1) and Service (v1): the checks the real API server makes
// on the fields the policy controller reads, and its defaults (policyTypes, port protocols, a
// Service's ClusterIP and targetPort). Each check names the offending field.
import { isIp, parseCidr } from "../../../shared/ip.ts";
import type { FieldCause } from "./status.ts";
import type { KubeObject, Validator } from "./validate.ts";

type Loose = Record<string, unknown>;

function isRecord(value: unknown): value is Loose {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const invalid = (field: string, message: string): FieldCause => ({ field, message, type: "FieldValueInvalid" });
const required = (field: string): FieldCause => ({ field, message: "Required value", type: "FieldValueRequired" });
const unsupported = (field: string, value: unknown, allowed: string[]): FieldCause => ({
  field,
  message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(", ")}`,
  type: "FieldValueNotSupported",
});

const PROTOCOLS = ["TCP", "UDP", "SCTP"];
/** An IANA service name: 1–15 lower-case letters, digits and '-', at least one letter, no '--', not starting or ending with '-'. */
const SERVICE_NAME = /^(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"];

export function validateLabelSelector(selector: unknown, field: string): FieldCause[] {
  if (selector === undefined || selector === null) return [];
  if (!isRecord(selector)) return [invalid(field, "must be an object")];
  const causes: FieldCause[] = [];
  if (selector.matchLabels !== undefined) {
    if (!isRecord(selector.matchLabels)) causes.push(invalid(`${field}.matchLabels`, "must be a map of strings"));
    else for (const [key, value] of Object.entries(selector.matchLabels)) if (typeof value !== "string") causes.push(invalid(`${field}.matchLabels[${key}]`, "must be a string"));
  }
  if (selector.matchExpressions !== undefined) {
    if (!Array.isArray(selector.matchExpressions)) return [...causes, invalid(`${field}.matchExpressions`, "must be a list")];
    selector.matchExpressions.forEach((expression, index) => {
      const at = `${field}.matchExpressions[${index}]`;
      if (!isRecord(expression)) return void causes.push(invalid(at, "must be an object"));
      if (typeof expression.key !== "string" || expression.key === "") causes.push(required(`${at}.key`));
      if (!OPERATORS.includes(String(expression.operator))) return void causes.push(unsupported(`${at}.operator`, expression.operator, OPERATORS));
      const values = expression.values;
      const count = Array.isArray(values) ? values.length : 0;
      if (values !== undefined && (!Array.isArray(values) || values.some((v) => typeof v !== "string"))) causes.push(invalid(`${at}.values`, "must be a list of strings"));
      else if ((expression.operator === "In" || expression.operator === "NotIn") && count === 0) causes.push(required(`${at}.values`));
      else if ((expression.operator === "Exists" || expression.operator === "DoesNotExist") && count > 0) causes.push(invalid(`${at}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    });
  }
  return causes;
}

function validatePort(port: unknown, field: string): FieldCause[] {
  if (!isRecord(port)) return [invalid(field, "must be an object")];
  const causes: FieldCause[] = [];
  if (port.protocol !== undefined && !PROTOCOLS.includes(String(port.protocol))) causes.push(unsupported(`${field}.protocol`, port.protocol, PROTOCOLS));
  const value = port.port;
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 1 || value > 65535) causes.push(invalid(`${field}.port`, `Invalid value: ${value}: must be between 1 and 65535, inclusive`));
  } else if (typeof value === "string") {
    if (!SERVICE_NAME.test(value)) causes.push(invalid(`${field}.port`, `Invalid value: ${JSON.stringify(value)}: must be an IANA_SVC_NAME (at most 15 lower-case letters, digits and '-', at least one letter)`));
  } else if (value !== undefined) causes.push(invalid(`${field}.port`, "must be a number or a port name"));
  if (port.endPort !== undefined) {
    const end = port.endPort;
    if (typeof value !== "number") causes.push(invalid(`${field}.endPort`, "may not be specified when `port` is not a number"));
    else if (typeof end !== "number" || !Number.isInteger(end) || end < value || end > 65535) causes.push(invalid(`${field}.endPort`, `Invalid value: ${JSON.stringify(end)}: must be greater than or equal to \`port\` and at most 65535`));
  }
  return causes;
}

function validateIpBlock(block: unknown, field: string): FieldCause[] {
  if (!isRecord(block)) return [invalid(field, "must be an object")];
  if (typeof block.cidr !== "string" || block.cidr === "") return [required(`${field}.cidr`)];
  const outer = parseCidr(block.cidr, false);
  if (outer === undefined) return [invalid(`${field}.cidr`, `Invalid value: ${JSON.stringify(block.cidr)}: must be a valid CIDR`)];
  if (block.except === undefined) return [];
  if (!Array.isArray(block.except)) return [invalid(`${field}.except`, "must be a list of CIDRs")];
  return block.except.flatMap((entry, index): FieldCause[] => {
    const inner = typeof entry === "string" ? parseCidr(entry, false) : undefined;
    if (inner === undefined) return [invalid(`${field}.except[${index}]`, `Invalid value: ${JSON.stringify(entry)}: must be a valid CIDR`)];
    const shift = BigInt((outer.family === 4 ? 32 : 128) - outer.prefix);
    const inside = inner.family === outer.family && inner.prefix > outer.prefix && inner.base >> shift === outer.base >> shift;
    return inside ? [] : [invalid(`${field}.except[${index}]`, `Invalid value: ${JSON.stringify(entry)}: must be a strict subset of \`cidr\``)];
  });
}

function validatePeer(peer: unknown, field: string): FieldCause[] {
  if (!isRecord(peer)) return [invalid(field, "must be an object")];
  const selectors = peer.podSelector !== undefined || peer.namespaceSelector !== undefined;
  if (peer.ipBlock !== undefined && selectors) return [invalid(field, "may not specify both ipBlock and another peer")];
  if (peer.ipBlock === undefined && !selectors) return [required(field)];
  if (peer.ipBlock !== undefined) return validateIpBlock(peer.ipBlock, `${field}.ipBlock`);
  return [...validateLabelSelector(peer.podSelector, `${field}.podSelector`), ...validateLabelSelector(peer.namespaceSelector, `${field}.namespaceSelector`)];
}

function validateRules(rules: unknown, field: string, peerKey: "from" | "to"): FieldCause[] {
  if (rules === undefined || rules === null) return [];
  if (!Array.isArray(rules)) return [invalid(field, "must be a list")];
  return rules.flatMap((rule, index): FieldCause[] => {
    const at = `${field}[${index}]`;
    if (!isRecord(rule)) return [invalid(at, "must be an object")];
    const causes: FieldCause[] = [];
    if (rule.ports !== undefined) {
      if (!Array.isArray(rule.ports)) causes.push(invalid(`${at}.ports`, "must be a list"));
      else rule.ports.forEach((port, i) => causes.push(...validatePort(port, `${at}.ports[${i}]`)));
    }
    const peers = rule[peerKey];
    if (peers !== undefined) {
      if (!Array.isArray(peers)) causes.push(invalid(`${at}.${peerKey}`, "must be a list"));
      else peers.forEach((peer, i) => causes.push(...validatePeer(peer, `${at}.${peerKey}[${i}]`)));
    }
    return causes;
  });
}

export const validateNetworkPolicy: Validator = (policy) => {
  const spec = policy.spec;
  if (!isRecord(spec)) return [required("spec")];
  const causes = validateLabelSelector(spec.podSelector, "spec.podSelector");
  causes.push(...validateRules(spec.ingress, "spec.ingress", "from"), ...validateRules(spec.egress, "spec.egress", "to"));
  if (spec.policyTypes !== undefined) {
    const types = spec.policyTypes;
    if (!Array.isArray(types) || types.length > 2) causes.push(invalid("spec.policyTypes", "may not specify more than two policyTypes"));
    else {
      types.forEach((type, index) => {
        if (type !== "Ingress" && type !== "Egress") causes.push(unsupported(`spec.policyTypes[${index}]`, type, ["Ingress", "Egress"]));
      });
      if (new Set(types).size < types.length) causes.push(invalid("spec.policyTypes", "may not contain duplicates"));
    }
  }
  return causes;
};

function records(value: unknown): Loose[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** As the API server: podSelector {}; policyTypes Ingress, plus Egress when egress rules exist; port protocol TCP. */
export function defaultNetworkPolicy(policy: KubeObject): void {
  const spec = policy.spec;
  if (!isRecord(spec)) return;
  spec.podSelector ??= {};
  if (spec.policyTypes === undefined || (Array.isArray(spec.policyTypes) && spec.policyTypes.length === 0)) {
    spec.policyTypes = Array.isArray(spec.egress) && spec.egress.length > 0 ? ["Ingress", "Egress"] : ["Ingress"];
  }
  for (const rule of [...records(spec.ingress), ...records(spec.egress)]) {
    for (const port of records(rule.ports)) port.protocol ??= "TCP";
  }
}

export const validateService: Validator = (service) => {
  const spec = service.spec;
  if (!isRecord(spec)) return [required("spec")];
  const causes: FieldCause[] = [];
  const types = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
  if (spec.type !== undefined && !types.includes(String(spec.type))) causes.push(unsupported("spec.type", spec.type, types));
  if (spec.selector !== undefined && (!isRecord(spec.selector) || Object.values(spec.selector).some((v) => typeof v !== "string"))) causes.push(invalid("spec.selector", "must be a map of strings"));
  if (spec.clusterIP !== undefined && spec.clusterIP !== "None" && spec.clusterIP !== "" && !isIp(String(spec.clusterIP))) {
    causes.push(invalid("spec.clusterIP", `Invalid value: ${JSON.stringify(spec.clusterIP)}: must be "None" or an IP address`));
  }
  if (spec.ports !== undefined) {
    if (!Array.isArray(spec.ports)) return [...causes, invalid("spec.ports", "must be a list")];
    spec.ports.forEach((port, index) => {
      const at = `spec.ports[${index}]`;
      if (!isRecord(port)) return void causes.push(invalid(at, "must be an object"));
      if (typeof port.port !== "number" || !Number.isInteger(port.port) || port.port < 1 || port.port > 65535) causes.push(invalid(`${at}.port`, "must be between 1 and 65535, inclusive"));
      if (port.protocol !== undefined && !PROTOCOLS.includes(String(port.protocol))) causes.push(unsupported(`${at}.protocol`, port.protocol, PROTOCOLS));
      const target = port.targetPort;
      if (target !== undefined && !(typeof target === "number" && Number.isInteger(target) && target >= 1 && target <= 65535) && !(typeof target === "string" && SERVICE_NAME.test(target))) {
        causes.push(invalid(`${at}.targetPort`, "must be a port number or an IANA_SVC_NAME"));
      }
    });
  }
  return causes;
};

/** The service CIDR ClusterIPs come from (EKS's default, 10.100.0.0/16); .0 and .1 are never handed out. */
let nextClusterIp = 10;

/**
 * As the API server: type ClusterIP, sessionAffinity None, each port's protocol TCP and
 * targetPort its port, and a ClusterIP allocated (unless headless or ExternalName). Addresses
 * come from one counter per process, so they never repeat within a simulated cluster.
 */
export function defaultService(service: KubeObject): void {
  const spec = service.spec;
  if (!isRecord(spec)) return;
  spec.type ??= "ClusterIP";
  spec.sessionAffinity ??= "None";
  for (const port of records(spec.ports)) {
    port.protocol ??= "TCP";
    port.targetPort ??= port.port;
  }
  if (spec.type !== "ExternalName" && (spec.clusterIP === undefined || spec.clusterIP === "")) {
    const n = nextClusterIp++;
    spec.clusterIP = `10.100.${(n >> 8) & 255}.${n & 255}`;
  }
  if (typeof spec.clusterIP === "string") spec.clusterIPs ??= [spec.clusterIP];
}
