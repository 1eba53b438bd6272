/**
 * The harness of the e2e tests that run the demo's steps on a local deployment (processes
 * mode): starts it before the tests, runs each step as a test, and after them removes the
 * demo's pods, stops the deployment and checks that nothing it started is left (processes,
 * namespaces, links, the DIR's manifest).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type DeploymentOptions, type RunningDeployment } from "../../deploy/local/deployment.ts";
import { runStep } from "../../deploy/local/demo/run.ts";
import { DemoContext, type DemoOptions, type Step } from "../../deploy/local/demo/steps.ts";
import { SERVICE_ORDER } from "../../deploy/local/node-services.ts";
import { leftovers } from "../local/up-process.ts";

export interface DemoDeployment {
  /** Valid inside tests (after beforeAll). */
  readonly dep: RunningDeployment;
  readonly ctx: DemoContext;
  readonly dir: string;
}

/** Registers beforeAll/afterAll for a deployment in a temp DIR (`tag` names it in /tmp); call inside a describe. */
export function demoDeployment(tag: string, opts: Omit<DeploymentOptions, "dir">, demo: DemoOptions): DemoDeployment {
  let dir = "";
  let dep: RunningDeployment | undefined;
  let ctx: DemoContext | undefined;
  const pids: number[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${tag}-${process.pid}-`));
    dep = await startDeployment({ ...opts, dir });
    for (const n of dep.nodes) for (const s of SERVICE_ORDER) pids.push(n.services.pid(s) ?? 0);
    ctx = new DemoContext(dep, demo);
  }, 60_000);

  afterAll(async () => {
    try {
      await ctx?.pods.close();
    } finally {
      await dep?.stop();
    }
    if (!dir) return;
    const left = await leftovers(dir, pids.filter((p) => p > 0));
    rmSync(dir, { recursive: true, force: true });
    expect(left).toEqual([]);
  }, 60_000);

  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error("the deployment did not start (see beforeAll)");
    return v;
  };
  return {
    get dep() {
      return need(dep);
    },
    get ctx() {
      return need(ctx);
    },
    get dir() {
      return dir;
    },
  };
}

/** One test per demo step, in order; a failed step prints its reason and details. */
export function demoStepTests(d: DemoDeployment, steps: readonly Step[], timeoutMs = 120_000): void {
  for (const step of steps) {
    test(step.name, async () => {
      const o = await runStep(d.ctx, step);
      if (!o.ok) console.log([o.reason, ...(o.details ?? [])].join("\n"));
      expect(o.reason).toBeString();
      expect(o.ok).toBe(true);
    }, timeoutMs);
  }
}
