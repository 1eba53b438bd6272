// loadConfigOrExit in a real process: an invalid variable stops it with exit code 1 and
// one `invalid configuration: NAME=value: ...` line per problem on stderr.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "config-exit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const script = join(dir, "main.ts");
writeFileSync(
  script,
  `import { loadConfigOrExit } from ${JSON.stringify(new URL("./index.ts", import.meta.url).pathname)};
const { config } = loadConfigOrExit();
console.log("started with veth prefix " + config.network.vethPrefix);
`,
);

async function run(env: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, "run", script], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

test("one invalid variable: exit 1, its name and value on stderr, nothing started", async () => {
  const { stdout, stderr, code } = await run({ AWS_VPC_K8S_CNI_VETHPREFIX: "vlan" });
  expect(code).toBe(1);
  expect(stderr).toContain("invalid configuration: AWS_VPC_K8S_CNI_VETHPREFIX=vlan: 1 to 4 letters or digits");
  expect(stdout).not.toContain("started");
});

test("several problems: one line each", async () => {
  const { stderr, code } = await run({ WARM_IP_TARGET: "many", ENABLE_IPv4: "false" });
  expect(code).toBe(1);
  const lines = stderr.trim().split("\n").filter((l) => l.startsWith("invalid configuration: "));
  expect(lines.map((l) => l.split("=")[0]).sort()).toEqual(["invalid configuration: ENABLE_IPv4", "invalid configuration: WARM_IP_TARGET"]);
});

test("a valid configuration starts, warnings go to stderr", async () => {
  const { stdout, stderr, code } = await run({ AWS_VPC_K8S_CNI_VETHPREFIX: "pod", AWS_EXTERNAL_SERVICE_CIDRS: "nope" });
  expect(code).toBe(0);
  expect(stdout).toContain("started with veth prefix pod");
  expect(stderr).toContain('configuration warning: AWS_EXTERNAL_SERVICE_CIDRS: skipped "nope"');
});

test("ENABLE_POD_ENI: true starts (security groups for pods); a value that is not a boolean stops start-up naming it", async () => {
  const on = await run({ ENABLE_POD_ENI: "true" });
  expect(on.code).toBe(0);
  expect(on.stdout).toContain("started");
  const bad = await run({ ENABLE_POD_ENI: "yes" });
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("invalid configuration: ENABLE_POD_ENI=yes");
  expect(bad.stdout).not.toContain("started");
});
