// The node's network configuration as containerd finds it: the first file (lexical order) of
// the CNI conf dir with a .conf, .conflist or .json extension that parses; a single-plugin
// .conf becomes a list of one. Plus what a pod adds to each call: CNI_ARGS and port mappings.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Conflist } from "../cni-runtime.ts";
import type { Pod } from "./pod-types.ts";

export const CONF_EXTENSIONS = [".conf", ".conflist", ".json"];

export interface FoundConflist {
  file: string;
  conflist: Conflist;
}

function parse(name: string, text: string): Conflist | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null) return undefined;
  const d = doc as Record<string, unknown>;
  if (typeof d.name !== "string" || typeof d.cniVersion !== "string") return undefined;
  if (Array.isArray(d.plugins)) {
    const plugins = d.plugins.filter((p): p is Conflist["plugins"][number] => typeof p === "object" && p !== null && typeof (p as { type?: unknown }).type === "string");
    return plugins.length > 0 && plugins.length === d.plugins.length ? { cniVersion: d.cniVersion, name: d.name, plugins } : undefined;
  }
  if (name.endsWith(".conflist") || typeof d.type !== "string") return undefined;
  const { cniVersion, name: netName, ...plugin } = d;
  return { cniVersion: cniVersion as string, name: netName as string, plugins: [plugin as Conflist["plugins"][number]] };
}

/** The first usable configuration among (file name, content) pairs. Pure. */
export function pickConflist(files: ReadonlyArray<{ name: string; text: string }>): FoundConflist | undefined {
  const candidates = files.filter((f) => CONF_EXTENSIONS.some((ext) => f.name.endsWith(ext))).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const f of candidates) {
    const conflist = parse(f.name, f.text);
    if (conflist) return { file: f.name, conflist };
  }
  return undefined;
}

/** Reads the conf dir; undefined when it is missing or holds no usable configuration. */
export function readFirstConflist(confDir: string): FoundConflist | undefined {
  let names: string[];
  try {
    names = readdirSync(confDir);
  } catch {
    return undefined;
  }
  const files: Array<{ name: string; text: string }> = [];
  for (const name of names.filter((n) => CONF_EXTENSIONS.some((ext) => n.endsWith(ext)))) {
    try {
      files.push({ name, text: readFileSync(join(confDir, name), "utf8") });
    } catch {
      // removed meanwhile, or a directory
    }
  }
  const found = pickConflist(files);
  return found && { ...found, file: join(confDir, found.file) };
}

/** CNI_ARGS of a pod's sandbox, after IgnoreUnknown=1, in the order the kubelet's runtime sends them. */
export function podCniArgs(pod: Pod, sandboxId: string): Record<string, string> {
  return {
    K8S_POD_NAMESPACE: pod.metadata.namespace ?? "default",
    K8S_POD_NAME: pod.metadata.name ?? "",
    K8S_POD_INFRA_CONTAINER_ID: sandboxId,
    K8S_POD_UID: pod.metadata.uid ?? "",
  };
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: string;
  hostIP?: string;
}

/** The portMappings capability argument: every container port with a hostPort. */
export function podPortMappings(pod: Pod): PortMapping[] {
  const out: PortMapping[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort || !p.containerPort) continue;
      out.push({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: (p.protocol ?? "TCP").toLowerCase(), ...(p.hostIP ? { hostIP: p.hostIP } : {}) });
    }
  }
  return out;
}
