/**
 * What a test needs from the machine (root, a tool, a file) and what happens when it is not
 * there. Strict runs — CI=true (any CI value but "", "0" or "false") or AWS_CNI_TESTS_STRICT=1 —
 * FAIL such a test, naming what is missing; any other run skips it, and the skip carries its
 * reason in the test's name (`… [skip: not root]`), which tests/support/skip-summary.ts counts
 * into the run's last line.
 *
 *   const gate = requires("root", "busybox");
 *   gate.beforeAll(() => ...);          // only when everything is there
 *   gate.describe("...", () => { test(...) });
 *   gate.test("...", async () => { ... }, 60_000);
 *
 * Every test of the project that depends on the machine goes through here.
 */
import { afterAll, beforeAll, describe, test } from "bun:test";
import { existsSync, statSync } from "node:fs";

export interface Prerequisite {
  /** What the summary and the failure say when it is absent, e.g. "not root", "podman missing". */
  readonly missing: string;
  present(): boolean;
}

/** The PATH tools are looked up in: the sbin directories too (ip, iptables, nsenter live there). */
const TOOL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** A command on TOOL_PATH. */
export function command(name: string): Prerequisite {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name)) throw new Error(`prerequisite command: not a command name: ${JSON.stringify(name)}`);
  return { missing: `${name} missing`, present: () => Bun.which(name, { PATH: TOOL_PATH }) !== null };
}

/** An executable file at an absolute path (a CNI plugin, a static binary). */
export function executable(path: string, label = path): Prerequisite {
  if (!path.startsWith("/")) throw new Error(`prerequisite executable: not an absolute path: ${JSON.stringify(path)}`);
  return { missing: `${label} missing`, present: () => existsSync(path) && (statSync(path).mode & 0o111) !== 0 };
}

/** A readable file (reference data a test compares against). */
export function file(path: string, label = path): Prerequisite {
  return { missing: `${label} missing`, present: () => existsSync(path) };
}

export const ROOT: Prerequisite = { missing: "not root", present: () => process.getuid?.() === 0 };

/** The machine's prerequisites by name; tests/setup-host.sh installs every one but root. */
export const PREREQUISITES = {
  root: ROOT,
  ip: command("ip"),
  iptables: command("iptables"),
  nft: command("nft"),
  nsenter: command("nsenter"),
  setpriv: command("setpriv"),
  unshare: command("unshare"),
  curl: command("curl"),
  ping: command("ping"),
  kubectl: command("kubectl"),
  podman: command("podman"),
  runc: command("runc"),
  conmon: command("conmon"),
  mmdebstrap: command("mmdebstrap"),
  busybox: executable("/bin/busybox", "busybox"),
  ptp: executable("/usr/lib/cni/ptp", "ptp (containernetworking-plugins)"),
  portmap: executable("/usr/lib/cni/portmap", "portmap (containernetworking-plugins)"),
} satisfies Record<string, Prerequisite>;
export type PrerequisiteName = keyof typeof PREREQUISITES;

/** Real network namespaces with veths, routes and rules: root and iproute2. */
export const NAMESPACES = ["root", "ip"] as const satisfies readonly PrerequisiteName[];
/** The local deployment (deploy/local): namespaces, iptables, the chained CNI plugins, busybox for ping and echo, curl. */
export const LOCAL_DEPLOYMENT = [...NAMESPACES, "iptables", "portmap", "busybox", "curl"] as const satisfies readonly PrerequisiteName[];

/** Whether a run fails tests whose prerequisites are missing instead of skipping them. */
export function strictRun(env: Record<string, string | undefined> = process.env): boolean {
  const ci = (env.CI ?? "").trim().toLowerCase();
  return (ci !== "" && ci !== "0" && ci !== "false") || env.AWS_CNI_TESTS_STRICT === "1";
}

/** The marker a skipped test's name carries; skip-summary.ts reads it back. */
export const SKIP_MARKER = /\[skip: ([^\]]+)\]/;
export const skipMarker = (missing: string[]): string => `[skip: ${missing.join(", ")}]`;

export class MissingPrerequisite extends Error {
  readonly code = "TEST_PREREQUISITE_MISSING";
  constructor(readonly missing: string[]) {
    super(`missing prerequisite: ${missing.join(", ")} (a strict run, CI or AWS_CNI_TESTS_STRICT=1, fails instead of skipping; tests/setup-host.sh installs the tools, root tests need root)`);
  }
}

type TestFn = () => unknown;

export interface Gate {
  /** Everything is there: the gated tests run. */
  readonly met: boolean;
  /** What is absent ("not root", "podman missing"), empty when met. */
  readonly missing: string[];
  describe(name: string, body: () => void): void;
  test(name: string, fn: TestFn, timeoutMs?: number): void;
  /** test.concurrent behind the gate. */
  concurrent(name: string, fn: TestFn, timeoutMs?: number): void;
  /** Hooks that run only when the gate is met (set-up a skipped or failed block must not do). */
  beforeAll(fn: TestFn, timeoutMs?: number): void;
  afterAll(fn: TestFn, timeoutMs?: number): void;
}

/** A gate over what the tests behind it need, by name or as a Prerequisite. */
export function requires(...needs: Array<PrerequisiteName | Prerequisite>): Gate {
  return gateFor(needs.map((n) => (typeof n === "string" ? PREREQUISITES[n] : n)), strictRun());
}

export function gateFor(needs: Prerequisite[], strict: boolean): Gate {
  const missing = needs.filter((n) => !n.present()).map((n) => n.missing);
  const met = missing.length === 0;
  const fail = () => {
    throw new MissingPrerequisite(missing);
  };
  const skipped = (name: string) => `${name} ${skipMarker(missing)}`;
  const guarded = (hook: typeof beforeAll) => (fn: TestFn, timeoutMs?: number) => {
    if (met) hook(fn as () => void, timeoutMs);
  };
  return {
    met,
    missing,
    describe(name, body) {
      if (met) describe(name, body);
      else if (strict) describe(name, () => test("its prerequisites are there", fail));
      else describe.skip(skipped(name), body);
    },
    test(name, fn, timeoutMs) {
      if (met) test(name, fn as () => void, timeoutMs);
      else if (strict) test(name, fail);
      else test.skip(skipped(name), fn as () => void);
    },
    concurrent(name, fn, timeoutMs) {
      if (met) test.concurrent(name, fn as () => void, timeoutMs);
      else if (strict) test(name, fail);
      else test.skip(skipped(name), fn as () => void);
    },
    beforeAll: guarded(beforeAll),
    afterAll: guarded(afterAll),
  };
}
