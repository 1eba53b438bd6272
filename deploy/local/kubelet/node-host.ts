/**
 * A simulated node's view of its own root filesystem, for what runs "on the host": the CNI
 * plugins the kubelet execs. On a real node /var/run/aws-node holds aws-node's sockets and
 * /var/log/aws-routed-eni its plugin.log; here every node has its own directories for them
 * (the aws-node pod's hostPath volumes map there), so the plugins of node i must see node i's.
 *
 * One process per node holds a mount namespace (a slave of the machine's, inside the node's
 * network namespace, so `down` kills it with the node) in which /run is a small tmpfs holding
 * the machine's /run/netns (recursively bound: pod namespaces made later appear in it) and the
 * node's run dir at /run/aws-node, and /var/log a tmpfs with the node's log dir at
 * aws-routed-eni. Nothing is created on the machine's own filesystem; the views go with the
 * process. The plugins are exec'd with `nsenter --mount=... --net=...` into both namespaces.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SAFE_PATH = /^\/[A-Za-z0-9_.\/-]+$/;
const NETNS = /^[A-Za-z0-9_.-]{1,64}$/;

// $1 the view's mount point (in the node's state dir), $2 the node's run dir, $3 its log dir.
const SCRIPT = `set -e
view="$1"
mount -n -t tmpfs -o mode=0755,size=4m aws-vpc-cni-node-run "$view"
mkdir "$view/netns" "$view/aws-node"
mount -n --rbind /run/netns "$view/netns"
mount -n --bind "$2" "$view/aws-node"
mount -n --move "$view" /run
mount -n -t tmpfs -o mode=0755,size=4m aws-vpc-cni-node-log /var/log
mkdir /var/log/aws-routed-eni
mount -n --bind "$3" /var/log/aws-routed-eni
echo ready
exec sleep 2147483647
`;

export interface NodeHostPaths {
  nodeNetns: string;
  runDir: string;
  logDir: string;
  /** Where the view is assembled before it moves onto /run (the node's kubelet state dir). */
  stateDir: string;
}

export class NodeHost {
  private constructor(private readonly proc: ReturnType<typeof Bun.spawn>) {}

  static async start(p: NodeHostPaths): Promise<NodeHost> {
    if (!NETNS.test(p.nodeNetns)) throw new Error(`node netns: ${JSON.stringify(p.nodeNetns)} is not a namespace name`);
    for (const [field, path] of Object.entries({ runDir: p.runDir, logDir: p.logDir, stateDir: p.stateDir })) {
      if (!SAFE_PATH.test(path) || path.split("/").includes("..")) throw new Error(`${field}: ${JSON.stringify(path)} is not a plain absolute path`);
    }
    const view = join(p.stateDir, "host-run-view");
    for (const d of [p.runDir, p.logDir, view]) mkdirSync(d, { recursive: true });
    const proc = Bun.spawn(["nsenter", `--net=/run/netns/${p.nodeNetns}`, "unshare", "--mount", "--propagation", "slave", "sh", "-c", SCRIPT, "node-host", view, p.runDir, p.logDir], {
      env: { PATH },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const host = new NodeHost(proc);
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    const first = await Promise.race([reader.read(), proc.exited.then(() => undefined), Bun.sleep(10_000).then(() => undefined)]);
    reader.releaseLock();
    if (!first || first.done || !new TextDecoder().decode(first.value).includes("ready")) {
      const err = proc.exitCode !== null ? await new Response(proc.stderr as ReadableStream).text() : "no answer in 10 s";
      proc.kill("SIGKILL");
      throw new Error(`node ${p.nodeNetns}: its host view could not be made: ${err.trim()}`);
    }
    return host;
  }

  /** argv to put before a command so it runs on the node: its mount and network namespaces. */
  get execPrefix(): string[] {
    return ["nsenter", `--mount=/proc/${this.proc.pid}/ns/mnt`, `--net=/proc/${this.proc.pid}/ns/net`];
  }

  /** The process holding the view (its /proc/<pid>/root is the node's root). */
  get pid(): number {
    return this.proc.pid;
  }

  async stop(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
  }
}
