/**
 * Builds the shim: `bun run cni-shim/build.ts [out]` → a self-contained `aws-cni` binary
 * (default .build/aws-cni). Written beside the target, then renamed over it, so a runtime
 * exec'ing the old binary never sees a half-written file ("text file busy" is avoided too).
 */
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export async function buildShim(out: string): Promise<string> {
  const target = resolve(out);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.aws-cni.build-${process.pid}-${Date.now()}`);
  const entry = join(import.meta.dir, "main.ts");
  // No .env or bunfig.toml autoload: the runtime's working directory must not change what the shim does.
  const flags = ["--compile", "--minify", "--bytecode", "--format=esm", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig"];
  const proc = Bun.spawn([process.execPath, "build", ...flags, entry, "--outfile", tmp], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`bun build failed (${code}): ${stderr.trim()}`);
  }
  renameSync(tmp, target);
  return target;
}

if (import.meta.main) {
  const out = process.argv[2] ?? ".build/aws-cni";
  console.log(await buildShim(out));
}
