/** The contract every CheckpointStore keeps; each implementation's test file runs it. */
import { describe, expect, test } from "bun:test";
import type { CheckpointStore } from "./checkpoint-store.ts";

export function checkpointStoreContract(name: string, fresh: () => { store: CheckpointStore; cleanup: () => void }): void {
  describe(`CheckpointStore contract: ${name}`, () => {
    const run = (label: string, body: (s: CheckpointStore) => Promise<void>) =>
      test(label, async () => {
        const { store, cleanup } = fresh();
        try {
          await body(store);
        } finally {
          cleanup();
        }
      });
    run("nothing written reads as undefined", async (s) => expect(await s.read()).toBeUndefined());
    run("write then read; overwrite replaces", async (s) => {
      await s.write("one");
      expect(await s.read()).toBe("one");
      await s.write('{"version":"vpc-cni-ipam/1"}');
      expect(await s.read()).toBe('{"version":"vpc-cni-ipam/1"}');
    });
    run("setAside moves the text away and reports where", async (s) => {
      expect(await s.setAside("corrupt-1")).toBeUndefined();
      await s.write("broken{");
      const where = await s.setAside("corrupt-1");
      expect(where).toContain("corrupt-1");
      expect(await s.read()).toBeUndefined();
    });
    run("many concurrent writes leave exactly one complete text", async (s) => {
      const texts = Array.from({ length: 20 }, (_, i) => JSON.stringify({ i, pad: "x".repeat(1000 * i) }));
      await Promise.all(texts.map((t) => s.write(t)));
      expect(texts).toContain((await s.read()) ?? "");
    });
  });
}
