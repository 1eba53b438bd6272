/**
 * A node and its pods in real namespaces, wired as the CNI wires them: per pod a veth
 * pair (host side in the node, `eth0` in the pod), the pod's /32 and /128 on eth0, a
 * default route via 169.254.1.1 (static neighbour: the host veth's MAC) and via fe80::1,
 * and /32 and /128 routes to the pod on the host veth. The node's own addresses sit on its
 * eth0 (a veth whose peer ext0 stays in the node: this kernel has no dummy links). A probe agent (probe-agent.ts) in every namespace echoes TCP and UDP on the
 * lab's ports and makes probes on request. Everything made is removed by close(), also
 * after a failure; names are unique per run.
 */
import { join } from "node:path";
import type { Subprocess } from "bun";
import { Namespaces } from "../../../../net-config/test-support/namespaces.ts";

const AGENT = join(import.meta.dir, "probe-agent.ts");

export interface LabPod {
  name: string;
  ns: string;
  hostVeth: string;
  v4: string;
  v6: string;
}

export interface Lab {
  node: { ns: string; v4: string; v6: string };
  pods: LabPod[];
}

class Agent {
  private seq = 0;
  private readonly waiting = new Map<number, (a: { ok: boolean; detail: string }) => void>();
  readonly ready: Promise<unknown>;

  constructor(private readonly proc: Subprocess<"pipe", "pipe", "pipe">) {
    let signalReady: (v: unknown) => void = () => {};
    this.ready = new Promise((r) => (signalReady = r));
    this.waiting.set(0, signalReady);
    void (async () => {
      let buf = "";
      for await (const chunk of proc.stdout) {
        buf += new TextDecoder().decode(chunk);
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            const a = JSON.parse(line) as { id: number; ok: boolean; detail: string };
            this.waiting.get(a.id)?.(a);
            this.waiting.delete(a.id);
          } catch {
            // not an answer
          }
        }
      }
    })();
  }

  ask(req: Record<string, unknown>): Promise<{ ok: boolean; detail: string }> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.stdin.write(`${JSON.stringify({ ...req, id })}\n`);
      this.proc.stdin.flush();
    });
  }

  kill(): void {
    this.proc.kill();
  }
}

export class PolicyLab implements Lab {
  readonly nss = new Namespaces();
  node!: Lab["node"];
  pods: LabPod[] = [];
  private readonly agents = new Map<string, Agent>();

  constructor(readonly ports: number[]) {}

  /**
   * Builds the node and `count` pods, and waits for every agent. Pods from `wired` on get
   * their namespace and agent but no veth yet (wire() makes it later).
   */
  async start(count: number, wired = count): Promise<void> {
    const node = this.nss.add("pn");
    this.node = { ns: node.name, v4: "10.99.0.1", v6: "fd99::1" };
    const ip = (ns: string, ...args: string[]) => this.nss.ip(ns, args);
    ip(node.name, "link", "add", "eth0", "type", "veth", "peer", "name", "ext0");
    ip(node.name, "link", "set", "ext0", "up");
    ip(node.name, "addr", "add", "10.99.0.1/32", "dev", "eth0");
    ip(node.name, "addr", "add", "fd99::1/128", "dev", "eth0", "nodad");
    ip(node.name, "link", "set", "eth0", "up");
    this.nss.exec(node.name, ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
    for (let i = 0; i < count; i++) {
      const pod = this.nss.add("pp");
      const hostVeth = `npv${this.nss.tag}${i}`.slice(0, 15);
      this.pods.push({ name: `pod-${i}`, ns: pod.name, hostVeth, v4: `10.99.1.${10 + i}`, v6: `fd99:1::${(10 + i).toString(16)}` });
    }
    for (const p of this.pods.slice(0, wired)) this.wireLinks(p);
    for (const ns of [node.name, ...this.pods.map((p) => p.ns)]) {
      const proc = Bun.spawn(["ip", "netns", "exec", ns, process.execPath, AGENT, ...this.ports.map(String)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      this.agents.set(ns, new Agent(proc));
    }
    await Promise.all([...this.agents.values()].map((a) => a.ready));
    await Promise.all(this.pods.slice(0, wired).map((p) => this.gatewayReachable(p)));
  }

  /** Wires a pod start() left without its veth, as the CNI would, once its agent is up. */
  async wire(p: LabPod): Promise<void> {
    this.wireLinks(p);
    await this.gatewayReachable(p);
  }

  /** The link-local gateway must be reachable before IPv6 probes mean anything. */
  private async gatewayReachable(p: LabPod): Promise<void> {
    await this.probe(p.ns, this.node.v6, "tcp", this.ports[0]!, 2000);
  }

  private wireLinks(p: LabPod): void {
    const ip = (ns: string, ...args: string[]) => this.nss.ip(ns, args);
    const node = this.node.ns;
    ip(node, "link", "add", p.hostVeth, "type", "veth", "peer", "name", "eth0", "netns", p.ns);
    ip(node, "addr", "add", "fe80::1/64", "dev", p.hostVeth, "nodad");
    ip(node, "link", "set", p.hostVeth, "up");
    const mac = JSON.parse(ip(node, "-j", "link", "show", p.hostVeth))[0].address as string;
    ip(p.ns, "addr", "add", `${p.v4}/32`, "dev", "eth0");
    ip(p.ns, "addr", "add", `${p.v6}/128`, "dev", "eth0", "nodad");
    ip(p.ns, "link", "set", "eth0", "up");
    ip(p.ns, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link");
    ip(p.ns, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
    ip(p.ns, "neigh", "add", "169.254.1.1", "lladdr", mac, "dev", "eth0", "nud", "permanent");
    ip(p.ns, "-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0");
    ip(node, "route", "add", `${p.v4}/32`, "dev", p.hostVeth);
    ip(node, "-6", "route", "add", `${p.v6}/128`, "dev", p.hostVeth);
  }

  /** A new flow from namespace `fromNs` to `host`: true when the echo came back. */
  async probe(fromNs: string, host: string, op: "tcp" | "udp", port: number, timeoutMs = 400): Promise<boolean> {
    return (await this.agents.get(fromNs)!.ask({ op, host, port, timeoutMs })).ok;
  }

  /** Opens a TCP connection that keeps sending; report() tells when its last echo arrived. */
  async watch(fromNs: string, host: string, port: number, sid: string): Promise<boolean> {
    return (await this.agents.get(fromNs)!.ask({ op: "watch", host, port, sid })).ok;
  }

  /** A watch's echoes so far, the time of its last one and the agent's time now (the agent's clock, not ours). */
  async peek(fromNs: string, sid: string): Promise<{ echoes: number; lastEchoAt: number; at: number }> {
    return JSON.parse((await this.agents.get(fromNs)!.ask({ op: "peek", sid })).detail);
  }

  /** As peek, and the watch ends. */
  async report(fromNs: string, sid: string): Promise<{ echoes: number; lastEchoAt: number; at: number }> {
    return JSON.parse((await this.agents.get(fromNs)!.ask({ op: "report", sid })).detail);
  }

  close(): void {
    for (const a of this.agents.values()) a.kill();
    this.agents.clear();
    this.nss.cleanup();
  }
}
