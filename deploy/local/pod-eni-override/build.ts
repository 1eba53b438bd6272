/**
 * Bundles the pod-ENI entries `up --pod-eni` runs instead of the ordinary bundles (pod-eni.ts),
 * as services/build.ts bundles the services (same options): `<outdir>/<entry>.js`.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { promClientParts } from "../../../services/build.ts";

export const POD_ENI_ENTRIES = ["net-config", "net-config-standin", "pool-manager", "addr-broker"] as const;
export type PodEniEntry = (typeof POD_ENI_ENTRIES)[number];

const builds = new Map<string, Promise<string>>();

/** Builds once per output directory (a deployment's nodes share it). */
export function bundledPodEniEntries(outdir: string): Promise<string> {
  const target = resolve(outdir);
  let build = builds.get(target);
  if (!build) {
    build = buildOnce(target);
    builds.set(target, build);
    build.catch(() => builds.delete(target));
  }
  return build;
}

async function buildOnce(target: string): Promise<string> {
  const tmp = `${target}.build-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  const result = await Bun.build({
    entrypoints: POD_ENI_ENTRIES.map((e) => join(import.meta.dir, `${e}.ts`)),
    root: import.meta.dir,
    outdir: tmp,
    target: "bun",
    minify: true,
    splitting: true,
    conditions: ["module"],
    plugins: [promClientParts],
    throw: false,
  });
  if (!result.success || !POD_ENI_ENTRIES.every((e) => existsSync(join(tmp, `${e}.js`)))) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`bun build of the pod-ENI entries failed: ${result.logs.map((l) => String(l.message ?? l)).join("\n")}`);
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(tmp, target);
  return target;
}
