import { expect, test } from "bun:test";
import { RETIRED_PREFIX, VethReaper } from "./veth-reaper.ts";

test("retired names are valid interface names, recognisable and distinct", () => {
  const r = new VethReaper({ command: ["true"] });
  const names = Array.from({ length: 2000 }, () => r.retiredName());
  for (const n of names) {
    expect(n.length).toBeLessThanOrEqual(15);
    expect(n).toMatch(/^[a-z0-9]+$/);
    expect(VethReaper.isRetired(n)).toBe(true);
  }
  expect(new Set(names).size).toBe(names.length);
  expect(VethReaper.isRetired("eni0123456789a")).toBe(false);
});

test("only retired names are accepted; queued deletions run and idle() resolves", async () => {
  const r = new VethReaper({ command: ["true"] });
  expect(() => r.enqueue("eni0123456789a")).toThrow(/not a retired link name/);
  expect(() => r.enqueue(`${RETIRED_PREFIX}x; rm -rf`)).toThrow(/not a retired link name/);
  for (let i = 0; i < 5; i++) r.enqueue(r.retiredName());
  await r.idle();
  expect(r.pending()).toBe(0);
  expect(r.deleted).toBe(5);
});

test("a failing deletion is recorded, not thrown", async () => {
  const r = new VethReaper({ command: ["false"] });
  r.enqueue(r.retiredName());
  await r.idle();
  expect(r.failures).toHaveLength(1);
  expect(r.deleted).toBe(0);
});
