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
 * `prom-client` resolves to its metric classes and default metrics only (the plugin below):
 * its index also requires the Pushgateway and the cluster aggregator, which load node:http,
 * node:https, node:zlib and node:url into every service at start (~3.4 MiB each), and no
 * service pushes or aggregates. A service importing anything else from prom-client fails
 * this build, naming the export, instead of running without it.
 * Measured with bench/memory.ts: see bench/README.md.
 * Built into a temp dir beside the target, then renamed over it. Tests run the source.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { BunPlugin } from "bun";

export const BUNDLED_SERVICES = ["net-config", "pool-manager", "addr-broker", "metrics", "policy-agent", "policy-controller"] as const;

/** What the services use of prom-client, each from its own module (see the header). */
const PROM_CLIENT_PARTS: Record<string, string> = {
  Registry: "registry.js",
  Counter: "counter.js",
  Gauge: "gauge.js",
  Histogram: "histogram.js",
  Summary: "summary.js",
  collectDefaultMetrics: "defaultMetrics.js",
};

export const promClientParts: BunPlugin = {
  name: "prom-client-parts",
  setup(build) {
    build.onResolve({ filter: /^prom-client$/ }, () => ({ path: "prom-client", namespace: "prom-client-parts" }));
    build.onLoad({ filter: /.*/, namespace: "prom-client-parts" }, () => {
      const parts = Object.entries(PROM_CLIENT_PARTS);
      const lines = parts.map(([name, file]) => `import ${name} from ${JSON.stringify(Bun.resolveSync(`prom-client/lib/${file}`, import.meta.dir))};`);
      lines.push(`export { ${parts.map(([name]) => name).join(", ")} };`);
      return { contents: lines.join("\n"), loader: "js" };
    });
  },
};

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
      plugins: [promClientParts],
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
