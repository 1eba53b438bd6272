import { expect, test } from "bun:test";
import { ProgrammingTrace } from "./programming-trace.ts";

test("a change is traced from its watch event through the apply that took it, in time order", async () => {
  const trace = new ProgrammingTrace();
  trace.seen("ns/pe-1", "41");
  await Bun.sleep(2);
  const taken = trace.take();
  trace.seen("ns/pe-2", "42"); // arrives during the apply: the next one's
  await Bun.sleep(2);
  trace.done(taken, true, 1.5);
  const [first, ...rest] = trace.list();
  expect(rest).toEqual([]);
  expect(first).toMatchObject({ endpoint: "ns/pe-1", resourceVersion: "41", transactionMs: 1.5 });
  expect(first!.seenAt).toBeLessThan(first!.applyStartedAt);
  expect(first!.applyStartedAt).toBeLessThan(first!.doneAt);
  expect(Math.abs(first!.doneAt - Date.now())).toBeLessThan(1_000); // wall clock, comparable across processes
  trace.done(trace.take(), true, 0);
  expect(trace.list().map((c) => c.endpoint)).toEqual(["ns/pe-1", "ns/pe-2"]);
});

test("a failed apply leaves its changes for the next one, with their first sighting", () => {
  const trace = new ProgrammingTrace();
  trace.seen("ns/pe-1", "7");
  const failed = trace.take();
  trace.done(failed, false, 0);
  expect(trace.list()).toEqual([]);
  trace.done(trace.take(), true, 2);
  expect(trace.list()).toMatchObject([{ endpoint: "ns/pe-1", seenAt: failed.changes.get("ns/pe-1")!.seenAt }]);
});

test("only the latest changes are kept", () => {
  const trace = new ProgrammingTrace();
  for (let i = 0; i < 300; i++) {
    trace.seen(`ns/pe-${i}`, String(i));
    trace.done(trace.take(), true, 0);
  }
  const kept = trace.list();
  expect(kept.length).toBe(128);
  expect(kept.at(-1)!.endpoint).toBe("ns/pe-299");
});
