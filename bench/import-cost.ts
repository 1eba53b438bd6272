/**
 * import-cost: what loading a module costs a service process, before it does any work. Each
 * case is a few lines that import something (and build what a service builds at start), bundled
 * as services/build.ts bundles the services (Bun.build, target bun, minified, `module`
 * condition), started with SERVICE_RUNTIME_ENV, and read after Bun.gc(true) and 300 ms: USS
 * (private pages) and anonymous memory from /proc/<pid>/smaps_rollup, the median of --runs
 * starts. Baseline in the same run: the same process importing nothing. Anonymous memory is the
 * figure to compare: USS also counts the pages of the Bun binary that one probe alone maps,
 * which a node's services share.
 *
 * The cases measure the code of this tree, or of --root (another worktree: shared/config,
 * shared/contracts, shared/log.ts as that commit has them; pick with --only the cases whose
 * files it has).
 *
 *   npm run bench -- import-cost [--runs 3] [--only part,part] [--root /path/to/worktree]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SERVICE_RUNTIME_ENV } from "../services/runtime-env.ts";
import { intFlag, strFlag } from "./lib/args.ts";
import { command } from "./lib/stats.ts";

const argv = process.argv.slice(2);
const RUNS = intFlag(argv, "runs", 3);
const ONLY = strFlag(argv, "only", "");
const ROOT = strFlag(argv, "root", join(import.meta.dir, ".."));
const at = (path: string) => JSON.stringify(join(ROOT, path));
const keep = "(globalThis as any).kept = kept;";

/** name → the probe's code (it keeps what it built in `kept`, as a service keeps its schemas). */
const CASES: Record<string, string> = {
  bare: "const kept = 0;",
  "zod classic, 30 objects": `import { z } from "zod";\nconst kept = Array.from({ length: 30 }, () => z.object({ a: z.string().min(1).max(5), b: z.number().int().min(0), c: z.array(z.string()).optional() }));`,
  "zod/mini + en, 30 objects": `import { z, int } from ${at("shared/zod.ts")};\nconst kept = Array.from({ length: 30 }, () => z.object({ a: z.string().check(z.minLength(1), z.maxLength(5)), b: int().check(z.minimum(0)), c: z.optional(z.array(z.string())) }));`,
  "zod/mini + en, 1 string": `import { z } from ${at("shared/zod.ts")};\nconst kept = z.string();`,
  "contracts: fields.ts": `import * as kept from ${at("shared/contracts/fields.ts")};`,
  "config loaded": `import { loadConfig } from ${at("shared/config/index.ts")};\nconst kept = loadConfig({ MY_NODE_NAME: "n1" });`,
  "contracts: policy.ts": `import * as kept from ${at("shared/contracts/policy.ts")};`,
  "contracts: all (index.ts)": `import * as kept from ${at("shared/contracts/index.ts")};`,
  "node:crypto createHash": `import { createHash } from "node:crypto";\nconst kept = createHash("sha1").update("x").digest("hex");`,
  "Bun.CryptoHasher": `const kept = new Bun.CryptoHasher("sha1").update("x").digest("hex");`,
  "node:util": `import * as kept from "node:util";`,
  "pino logger (shared/log.ts)": `import { createLogger } from ${at("shared/log.ts")};\nconst kept = createLogger({ log: { level: "info", file: "stderr", pluginLevel: "info", pluginFile: "stderr" } } as never, { service: "probe", kind: "service" });`,
  "service frame (hono, metrics)": `import { createFrame } from ${at("shared/service.ts")};\nconst kept = createFrame({ name: "metrics", debug: () => ({}) });`,
};

function smaps(pid: number): { uss: number; anon: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { uss: kib("Private_Clean") + kib("Private_Dirty"), anon: kib("Anonymous") };
}

async function measure(file: string): Promise<{ uss: number; anon: number }> {
  const samples: { uss: number; anon: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const proc = Bun.spawn([process.execPath, file], { env: { ...process.env, ...SERVICE_RUNTIME_ENV }, stdout: "pipe", stderr: "inherit" });
    try {
      const reader = proc.stdout.getReader();
      let text = "";
      while (!text.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`${file} exited before it was ready`);
        text += new TextDecoder().decode(value);
      }
      await Bun.sleep(300);
      samples.push(smaps(proc.pid));
    } finally {
      proc.kill();
      await proc.exited;
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { uss: med(samples.map((s) => s.uss)), anon: med(samples.map((s) => s.anon)) };
}

const names = Object.keys(CASES).filter((n) => n === "bare" || ONLY === "" || ONLY.split(",").some((o) => n.includes(o)));
// Inside the tree, so that the cases resolve its node_modules; removed at the end.
const dir = mkdtempSync(join(ROOT, ".import-cost-"));
try {
  const entries = names.map((name, i) => {
    const path = join(dir, `case${i}.ts`);
    writeFileSync(path, `${CASES[name]}\n${keep}\nBun.gc(true);\nconsole.log("ready");\nsetInterval(() => {}, 1e9);\n`);
    return path;
  });
  const built = await Bun.build({ entrypoints: entries, outdir: join(dir, "out"), target: "bun", minify: true, conditions: ["module"], naming: "[name].js" });
  if (!built.success) throw new Error(`bundling the cases failed: ${built.logs.map(String).join("\n")}`);
  const results = new Map<string, { uss: number; anon: number }>();
  for (const [i, name] of names.entries()) results.set(name, await measure(join(dir, "out", `case${i}.js`)));
  const base = results.get("bare")!;
  const mib = (kib: number) => (kib / 1024).toFixed(2);
  console.log(`import-cost: one process per case, ${RUNS} starts each (median), MiB; Δ = over a bare Bun in this run`);
  console.log(`${"case".padEnd(32)} ${"anon".padStart(6)} ${"Δ anon".padStart(7)} ${"USS".padStart(6)} ${"Δ USS".padStart(7)}`);
  for (const [name, r] of results) {
    console.log(`${name.padEnd(32)} ${mib(r.anon).padStart(6)} ${mib(r.anon - base.anon).padStart(7)} ${mib(r.uss).padStart(6)} ${mib(r.uss - base.uss).padStart(7)}`);
  }
  console.log(`machine: Bun ${Bun.version}; load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  console.log(`command: ${command("import-cost", argv)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
