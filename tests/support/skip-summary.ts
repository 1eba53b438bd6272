/**
 * The run's last line: how many tests were skipped and why, read from bun's JUnit report.
 * A test skipped by a prerequisite gate (prerequisites.ts) carries its reason in its own
 * name or in an enclosing block's (`[skip: not root]`); other skips are test.skip/test.todo
 * in the code or tests left out by `-t`.
 *
 *   skipped 37 tests: not root (31), podman missing (6)
 */
import { SKIP_MARKER } from "./prerequisites.ts";

const TODO = "test.todo";
const UNMARKED = "test.skip in the code or left out by -t";

/** Skipped tests by reason, in the order first seen. */
export function skipReasons(junitXml: string): Map<string, number> {
  const reasons = new Map<string, number>();
  const suites: string[] = [];
  let open: { name: string } | undefined;
  const tag = /<(\/?)(testsuite|testcase|skipped)\b((?:[^>"]|"[^"]*")*?)(\/?)>/g;
  for (const m of junitXml.matchAll(tag)) {
    const [, closing, kind, attrs = "", selfClosing] = m;
    if (kind === "testsuite") {
      if (closing) suites.pop();
      else if (!selfClosing) suites.push(attribute(attrs, "name"));
    } else if (kind === "testcase") {
      open = closing || selfClosing ? undefined : { name: attribute(attrs, "name") };
    } else if (kind === "skipped" && open) {
      const marked = [open.name, ...suites.toReversed()].map((n) => SKIP_MARKER.exec(n)?.[1]).find((r) => r !== undefined);
      const reason = marked ?? (attribute(attrs, "message") === "TODO" ? TODO : UNMARKED);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      open = undefined;
    }
  }
  return reasons;
}

export function summaryLine(reasons: Map<string, number>): string {
  const total = [...reasons.values()].reduce((a, b) => a + b, 0);
  const noun = total === 1 ? "test" : "tests";
  if (total === 0) return "skipped 0 tests";
  return `skipped ${total} ${noun}: ${[...reasons].map(([why, n]) => `${why} (${n})`).join(", ")}`;
}

function attribute(attrs: string, name: string): string {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(attrs);
  return m ? unescapeXml(m[1]!) : "";
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-fA-F]+));/g, (_, e: string, dec?: string, hex?: string) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(Number.parseInt(hex, 16));
    return ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" } as Record<string, string>)[e]!;
  });
}
