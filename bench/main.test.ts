import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchNames } from "./main.ts";
import { hasFlag, intFlag, strFlag } from "./lib/args.ts";
import { pct, ratio } from "./lib/stats.ts";

const dir = mkdtempSync(join(tmpdir(), "bench-main-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("bench names are the .ts files beside main.ts, without main and tests", () => {
  for (const f of ["cni-add.ts", "memory.ts", "main.ts", "x.test.ts", "README.md"]) writeFileSync(join(dir, f), "");
  expect(benchNames(dir)).toEqual(["cni-add", "memory"]);
});

test("an unknown bench exits 2 and lists the available ones", async () => {
  const p = Bun.spawn([process.execPath, "run", join(import.meta.dir, "main.ts"), "no-such-bench"], { stdout: "pipe", stderr: "pipe" });
  expect(await p.exited).toBe(2);
  const err = await new Response(p.stderr).text();
  expect(err).toContain('unknown bench "no-such-bench"');
  expect(err).toContain("cni-add");
});

test("flags: integers and choices are validated naming the flag", () => {
  expect(intFlag(["--pods", "12"], "pods", 200)).toBe(12);
  expect(intFlag(["--pods=7"], "pods", 200)).toBe(7);
  expect(intFlag([], "pods", 200)).toBe(200);
  expect(() => intFlag(["--pods", "x"], "pods", 200)).toThrow("--pods");
  expect(strFlag(["--mode", "kill"], "mode", "both", ["kill", "both"])).toBe("kill");
  expect(() => strFlag(["--mode", "nope"], "mode", "both", ["kill", "both"])).toThrow("--mode");
  expect(strFlag(["--instance-type=m5.large"], "instance-type", "m5.4xlarge")).toBe("m5.large");
  expect(intFlag(["--cooldown", "0"], "cooldown", 5, 0)).toBe(0);
  expect(() => intFlag(["--seed", "0"], "seed", 1)).toThrow("--seed: want an integer ≥ 1");
});

test("switches: present with or without a value, absent otherwise", () => {
  expect(hasFlag(["--bound"], "bound")).toBe(true);
  expect(hasFlag(["--timeline=30"], "timeline")).toBe(true);
  expect(hasFlag(["--timeline-x"], "timeline")).toBe(false);
  expect(hasFlag([], "calls")).toBe(false);
  // a switch given without a value takes the fallback (scale's bare --timeline means 60 s)
  expect(intFlag(["--timeline"], "timeline", 60)).toBe(60);
});

test("percentiles and ratios", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  expect(pct(xs, 50)).toBe(51);
  expect(pct(xs, 99)).toBe(100);
  expect(ratio(5, 10, 0.6)).toBe("0.50x (target ≤ 0.6: met)");
  expect(ratio(8, 10, 0.6)).toBe("0.80x (target ≤ 0.6: NOT met)");
});

test("memory together: private pages of each plus the shared pages once", async () => {
  const { together, processMemory } = await import("./lib/proc-memory.ts");
  expect(together([{ rssKiB: 100, ussKiB: 20 }, { rssKiB: 90, ussKiB: 30 }])).toBe(20 + 30 + 80);
  expect(together([{ rssKiB: 100 }])).toBeNaN();
  const self = processMemory(process.pid);
  expect(self.rssKiB).toBeGreaterThan(0);
  expect(() => processMemory(-1)).toThrow("pid");
});
