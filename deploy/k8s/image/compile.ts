/**
 * What the image's build stage runs (deploy/k8s/Containerfile): compiles everything the final
 * stage carries into one output directory, from the TypeScript sources and node_modules.
 *
 *   <out>/aws-cni                       the compiled shim (cni-shim/build.ts)
 *   <out>/app/services/<name>/main.js   the service bundles (services/build.ts)
 *   <out>/app/lib/{install-cni,probe}.js the init container and the probe, bundled
 *   <out>/app/bin/*                     the entry points (./entrypoints.ts)
 *
 * Usage: bun deploy/k8s/image/compile.ts <out>
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildShim } from "../../../cni-shim/build.ts";
import { buildServices } from "../../../services/build.ts";
import { SERVICE_RUNTIME_ENV } from "../../../services/runtime-env.ts";
import { renderEntrypoints } from "./entrypoints.ts";

const TOOLS = { "install-cni": "../install-cni.ts", probe: "../probe.ts" } as const;

async function bundleTools(outdir: string): Promise<void> {
  const result = await Bun.build({
    entrypoints: Object.values(TOOLS).map((p) => join(import.meta.dir, p)),
    outdir,
    target: "bun",
    minify: true,
    naming: "[name].js",
    throw: false,
  });
  if (!result.success) throw new Error(`IMAGE_COMPILE_FAILED: bundling ${Object.keys(TOOLS).join(", ")}: ${result.logs.map((l) => String(l.message ?? l)).join("\n")}`);
}

export async function compileImageContent(out: string): Promise<void> {
  const root = resolve(out);
  const app = join(root, "app");
  await buildShim(join(root, "aws-cni"));
  await buildServices(join(app, "services"));
  await bundleTools(join(app, "lib"));
  mkdirSync(join(app, "bin"), { recursive: true });
  for (const [name, text] of Object.entries(renderEntrypoints(SERVICE_RUNTIME_ENV))) {
    writeFileSync(join(app, "bin", name), text);
    chmodSync(join(app, "bin", name), 0o755);
  }
}

if (import.meta.main) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write("usage: bun deploy/k8s/image/compile.ts <out dir>\n");
    process.exit(2);
  }
  await compileImageContent(out);
}
