// Per-card checkpoint files (ENABLE_MULTI_NIC), on disk in a fresh temporary directory.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EMPTY_STATE, withAllocation } from "../core/state.ts";
import { CardCheckpoints, cardCheckpointPath, cardsOnDisk } from "./card-checkpoints.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), `card-ckpt-${process.pid}-`));
  dirs.push(d);
  return d;
}

describe("cardCheckpointPath (upstream's naming)", () => {
  test("card 0 is the base; card N inserts -nic-N before .json", () => {
    expect(cardCheckpointPath("/var/run/aws-node/ipam.json", 0)).toBe("/var/run/aws-node/ipam.json");
    expect(cardCheckpointPath("/var/run/aws-node/ipam.json", 1)).toBe("/var/run/aws-node/ipam-nic-1.json");
    expect(cardCheckpointPath("/x/ipam.json", 31)).toBe("/x/ipam-nic-31.json");
  });
  test("a bad card or a base not ending in .json is refused naming it", () => {
    expect(() => cardCheckpointPath("/x/ipam.json", -1)).toThrow(/networkCard/);
    expect(() => cardCheckpointPath("/x/ipam.json", 1.5)).toThrow(/networkCard/);
    expect(() => cardCheckpointPath("/x/ipam", 1)).toThrow(/checkpoint path/);
  });
});

describe("CardCheckpoints on disk", () => {
  test("writes ipam-nic-N.json in upstream's format and reads it back; card 0's file is not touched", async () => {
    const dir = tmp();
    const base = join(dir, "ipam.json");
    const c = new CardCheckpoints(base, [0, 1, 3]);
    const s = withAllocation(EMPTY_STATE, { networkName: "aws-cni", containerId: "c1", ifName: "eth1", address: "10.0.2.9", allocatedAtNs: 1718000000123456789n, podNamespace: "default", podName: "web" });
    await c.write(1, s);
    expect(readdirSync(dir).sort()).toEqual(["ipam-nic-1.json"]);
    const doc = JSON.parse(readFileSync(join(dir, "ipam-nic-1.json"), "utf8"));
    expect(doc.version).toBe("vpc-cni-ipam/1");
    expect(doc.allocations).toMatchObject([{ networkName: "aws-cni", containerID: "c1", ifName: "eth1", ipv4: "10.0.2.9", metadata: { k8sPodNamespace: "default", k8sPodName: "web" } }]);
    expect(readFileSync(join(dir, "ipam-nic-1.json"), "utf8")).toContain('"allocationTimestamp":1718000000123456789');
    const loaded = await new CardCheckpoints(base, [0, 1, 3]).load(0);
    expect(loaded.map((l) => [l.card, [...l.state.allocations.values()].map((a) => a.address)])).toEqual([
      [1, ["10.0.2.9"]],
      [3, []],
    ]);
    expect(() => c.location(0)).toThrow(/networkCard 0/);
  });

  test("an upstream-written ipam-nic-2.json is adopted in place, unchanged on disk", async () => {
    const dir = tmp();
    const text = '{"version":"vpc-cni-ipam/1","allocations":[{"networkName":"aws-cni","containerID":"abc","ifName":"eth2","ipv4":"10.0.3.4","allocationTimestamp":1718000000999999999,"metadata":{"k8sPodNamespace":"ml","k8sPodName":"trainer-0","interfacesCount":3}}]}';
    writeFileSync(join(dir, "ipam-nic-2.json"), text);
    const [l] = await new CardCheckpoints(join(dir, "ipam.json"), [2]).load(0);
    expect(l!.upstream).toBe(true);
    expect([...l!.state.allocations.values()]).toMatchObject([{ containerId: "abc", ifName: "eth2", address: "10.0.3.4", allocatedAtNs: 1718000000999999999n, podName: "trainer-0", interfacesCount: 3 }]);
    expect(readFileSync(join(dir, "ipam-nic-2.json"), "utf8")).toBe(text);
  });

  test("a corrupt card file is set aside for a human and the card starts empty", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "ipam-nic-1.json"), '{"version":"vpc-cni-ipam/1","allocations":[{"ipv4":');
    const [l] = await new CardCheckpoints(join(dir, "ipam.json"), [1]).load(42);
    expect(l!.state.allocations.size).toBe(0);
    expect(l!.setAside).toBe(join(dir, "ipam-nic-1.json.corrupt-42"));
    expect(existsSync(join(dir, "ipam-nic-1.json"))).toBe(false);
    expect(existsSync(join(dir, "ipam-nic-1.json.corrupt-42"))).toBe(true);
  });
});

describe("cardsOnDisk (start-up adoption)", () => {
  test("the cards whose ipam-nic-N.json is beside the checkpoint, ascending; other files ignored", () => {
    const dir = tmp();
    for (const n of ["ipam.json", "ipam-nic-3.json", "ipam-nic-1.json", "ipam-nic-0.json", "ipam-nic-01.json", "ipam-nic-1.json.corrupt-5", "ipam-nic-x.json", "other-nic-2.json", "ipam-nic-256.json"]) writeFileSync(join(dir, n), "{}");
    expect(cardsOnDisk(join(dir, "ipam.json"))).toEqual([1, 3]);
    expect(cardsOnDisk(join(dir, "missing", "ipam.json"))).toEqual([]);
  });
});
