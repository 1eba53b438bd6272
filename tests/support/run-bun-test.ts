/**
 * `bun test` with the skip summary as the run's very last line (`npm test` runs this after
 * the type-check): bun's own output unchanged, then `skipped N tests: <why> (n), ...` on
 * stderr, where bun writes its results, and bun's exit code. Arguments are passed to
 * `bun test` as they are.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipReasons, summaryLine } from "./skip-summary.ts";

const dir = mkdtempSync(join(tmpdir(), "bun-test-report-"));
const report = join(dir, "junit.xml");
let code = 1;
try {
  const bun = Bun.spawn([process.execPath, "test", `--reporter=junit`, `--reporter-outfile=${report}`, ...process.argv.slice(2)], { stdio: ["inherit", "inherit", "inherit"] });
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
