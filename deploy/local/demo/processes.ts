/**
 * Long-running processes the demo starts inside pods' network namespaces (`ip netns exec`),
 * tracked with their namespace so a pod's go with it and every one goes on close.
 */
import type { Subprocess } from "bun";
import { assertNetnsName } from "../vpc/names.ts";

export class NetnsProcesses {
  private readonly procs = new Map<Subprocess, string>();

  spawn(netns: string, argv: string[]): Subprocess<"ignore", "pipe", "pipe"> {
    const p = Bun.spawn(["ip", "netns", "exec", assertNetnsName(netns), ...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    this.procs.set(p, netns);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  async stop(p: Subprocess): Promise<void> {
    p.kill("SIGKILL");
    await p.exited;
    this.procs.delete(p);
  }

  /** Stops the processes started in `netns`. */
  async stopIn(netns: string): Promise<void> {
    for (const [p, ns] of [...this.procs]) if (ns === netns) await this.stop(p);
  }

  async stopAll(): Promise<void> {
    for (const p of [...this.procs.keys()]) await this.stop(p);
  }
}
