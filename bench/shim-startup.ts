/**
 * Start-up + one request of the compiled aws-cni shim, side by side with baselines run in
 * the same loop: `true` (a bare exec) and Debian's reference ptp plugin answering VERSION
 * (a Go CNI plugin's start-up). The shim does a DEL and an ADD against a stub addr-broker on
 * a Unix socket (answering at once), so only the shim's own cost is measured. A compiled Bun
 * binary that only exits shows the floor the runtime itself costs; cni-add's floor arm (a
 * plugin built with the shim's flags that reads stdin and answers, bench/lib/floor-plugin.ts)
 * is the floor issue 19's ratios divide by, so the shim's ADD to a stub ÷ that floor is the
 * least any design whose plugin forwards each call to a service can reach. With --variants, the shim
 * built other ways runs in the same loop too (no --bytecode, no --minify,
 * --compile-exec-argv=--smol, its bytecode laid out by the order one DEL used), each against
 * the shim as cni-shim/build.ts builds it.
 *
 *   node_modules/.bin/bun run bench/shim-startup.ts [--rounds N] [--variants]   (default 200)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildShim, SHIM_BUILD_FLAGS } from "../cni-shim/build.ts";
import { hasFlag, intFlag } from "./lib/args.ts";
import { buildFloorPlugin, FLOOR_PLUGIN_TYPE } from "./lib/floor-plugin.ts";

const rounds = intFlag(process.argv.slice(2), "rounds", 200);
const variants = hasFlag(process.argv.slice(2), "variants");
const dir = mkdtempSync(join(tmpdir(), "shim-bench-"));
const socket = join(dir, "addr-broker.sock");
const FLOOR_ADD = "floor plugin ADD (cni-add's floor)";
const SHIM_ADD = "aws-cni ADD (one request)";
const server = Bun.serve({ unix: socket, fetch: () => Response.json({ exitCode: 0, stdout: "", stderr: "" }) });

try {
  const shim = await buildShim(join(dir, "aws-cni"));
  // The floor of any compiled Bun binary: one that only exits.
  await Bun.write(join(dir, "exit.ts"), "process.exit(0);\n");
  const floor = join(dir, "bun-exit");
  const built = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", join(dir, "exit.ts"), "--outfile", floor]);
  if (built.exitCode !== 0) throw new Error(built.stderr.toString());
  const floorPlugin = join(await buildFloorPlugin(dir), FLOOR_PLUGIN_TYPE);
  const conf = JSON.stringify({ cniVersion: "1.1.0", name: "aws-cni", type: "aws-cni", brokerSocket: socket });
  const add = { CNI_COMMAND: "ADD", CNI_CONTAINERID: "bench", CNI_IFNAME: "eth0", CNI_NETNS: "/proc/self/ns/net", CNI_PATH: "/opt/cni/bin" };
  const cases: Record<string, { argv: string[]; env: Record<string, string>; stdin: string }> = {
    "true (bare exec)": { argv: ["/bin/true"], env: {}, stdin: "" },
    "compiled bun, exit only": { argv: [floor], env: {}, stdin: "" },
    "ptp VERSION (Go plugin)": { argv: ["/usr/lib/cni/ptp"], env: { CNI_COMMAND: "VERSION" }, stdin: '{"cniVersion":"1.0.0"}' },
    "aws-cni VERSION (local)": { argv: [shim], env: { CNI_COMMAND: "VERSION" }, stdin: conf },
    "aws-cni DEL (one request)": { argv: [shim], env: { CNI_COMMAND: "DEL", CNI_CONTAINERID: "bench", CNI_IFNAME: "eth0", CNI_NETNS: "" }, stdin: conf },
    [FLOOR_ADD]: { argv: [floorPlugin], env: add, stdin: conf },
    [SHIM_ADD]: { argv: [shim], env: add, stdin: conf },
  };
  const DEL = "aws-cni DEL (one request)";
  if (variants) {
    // The order file: which functions one DEL ran (Bun writes it at exit), for --bytecode-order.
    const order = join(dir, "bytecode-order.txt");
    const del = cases[DEL]!;
    const rec = Bun.spawn(del.argv, { env: { ...del.env, BUN_BYTECODE_ORDER_OUT: order }, stdin: new Blob([del.stdin]), stdout: "ignore", stderr: "ignore" });
    if ((await rec.exited) !== 0) throw new Error("recording the bytecode order failed");
    const builds: [string, string[]][] = [
      ["no --bytecode", SHIM_BUILD_FLAGS.filter((f) => f !== "--bytecode")],
      ["no --minify", SHIM_BUILD_FLAGS.filter((f) => f !== "--minify")],
      ["--smol", [...SHIM_BUILD_FLAGS, "--compile-exec-argv=--smol"]],
      ["--bytecode-order", [...SHIM_BUILD_FLAGS, `--bytecode-order=${order}`]],
    ];
    for (const [i, [name, flags]] of builds.entries()) cases[`aws-cni DEL, ${name}`] = { ...del, argv: [await buildShim(join(dir, `v${i}`, "aws-cni"), flags)] };
  }
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const once = async (c: (typeof cases)[string]) => {
    const t0 = performance.now();
    const p = Bun.spawn(c.argv, { env: c.env, stdin: new Blob([c.stdin]), stdout: "pipe", stderr: "pipe" });
    await new Response(p.stdout).arrayBuffer();
    const code = await p.exited;
    const ms = performance.now() - t0;
    if (code !== 0) throw new Error(`${c.argv[0]} exited ${code}`);
    return ms;
  };
  for (const c of Object.values(cases)) for (let i = 0; i < 5; i++) await once(c); // warm the page cache
  for (let i = 0; i < rounds; i++) for (const [name, c] of Object.entries(cases)) samples[name]!.push(await once(c));
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { p50: s[Math.floor(s.length * 0.5)]!, p90: s[Math.floor(s.length * 0.9)]! };
  };
  const stats = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stat(v)]));
  const shimStat = stats[DEL]!;
  console.log(`shim start-up + one request, ${rounds} rounds interleaved (p50)`);
  console.log("ratios:");
  for (const base of ["true (bare exec)", "ptp VERSION (Go plugin)", "compiled bun, exit only"]) console.log(`  aws-cni DEL / ${base}: ${(shimStat.p50 / stats[base]!.p50).toFixed(2)}x`);
  console.log(`  aws-cni ADD to a stub / ${FLOOR_ADD}: p50 ${(stats[SHIM_ADD]!.p50 / stats[FLOOR_ADD]!.p50).toFixed(2)}x, p90 ${(stats[SHIM_ADD]!.p90 / stats[FLOOR_ADD]!.p90).toFixed(2)}x (issue 19's ADD target against that floor: ≤ 1.15x p50)`);
  console.log(`  aws-cni VERSION / ${FLOOR_ADD}: p50 ${(stats["aws-cni VERSION (local)"]!.p50 / stats[FLOOR_ADD]!.p50).toFixed(2)}x`);
  for (const name of Object.keys(cases).filter((k) => k.startsWith("aws-cni DEL, "))) console.log(`  ${name} / aws-cni DEL: p50 ${(stats[name]!.p50 / shimStat.p50).toFixed(2)}x, p90 ${(stats[name]!.p90 / shimStat.p90).toFixed(2)}x`);
  console.log("absolutes (ms):");
  for (const [k, v] of Object.entries(stats)) console.log(`  ${k.padEnd(36)} p50 ${v.p50.toFixed(2)}  p90 ${v.p90.toFixed(2)}`);
  console.log(`target: under 5 ms → ${shimStat.p50 < 5 ? "met" : "NOT met"} (p50 ${shimStat.p50.toFixed(2)} ms)`);
} finally {
  server.stop(true);
  rmSync(dir, { recursive: true, force: true });
}
