/**
 * Bundles the four services and the policy controller: `bun run services/build.ts [outdir]` → `<outdir>/<service>/main.js`
 * (default .build/services), run with `bun <outdir>/<service>/main.js`. Bun.build, target bun,
 * minified, split into shared chunks: the bundle keeps only what each service uses of the AWS SDK and the
 * Kubernetes client (from source, Bun loads the whole client-ec2 and client-node), and a module
 * imported with `await import()` (addr-broker's pod annotator, the SDK's credential providers)
 * stays in its own chunk, loaded only when used. `--conditions=module`: the AWS SDK's packages
 * (@smithy/*, @aws-sdk/*) export CommonJS under the `node` condition, which the bundler
 * cannot tree-shake (all of @smithy/core's CBOR, event-stream and checksum code came along);
 * the `module` condition picks their ES module build of the same code, and the node variant
 * of every file still (the target is bun, so the `browser` field is ignored). No other
 * package the services use changes. pool-manager holds ~2.5 MiB less.
 * Metrics come from the project's own registry (shared/metrics/): no Prometheus client package
 * is bundled.
 * Measured with bench/memory.ts: see bench/README.md.
 * Built into a temp dir beside the target, then renamed over it. Tests run the source.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const BUNDLED_SERVICES = ["net-config", "pool-manager", "addr-broker", "metrics", "policy-agent", "policy-controller"] as const;

export async function buildServices(outdir: string): Promise<string> {
  const target = resolve(outdir);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.build-${process.pid}-${Date.now()}`;
  const entries = BUNDLED_SERVICES.map((s) => join(import.meta.dir, s, "main.ts"));
  let failure: string | undefined;
  try {
    const result = await Bun.build({
      entrypoints: entries,
      root: import.meta.dir,
      outdir: tmp,
      target: "bun",
      minify: true,
      splitting: true,
      conditions: ["module"],
      throw: false,
    });
    if (!result.success) failure = result.logs.map((l) => String(l.message ?? l)).join("\n");
  } catch (err) {
    failure = String((err as Error)?.message ?? err);
  }
  if (failure !== undefined || !BUNDLED_SERVICES.every((s) => existsSync(join(tmp, s, "main.js")))) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`bun build of the services failed: ${failure ?? "an entry point has no main.js"}`);
  }
  const old = `${target}.old-${process.pid}-${Date.now()}`;
  if (existsSync(target)) renameSync(target, old);
  renameSync(tmp, target);
  rmSync(old, { recursive: true, force: true });
  return target;
}

if (import.meta.main) {
  console.log(await buildServices(process.argv[2] ?? ".build/services"));
}
