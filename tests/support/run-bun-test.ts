/**
 * `bun test` with the skip summary as the run's very last line (`npm test` runs this after
 * the type-check): bun's own output unchanged, then `skipped N tests: <why> (n), ...` on
 * stderr, where bun writes its results, and bun's exit code. Arguments are passed to
 * `bun test` as they are, after a default per-test timeout of 60 s (integration tests drive
 * real namespaces and subprocesses; Bun's own default is 5 s, and bunfig.toml cannot set
 * it) unless they give one.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipReasons, summaryLine } from "./skip-summary.ts";

const args = process.argv.slice(2);
const timeout = args.some((a) => a.startsWith("--timeout")) ? [] : ["--timeout=60000"];
const dir = mkdtempSync(join(tmpdir(), "bun-test-report-"));
const report = join(dir, "junit.xml");
let code = 1;
try {
  const bun = Bun.spawn([process.execPath, "test", ...timeout, "--reporter=junit", `--reporter-outfile=${report}`, ...args], { stdio: ["inherit", "inherit", "inherit"] });
  code = await bun.exited;
  let xml = "";
  try {
    xml = readFileSync(report, "utf8");
  } catch {
    console.error(`skipped ? tests: bun test wrote no report (exit ${code})`);
  }
  if (xml) console.error(summaryLine(skipReasons(xml)));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
