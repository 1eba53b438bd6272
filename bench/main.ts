/**
 * The benchmark dispatcher behind `npm run bench -- <name> [args...]`: runs bench/<name>.ts
 * with the remaining arguments (each bench parses its own) and exits with its exit code.
 * Without a name, or with an unknown one, it lists the available names.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const DIR = import.meta.dir;

export function benchNames(dir = DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "main.ts")
    .map((f) => f.slice(0, -3))
    .sort();
}

function usage(): string {
  return `usage: npm run bench -- <name> [args...]\navailable: ${benchNames().join(", ")}\n(see bench/README.md)`;
}

if (import.meta.main) {
  const [name, ...rest] = process.argv.slice(2);
  if (name === undefined || name === "--help" || name === "-h" || name === "list") {
    console.log(usage());
    process.exit(name === undefined ? 2 : 0);
  }
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !existsSync(join(DIR, `${name}.ts`)) || !benchNames().includes(name)) {
    console.error(`unknown bench ${JSON.stringify(name)}\n${usage()}`);
    process.exit(2);
  }
  const proc = Bun.spawn([process.execPath, "run", join(DIR, `${name}.ts`), ...rest], { stdio: ["inherit", "inherit", "inherit"] });
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => proc.kill(sig));
  process.exit(await proc.exited);
}
