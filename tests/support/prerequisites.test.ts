// The prerequisite gate end to end: a fixture test file needing a tool this machine lacks is
// run through tests/support/run-bun-test.ts (what `npm test` runs) — under CI=true it fails
// naming the tool; without CI it is skipped and the run's last line counts it by reason.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { command, executable, gateFor, ROOT, skipMarker, strictRun } from "./prerequisites.ts";
import { skipReasons, summaryLine } from "./skip-summary.ts";

const REPO = resolve(import.meta.dir, "../..");
const TOOL = "aws-cni-test-no-such-tool";
const dir = mkdtempSync(join(tmpdir(), "prereq-fixture-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = join(dir, "needs-a-tool.test.ts");
writeFileSync(
  fixture,
  `import { expect, test } from "bun:test";
import { command, requires } from ${JSON.stringify(join(REPO, "tests/support/prerequisites.ts"))};
const gate = requires(command(${JSON.stringify(TOOL)}));
gate.test("a test needing the tool", () => expect(1).toBe(1));
gate.describe("a block needing the tool", () => {
  test("one", () => {});
  test("two", () => {});
});
test("a test needing nothing", () => {});
`,
);

/** run-bun-test.ts on the fixture, with CI and the opt-in as given (the outer run's are dropped). */
async function runFixture(env: Record<string, string>): Promise<{ code: number; lines: string[] }> {
  const { CI: _ci, AWS_CNI_TESTS_STRICT: _strict, ...outer } = process.env;
  const p = Bun.spawn([process.execPath, "tests/support/run-bun-test.ts", fixture], { cwd: REPO, env: { ...outer, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, lines: `${out}\n${err}`.trim().split("\n") };
}

describe("a missing prerequisite", () => {
  test("fails the run under CI=true, naming what is missing", async () => {
    const r = await runFixture({ CI: "true" });
    expect(r.code).not.toBe(0);
    const failed = r.lines.filter((l) => l.startsWith("(fail)")).map((l) => l.replace(/ \[[\d.]+m?s\]$/, ""));
    expect(failed).toEqual(["(fail) a test needing the tool", "(fail) a block needing the tool > its prerequisites are there"]);
    expect(r.lines.join("\n")).toContain(`missing prerequisite: ${TOOL} missing`);
    expect(r.lines.at(-1)).toBe("skipped 0 tests");
  }, 30_000);

  test("fails under AWS_CNI_TESTS_STRICT=1 too", async () => {
    const r = await runFixture({ AWS_CNI_TESTS_STRICT: "1" });
    expect(r.code).not.toBe(0);
    expect(r.lines.join("\n")).toContain(`missing prerequisite: ${TOOL} missing`);
  }, 30_000);

  test("is skipped in a developer's run, and the last line says how many and why", async () => {
    const r = await runFixture({});
    expect(r.code).toBe(0);
    expect(r.lines.filter((l) => l.startsWith("(skip)"))).toHaveLength(3);
    expect(r.lines.at(-1)).toBe(`skipped 3 tests: ${TOOL} missing (3)`);
  }, 30_000);
});

test("strict: CI set to anything but empty, 0 or false; or AWS_CNI_TESTS_STRICT=1", () => {
  const rows: Array<[Record<string, string>, boolean]> = [
    [{}, false],
    [{ CI: "true" }, true],
    [{ CI: "1" }, true],
    [{ CI: "yes" }, true],
    [{ CI: "" }, false],
    [{ CI: "0" }, false],
    [{ CI: "FALSE" }, false],
    [{ AWS_CNI_TESTS_STRICT: "1" }, true],
    [{ AWS_CNI_TESTS_STRICT: "0" }, false],
  ];
  for (const [env, strict] of rows) expect({ env, strict: strictRun(env) }).toEqual({ env, strict });
});

test("a gate lists what is absent, in order; one with everything present is met", () => {
  const absent = gateFor([command(TOOL), executable("/nonexistent/aws-cni-plugin", "plugin"), { missing: "not root", present: () => false }], false);
  expect({ met: absent.met, missing: absent.missing }).toEqual({ met: false, missing: [`${TOOL} missing`, "plugin missing", "not root"] });
  const present = gateFor([command("sh"), { missing: "x", present: () => true }], true);
  expect({ met: present.met, missing: present.missing }).toEqual({ met: true, missing: [] });
  expect(ROOT.missing).toBe("not root");
});

test("a tool name or plugin path that is not one is refused", () => {
  expect(() => command("sh; rm -rf /")).toThrow("not a command name");
  expect(() => executable("relative/ptp")).toThrow("not an absolute path");
});

test("the summary counts skips by the reason in the test's or an enclosing block's name", () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="bun test" tests="6" skipped="5">
  <testsuite name="a.test.ts" file="a.test.ts">
    <testsuite name="block ${skipMarker(["not root"])}" file="a.test.ts">
      <testcase name="one" classname="block"><skipped /></testcase>
      <testsuite name="inner"><testcase name="two" classname="inner &gt; block"><skipped /></testcase></testsuite>
    </testsuite>
    <testcase name="solo ${skipMarker(["not root", "podman missing"])}" classname=""><skipped /></testcase>
    <testcase name="later" classname=""><skipped message="TODO" /></testcase>
    <testcase name="plain" classname=""><skipped /></testcase>
    <testcase name="ran" classname="" />
  </testsuite>
</testsuites>`;
  const reasons = skipReasons(xml);
  expect(Object.fromEntries(reasons)).toEqual({ "not root": 2, "not root, podman missing": 1, "test.todo": 1, "test.skip in the code or left out by -t": 1 });
  expect(summaryLine(reasons)).toBe("skipped 5 tests: not root (2), not root, podman missing (1), test.todo (1), test.skip in the code or left out by -t (1)");
  expect(summaryLine(new Map())).toBe("skipped 0 tests");
  expect(summaryLine(new Map([["not root", 1]]))).toBe("skipped 1 test: not root (1)");
});
