/**
 * Pods on a node of the local deployment, driven as a container runtime drives them: a real
 * network namespace per pod, ADD/DEL through the node's conflist (CniRuntime execs the
 * compiled aws-cni shim and the chained plugins), plus direct exec of the shim alone for
 * the cases a runtime's chain cannot express (a shim killed mid-request, GC).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CniError, CniRuntime, type Attachment, type Conflist } from "../../deploy/local/cni-runtime.ts";
import type { NodeLayout } from "../../deploy/local/node-services.ts";

export interface Pod {
  id: string;
  node: number;
  netnsName: string;
  attachment: Attachment;
  address?: string;
}

export interface ShimRun {
  code: number | null;
  signal: string | null;
  stdout: string;
}

export class NodePods {
  readonly conflist: Conflist;
  readonly runtime: CniRuntime;
  private readonly namespaces = new Set<string>();

  constructor(readonly node: number, readonly layout: NodeLayout, private readonly tag: string) {
    this.conflist = JSON.parse(readFileSync(layout.conflist, "utf8")) as Conflist;
    this.runtime = new CniRuntime(this.conflist, { binDirs: [layout.cniBinDir], cacheDir: layout.cacheDir });
  }

  /** A pod with a fresh network namespace (removed by drop() or cleanup()). */
  newPod(seq: number): Pod {
    const netnsName = `${this.tag}n${this.node}p${seq}`;
    const r = Bun.spawnSync(["ip", "netns", "add", netnsName], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`ip netns add ${netnsName}: ${r.stderr.toString()}`);
    this.namespaces.add(netnsName);
    const id = `${this.tag}c${this.node}x${seq}`;
    return { id, node: this.node, netnsName, attachment: { containerId: id, netns: `/run/netns/${netnsName}`, ifName: "eth0", args: { K8S_POD_NAMESPACE: "storm", K8S_POD_NAME: id } } };
  }

  /** ADD through the whole chain; the pod's address, or the CNI error. */
  async add(pod: Pod): Promise<{ address?: string; error?: CniError | Error }> {
    try {
      const result = await this.runtime.add(pod.attachment);
      const ips = (result.ips ?? []) as Array<{ address: string }>;
      return { address: ips[0]?.address.split("/")[0] };
    } catch (err) {
      return { error: err as Error };
    }
  }

  async del(pod: Pod): Promise<Error | undefined> {
    try {
      await this.runtime.del(pod.attachment);
      return undefined;
    } catch (err) {
      return err as Error;
    }
  }

  /** The aws-cni plugin's own configuration, as the runtime hands it to the shim. */
  pluginConf(cniVersion = this.conflist.cniVersion, extra: Record<string, unknown> = {}): string {
    const plugin = this.conflist.plugins.find((p) => p.type === "aws-cni");
    if (!plugin) throw new Error("conflist has no aws-cni plugin");
    const conf: Record<string, unknown> = { ...plugin, cniVersion, name: this.conflist.name, ...extra };
    delete conf.capabilities;
    return JSON.stringify(conf);
  }

  /** Execs the shim alone; with killAfterMs, SIGKILLs it that long after the exec (mid-request). */
  async execShim(env: Record<string, string>, stdin: string, killAfterMs?: number): Promise<ShimRun> {
    const proc = Bun.spawn([join(this.layout.cniBinDir, "aws-cni")], {
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", CNI_PATH: this.layout.cniBinDir, ...env },
      stdin: new TextEncoder().encode(stdin),
      stdout: "pipe",
      stderr: "ignore",
    });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => proc.kill("SIGKILL"), killAfterMs);
    const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    if (timer) clearTimeout(timer);
    return { code: proc.signalCode ? null : code, signal: proc.signalCode ? String(proc.signalCode) : null, stdout };
  }

  cniEnv(pod: Pod, command: string): Record<string, string> {
    const args = Object.entries({ IgnoreUnknown: "1", ...(pod.attachment.args ?? {}) }).map(([k, v]) => `${k}=${v}`).join(";");
    return { CNI_COMMAND: command, CNI_CONTAINERID: pod.id, CNI_NETNS: pod.attachment.netns, CNI_IFNAME: pod.attachment.ifName, CNI_ARGS: args };
  }

  /** CNI GC (1.1) with the given live attachments, exec'd against the shim. */
  async gc(live: Pod[]): Promise<ShimRun> {
    const valid = live.map((p) => ({ containerID: p.id, ifname: p.attachment.ifName }));
    return this.execShim({ CNI_COMMAND: "GC" }, this.pluginConf("1.1.0", { "cni.dev/valid-attachments": valid }));
  }

  drop(pod: Pod): void {
    if (this.namespaces.delete(pod.netnsName)) Bun.spawnSync(["ip", "netns", "del", pod.netnsName]);
  }

  cleanup(): void {
    for (const n of this.namespaces) Bun.spawnSync(["ip", "netns", "del", n]);
    this.namespaces.clear();
  }
}

/** One ICMP echo from a pod's namespace (busybox ping, 1 s deadline); retried a few times. */
export async function podPings(netnsName: string, target: string, tries = 3): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    const p = Bun.spawn(["ip", "netns", "exec", netnsName, "busybox", "ping", "-c", "1", "-W", "1", target], { stdout: "ignore", stderr: "ignore" });
    if ((await p.exited) === 0) return true;
  }
  return false;
}
