/**
 * The node's kernel through rtnetlink: a long-lived socket in the node namespace, and a
 * short-lived one in a pod's namespace for the length of one wiring. Every call is
 * synchronous (rtnetlink answers within the send), so concurrent requests never interleave.
 */
import type { LinkInfo, Step } from "../core/kernel-ops.ts";
import type { NodeObservation, PodLayout, PodObservation } from "../core/pod-wiring.ts";
import { MAIN_TABLE } from "../core/kernel-ops.ts";
import { NetnsHandle, type NetnsRef } from "./netns.ts";
import { Rtnl } from "./netlink/rtnl.ts";

export interface StepResult {
  step: Step;
  /** False when a delete found nothing. */
  changed: boolean;
}

export class NetlinkKernel {
  readonly nodeNs: NetnsHandle;
  readonly node: Rtnl;

  constructor(nodeNs: NetnsRef) {
    this.nodeNs = NetnsHandle.open(nodeNs);
    try {
      this.node = Rtnl.open(this.nodeNs);
    } catch (err) {
      this.nodeNs.close();
      throw err;
    }
  }

  close(): void {
    this.node.close();
    this.nodeNs.close();
  }

  /** Run steps in order; pod-side steps need `podNetns`. Stops at the first error (thrown). */
  run(steps: Step[], podNetns?: string): StepResult[] {
    // Another process may have replaced a link since the last call: resolve names afresh.
    this.node.forgetLinks();
    const needsPod = steps.some((s) => s.side === "pod");
    if (!needsPod) return steps.map((step) => ({ step, changed: this.node.perform(step.op) }));
    return this.withPod(podNetns ?? "", (pod) => steps.map((step) => ({ step, changed: this.perform(step, pod) })));
  }

  private perform(step: Step, pod: Rtnl): boolean {
    return step.side === "pod" ? pod.perform(step.op, this.nodeNs) : this.node.perform(step.op);
  }

  /**
   * Runs steps as run() does, then reads the pod-side link `podIf` through the same pod socket
   * (a wiring's answer needs its MAC and index; a second socket would enter the pod's
   * namespace again, ~17 % of a wiring).
   */
  runThenPodLink(steps: Step[], podNetns: string, podIf: string): LinkInfo | undefined {
    this.node.forgetLinks();
    return this.withPod(podNetns, (pod) => {
      for (const step of steps) this.perform(step, pod);
      return pod.link(podIf);
    });
  }

  /** Takes the node-side link `dev` down and renames it `newName` (in link group `group`); false when there is none. */
  retireLink(dev: string, newName: string, group?: number): boolean {
    return this.node.retire(dev, newName, group);
  }

  /** Names of the node's links (e.g. to find retired veths a crash left behind). */
  linkNames(): string[] {
    return this.node.links().map((l) => l.name);
  }

  /** Open the pod's namespace and a socket in it for the duration of `fn`. */
  withPod<T>(podNetns: string, fn: (pod: Rtnl) => T): T {
    const ns = NetnsHandle.open({ path: podNetns });
    try {
      const pod = Rtnl.open(ns);
      try {
        return fn(pod);
      } finally {
        pod.close();
      }
    } finally {
      ns.close();
    }
  }

  observeNode(l: PodLayout): NodeObservation {
    return {
      hostLink: this.node.link(l.hostVeth),
      routes: this.node.routes(l.family).filter((r) => r.table === MAIN_TABLE && r.dst === l.podCidr),
      rules: this.node.rules(l.family),
    };
  }

  observePod(podNetns: string, l: PodLayout): PodObservation {
    return this.withPod(podNetns, (pod) => ({
      podLink: pod.link(l.podIf),
      addrs: pod.addrs(l.family),
      routes: pod.routes(l.family),
      neighbours: pod.neighbours(l.family),
      ...(l.podRules.length > 0 ? { rules: pod.rules(l.family) } : {}),
    }));
  }
}
