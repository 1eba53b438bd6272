// The programmatic API: withStack starts a deployment in-process and always tears it down.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { withStack } from "../../deploy/local/cloud.ts";
import { readStack } from "../../deploy/local/stack.ts";
import { execIn } from "../../deploy/local/vpc/test-support.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { leftovers, tempDir } from "./up-process.ts";

requires(...LOCAL_DEPLOYMENT).describe("withStack (root)", () => {
  const dir = tempDir("with");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("runs the body against a live stack, then leaves nothing behind", async () => {
    const seen = await withStack({ dir, nodes: 1, instanceType: "t3.medium" }, async (cloud) => {
      expect(await readStack(dir)).toEqual(cloud.stack);
      const node = cloud.stack.nodes[0]!;
      expect(node.instanceType).toBe("t3.medium");
      expect(cloud.model.state.instances[node.instanceId]?.privateIp).toBe(node.primaryIp);
      const r = await execIn(node.netns, ["curl", "-s", "-m", "5", "169.254.169.254/latest/meta-data/instance-type"]);
      return r.stdout;
    });
    expect(seen).toBe("t3.medium");
    expect(await leftovers(dir)).toEqual([]);
  });

  test("tears down when the body throws, and rethrows", async () => {
    await expect(withStack({ dir, nodes: 1 }, async () => {
      throw new Error("body failed");
    })).rejects.toThrow("body failed");
    expect(await leftovers(dir)).toEqual([]);
  });

  test("an unknown instance type is refused before anything is created", async () => {
    await expect(withStack({ dir, nodes: 1, instanceType: "z9.huge" }, async () => 1)).rejects.toThrow(/instanceType: unknown instance type "z9\.huge"/);
    expect(await leftovers(dir)).toEqual([]);
  });
});
