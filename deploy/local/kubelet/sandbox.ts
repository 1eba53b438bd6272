/**
 * A pod's sandbox, as containerd makes one for a kubelet: a network namespace of its own
 * (named under the stack's prefix), wired by the node's first CNI configuration — its
 * plugins exec'd inside the node's network namespace with the pod's CNI_ARGS and eth0 — and
 * torn down with DEL (with the cached result, also when the namespace is already gone)
 * before the namespace goes. A record per sandbox (the configuration its ADD used, its
 * address) lets DEL run with that same configuration, also after a kubelet restart.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CniRuntime, type Attachment, type Conflist } from "../cni-runtime.ts";
import { runCommand } from "../vpc/command.ts";
import { podCniArgs, podPortMappings, readFirstConflist } from "./cni-config.ts";
import { sandboxId, sandboxNetns } from "./names.ts";
import type { Pod } from "./pod-types.ts";

export class SandboxError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export interface Sandbox {
  id: string;
  /** Whose sandbox it is (to clean up after a pod deleted while no kubelet ran). */
  pod: { uid: string; name: string; namespace: string };
  netns: string;
  netnsPath: string;
  /** The configuration ADD used (DEL uses it again). */
  conflist: Conflist;
  podIP?: string;
  result?: Record<string, unknown>;
}

export interface SandboxPaths {
  prefix: string;
  nodeNetns: string;
  cniBinDir: string;
  cniConfDir: string;
  /** libcni's result cache and the sandbox records. */
  stateDir: string;
  /** argv before a plugin's path so it runs on the node (node-host.ts); default: the node's network namespace alone. */
  hostExec?: () => string[];
}

/**
 * The pod's address in a CNI result (IPv4 first), without its prefix length: an address of the
 * pod's interface `ifName`, as containerd takes it. Others are not the pod's IP: egress-cni adds
 * one on v4if0 / v6if0 (an IPv6 pod's 169.254.172.x). An address naming no interface counts.
 */
export function resultAddress(result: Record<string, unknown> | undefined, ifName = "eth0"): string | undefined {
  const interfaces = (result?.interfaces as Array<{ name?: string }> | undefined) ?? [];
  const ips = (result?.ips as Array<{ address?: string; interface?: number }> | undefined) ?? [];
  const addresses = ips
    .filter((i) => i.interface === undefined || interfaces[i.interface]?.name === ifName)
    .map((i) => i.address?.split("/")[0])
    .filter((a): a is string => !!a);
  return addresses.find((a) => a.includes(".")) ?? addresses[0];
}

/**
 * The pod's CNI attachment: its sandbox, CNI_ARGS, and the capability arguments containerd
 * passes: port mappings, and the pod's annotations (aws-cni reads k8s.amazonaws.com/nicConfig).
 */
export function sandboxAttachment(pod: Pod, s: Pick<Sandbox, "id" | "netnsPath">): Attachment {
  const ports = podPortMappings(pod);
  const annotations = pod.metadata?.annotations ?? {};
  const capabilityArgs = { ...(ports.length > 0 ? { portMappings: ports } : {}), ...(Object.keys(annotations).length > 0 ? { "io.kubernetes.cri.pod-annotations": annotations } : {}) };
  return { containerId: s.id, netns: s.netnsPath, ifName: "eth0", args: podCniArgs(pod, s.id), ...(Object.keys(capabilityArgs).length > 0 ? { capabilityArgs } : {}) };
}

export class Sandboxes {
  constructor(private readonly p: SandboxPaths) {}

  private recordPath(id: string): string {
    return join(this.p.stateDir, "sandboxes", `${id}.json`);
  }

  private runtime(conflist: Conflist): CniRuntime {
    return new CniRuntime(conflist, { binDirs: [this.p.cniBinDir], cacheDir: join(this.p.stateDir, "cni-cache"), execPrefix: this.p.hostExec?.() ?? ["nsenter", `--net=/run/netns/${this.p.nodeNetns}`] });
  }

  private attachment(pod: Pod, s: Pick<Sandbox, "id" | "netnsPath">): Attachment {
    return sandboxAttachment(pod, s);
  }

