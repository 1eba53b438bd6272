/**
 * Builds the shim: `bun run cni-shim/build.ts [out]` → a self-contained `aws-cni` binary
 * (default .build/aws-cni). Written beside the target, then renamed over it, so a runtime
 * exec'ing the old binary never sees a half-written file ("text file busy" is avoided too).
 * The binary embeds the name it was compiled to (/$bunfs/root/<name>), so it is compiled
 * under the target's own name in a temp directory: the same sources give the same bytes,
 * which keeps the image's layer holding it cached.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/**
 * The shim's `bun build` flags. No .env or bunfig.toml autoload: the runtime's working
 * directory must not change what the shim does. Measured against the alternatives on
 * 2026-12-04 (`bench/exec-floor`, `shim-startup --variants`; bench/README.md, "the exec
 * floor"): without --bytecode the shim starts 7–10 % slower; without --minify,
 * --compile-exec-argv=--smol or with --bytecode-order, within the noise.
 */
export const SHIM_BUILD_FLAGS: readonly string[] = ["--compile", "--minify", "--bytecode", "--format=esm", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig"];

/** Builds the shim to `out`; `flags` replaces SHIM_BUILD_FLAGS (the benches compare variants). */
export async function buildShim(out: string, flags: readonly string[] = SHIM_BUILD_FLAGS): Promise<string> {
  const target = resolve(out);
  mkdirSync(dirname(target), { recursive: true });
  const tmpDir = mkdtempSync(join(dirname(target), ".aws-cni.build-"));
  const tmp = join(tmpDir, basename(target));
  const entry = join(import.meta.dir, "main.ts");
  const proc = Bun.spawn([process.execPath, "build", ...flags, entry, "--outfile", tmp], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  try {
    if (code !== 0) throw new Error(`bun build failed (${code}): ${stderr.trim()}`);
    renameSync(tmp, target);
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
  return target;
}

if (import.meta.main) {
  const out = process.argv[2] ?? ".build/aws-cni";
  console.log(await buildShim(out));
}
