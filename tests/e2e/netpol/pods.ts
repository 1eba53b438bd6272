/**
 * The conformance suite's pods on a local deployment: namespaces x, y, z labelled `ns=<name>`,
 * pods a, b, c in each labelled `pod=<name>`, spread over the nodes; each declares named
 * container ports serve-80-tcp, serve-80-udp, serve-81-tcp, serve-81-udp, and gets a helper
 * process in its network namespace (in-pod.ts) that serves those ports and probes from there.
 */
import type { Stack } from "../../../deploy/local/stack.ts";
import { apply, kubectl } from "../kubelet/kube.ts";
import { eventually, podContainerPid } from "../podman/node-state.ts";
import type { ModelPod } from "./model.ts";

export const NAMESPACES = ["x", "y", "z"] as const;
export const POD_NAMES = ["a", "b", "c"] as const;
export const PORTS = [80, 81] as const;
export const SERVED = PORTS.flatMap((port) => (["TCP", "UDP"] as const).map((protocol) => ({ port, protocol })));
const IN_POD = new URL("./in-pod.ts", import.meta.url).pathname;
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const portName = (port: number, protocol: string) => `serve-${port}-${protocol.toLowerCase()}`;

export function podObject(namespace: string, name: string, nodeName: string, labels: Record<string, string> = { pod: name }) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "main",
          image: "busybox",
          // in-pod.ts serves the ports in the pod's network namespace (see there why not busybox)
          command: ["sleep", "3600"],
          ports: SERVED.map(({ port, protocol }) => ({ name: portName(port, protocol), containerPort: port, protocol })),
        },
      ],
    },
  };
}

export async function applyNamespaces(stack: Stack): Promise<void> {
  for (const ns of NAMESPACES) await apply(stack, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { ns } } });
}

type PodList = { items: Array<{ metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> }; status?: { podIP?: string } }> };

/** A running pod with its helper: `probe` sends probes from inside it. */
export interface LivePod extends ModelPod {
  key: string;
  pid: number;
  helper: Helper;
}

/** The in-pod helper process: one request at a time per call, answers matched by id. */
export class Helper {
  private next = 1;
  private readonly waiting = new Map<number, (r: boolean[]) => void>();
  private readonly ready: Promise<void>;

  constructor(private readonly proc: Bun.Subprocess<"pipe", "pipe", "pipe">) {
    let markReady!: () => void;
    this.ready = new Promise((r) => (markReady = r));
    void (async () => {
      let buffered = "";
      for await (const chunk of proc.stdout) {
        buffered += new TextDecoder().decode(chunk);
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const msg = JSON.parse(buffered.slice(0, nl)) as { ready?: true; id?: number; results?: boolean[] };
          buffered = buffered.slice(nl + 1);
          if (msg.ready) markReady();
          else if (msg.id !== undefined) this.waiting.get(msg.id)?.(msg.results ?? []);
        }
      }
    })();
  }

  get pid(): number {
    return this.proc.pid;
  }

  static start(pid: number): Helper {
    const proc = Bun.spawn(["nsenter", "-t", String(pid), "-n", process.execPath, IN_POD, PORTS.join(",")], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    return new Helper(proc);
  }

  async whenReady(timeoutMs: number): Promise<void> {
    const exited = this.proc.exited.then(async (code) => {
      throw new Error(`in-pod helper exited ${code}: ${await new Response(this.proc.stderr).text()}`);
    });
    const timeout = Bun.sleep(timeoutMs).then(() => {
      throw new Error(`in-pod helper not ready within ${timeoutMs} ms`);
    });
    await Promise.race([this.ready, exited, timeout]);
  }

  probe(probes: Array<{ ip: string; port: number; protocol: string }>, timeoutMs: number): Promise<boolean[]> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error("in-pod helper did not answer"));
      }, timeoutMs + 5_000);
      this.waiting.set(id, (r) => {
        clearTimeout(guard);
        this.waiting.delete(id);
        resolve(r);
      });
      this.proc.stdin.write(`${JSON.stringify({ id, timeoutMs, probes })}\n`);
      this.proc.stdin.flush();
    });
  }

  private stopping?: Promise<void>;

  /** Closes its stdin (it exits), SIGKILL after 2 s; once, however often called. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      this.proc.stdin.end();
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), 2_000);
      await this.proc.exited;
      clearTimeout(timer);
    })());
  }
}

/**
 * Waits for the named pods to have an address and a running container; starts each one's
 * helper, adding it to `helpers` at once (so it is stopped even when another pod fails).
 */
export async function startPods(stack: Stack, specs: Array<ReturnType<typeof podObject>>, helpers: Helper[], timeoutMs = 90_000): Promise<LivePod[]> {
  for (const s of specs) if (!NAME.test(s.metadata.name) || !NAME.test(s.metadata.namespace)) throw new Error(`pod name: not a DNS label: ${s.metadata.namespace}/${s.metadata.name}`);
  const applied = await kubectl(stack, ["apply", "-f", "-"], specs.map((o) => JSON.stringify(o)).join("\n"));
  if (applied.exitCode !== 0) throw new Error(`kubectl apply (pods): ${applied.stderr}`);
  const want = new Set(specs.map((s) => `${s.metadata.namespace}/${s.metadata.name}`));
  const listed = await eventually("the pods have addresses", timeoutMs, async () => {
    const r = await kubectl(stack, ["get", "pods", "-A", "-o", "json"]);
    if (r.exitCode !== 0) return undefined;
    const items = (JSON.parse(r.stdout) as PodList).items.filter((p) => want.has(`${p.metadata.namespace}/${p.metadata.name}`) && p.status?.podIP);
    return items.length === want.size ? items : undefined;
  });
  const spec = new Map(specs.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  return Promise.all(
    listed.map(async (p) => {
      const key = `${p.metadata.namespace}/${p.metadata.name}`;
      const pid = await podContainerPid(stack, p.metadata.uid, key, timeoutMs);
      const helper = Helper.start(pid);
      helpers.push(helper);
      await helper.whenReady(20_000);
      const container = spec.get(key)!.spec.containers[0]!;
      return { key, namespace: p.metadata.namespace, name: p.metadata.name, labels: p.metadata.labels ?? {}, ip: p.status!.podIP!, pid, helper, ports: container.ports };
    }),
  );
}