  /** The sandbox recorded for this pod, if its namespace is still there. */
  existing(uid: string): Sandbox | undefined {
    const path = this.recordPath(sandboxId(uid));
    if (!existsSync(path)) return undefined;
    try {
      const s = JSON.parse(readFileSync(path, "utf8")) as Sandbox;
      return existsSync(s.netnsPath) && s.result ? s : undefined;
    } catch {
      return undefined;
    }
  }

  /** The pods every sandbox record belongs to. */
  recorded(): Array<Sandbox["pod"]> {
    const dir = join(this.p.stateDir, "sandboxes");
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    const out: Array<Sandbox["pod"]> = [];
    for (const n of names.filter((f) => f.endsWith(".json"))) {
      try {
        const s = JSON.parse(readFileSync(join(dir, n), "utf8")) as Sandbox;
        if (s.pod?.uid) out.push(s.pod);
      } catch {
        // a torn record: its pod is found again by its namespace name, if at all
      }
    }
    return out;
  }

  /** A namespace, then ADD; a failed ADD is cleaned up with DEL and rethrown (the namespace stays for the retry). */
  async create(pod: Pod): Promise<Sandbox> {
    const uid = pod.metadata.uid ?? "";
    const id = sandboxId(uid);
    const netns = sandboxNetns(this.p.prefix, uid);
    const netnsPath = `/run/netns/${netns}`;
    const found = readFirstConflist(this.p.cniConfDir);
    if (!found) throw new SandboxError("KUBELET_CNI_NOT_READY", `network is not ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized (no configuration in ${this.p.cniConfDir})`);
    if (!existsSync(netnsPath)) {
      const r = await runCommand(["ip", "netns", "add", netns]);
      if (r.exitCode !== 0 && !existsSync(netnsPath)) throw new SandboxError("KUBELET_NETNS", `ip netns add ${netns}: ${r.stderr.trim()}`);
      await runCommand(["ip", "-n", netns, "link", "set", "lo", "up"]);
    }
    const sandbox: Sandbox = { id, pod: { uid, name: pod.metadata.name ?? "", namespace: pod.metadata.namespace ?? "default" }, netns, netnsPath, conflist: found.conflist };
    this.save(sandbox);
    const rt = this.runtime(found.conflist);
    try {
      sandbox.result = await rt.add(this.attachment(pod, sandbox));
    } catch (err) {
      await rt.del(this.attachment(pod, sandbox)).catch(() => {});
      throw err;
    }
    sandbox.podIP = resultAddress(sandbox.result);
    this.save(sandbox);
    return sandbox;
  }

  /** DEL (with the configuration ADD used, or the node's current one), then the namespace and record go. */
  async destroy(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid ?? "";
    const id = sandboxId(uid);
    const netns = sandboxNetns(this.p.prefix, uid);
    let recorded: Sandbox | undefined;
    try {
      recorded = JSON.parse(readFileSync(this.recordPath(id), "utf8")) as Sandbox;
    } catch {
      recorded = undefined;
    }
    const conflist = recorded?.conflist ?? readFirstConflist(this.p.cniConfDir)?.conflist;
    const netnsPath = `/run/netns/${netns}`;
    let failure: unknown;
    if (conflist && (recorded || existsSync(netnsPath))) {
      try {
        await this.runtime(conflist).del(this.attachment(pod, { id, netnsPath }));
      } catch (err) {
        failure = err;
      }
    }
    if (existsSync(netnsPath)) {
      const r = await runCommand(["ip", "netns", "del", netns]);
      if (r.exitCode !== 0 && existsSync(netnsPath)) failure ??= new SandboxError("KUBELET_NETNS", `ip netns del ${netns}: ${r.stderr.trim()}`);
    }
    if (failure) throw failure;
    rmSync(this.recordPath(id), { force: true });
  }

  private save(s: Sandbox): void {
    const path = this.recordPath(s.id);
    mkdirSync(join(this.p.stateDir, "sandboxes"), { recursive: true });
    writeFileSync(`${path}.tmp`, JSON.stringify(s));
    renameSync(`${path}.tmp`, path);
  }
}
