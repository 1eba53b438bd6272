/**
 * A local deployment for one describe of an e2e file: started (and its stack file written, so
 * kubectl reaches its API) before the describe's tests, torn down after them with nothing left
 * behind — the objects the tests made deleted through the API first (so the kubelets run every
 * pod's CNI DEL while the node's services are still up), then the deployment stopped, then no
 * namespace, link, mount, stack file or listed process of it may remain.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type DeploymentOptions, type RunningDeployment } from "../../deploy/local/deployment.ts";
import { writeStack } from "../../deploy/local/stack.ts";
import { leftovers } from "../local/up-process.ts";
import { kubectl } from "./kubelet/kube.ts";

export interface KubeDeploymentOptions {
  /** Names the temporary directory (`e2e-<tag>-<pid>-…`). */
  tag: string;
  deployment: Omit<DeploymentOptions, "dir">;
  /** Kinds deleted (`kubectl delete <kind> --all`) before the deployment stops, in this order; default pods only. */
  deleteFirst?: string[];
  /** Runs after the deployment is up, inside beforeAll. */
  started?: (dep: RunningDeployment) => Promise<void> | void;
  /** Runs first in afterAll; what it returns are problems the teardown fails on. */
  closing?: () => Promise<string[]> | string[];
  /** Processes the tests started beside the deployment, which must be gone too. */
  pids?: () => number[];
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export interface KubeDeployment {
  /** The running deployment (throws before beforeAll made it). */
  dep(): RunningDeployment;
  /** The deployment's directory (`up --dir`). */
  readonly dir: string;
}

export function usingKubeDeployment(opts: KubeDeploymentOptions): KubeDeployment {
  const base = mkdtempSync(join(tmpdir(), `e2e-${opts.tag}-${process.pid}-`));
  const dir = join(base, "deploy");
  let dep: RunningDeployment | undefined;

  beforeAll(async () => {
    dep = await startDeployment({ ...opts.deployment, dir });
    await writeStack(dir, dep.stack);
    await opts.started?.(dep);
  }, opts.startTimeoutMs ?? 120_000);

  afterAll(async () => {
    const problems = (await opts.closing?.()) ?? [];
    if (dep) {
      for (const kind of opts.deleteFirst ?? ["pod"]) {
        const wait = kind === "pod" ? ["--wait=true", "--timeout=60s"] : ["--wait=true"];
        await kubectl(dep.stack, ["delete", kind, "--all", ...wait]).catch(() => undefined);
      }
      await dep.stop();
    }
    const left = await leftovers(dir, opts.pids?.() ?? []);
    rmSync(base, { recursive: true, force: true });
    expect({ problems, left }).toEqual({ problems: [], left: [] });
  }, opts.stopTimeoutMs ?? 90_000);

  return {
    dir,
    dep: () => {
      if (!dep) throw new Error(`the ${opts.tag} deployment is not running (its beforeAll failed or has not run)`);
      return dep;
    },
  };
}
