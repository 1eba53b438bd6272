import { expect, test } from "bun:test";
import { renderVariablesTable, replaceTable } from "./docs.ts";
import { ENV_NAMES } from "./schema.ts";

test("README.md's variables table is the one the schema renders (regenerate: bun shared/config/docs.ts)", async () => {
  const readme = await Bun.file(new URL("./README.md", import.meta.url)).text();
  expect(replaceTable(readme)).toBe(readme);
});

test("the table has one row per variable", () => {
  const rows = renderVariablesTable().split("\n").slice(2);
  expect(rows.length).toBe(ENV_NAMES.length);
  for (const name of ENV_NAMES) expect(rows.some((r) => r.startsWith(`| \`${name}\` |`))).toBe(true);
});
