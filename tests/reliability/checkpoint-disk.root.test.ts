// The checkpoint under stress (services/addr-broker/README.md, "Checkpoint"):
//
// - Disk full: addr-broker's checkpoint (AWS_VPC_K8S_CNI_BACKING_STORE) lives on a small
//   tmpfs mounted in this test's own directory, filled up by a dummy file. An ADD then
//   fails cleanly with a CNI error and a reason; nothing is half-assigned (not in
//   addr-broker's assignments, no cooling/reserved entry, no veth, rule or route for the pod
//   in the node namespace); the pods already running are untouched (CHECK through the
//   chain, same addresses, same kernel state); once space returns the same pod's retried
//   ADD works and the checkpoint on disk holds exactly the live pods.
// - Corrupt checkpoint: addr-broker SIGKILLed (the supervisor restarts it) and a truncated
//   checkpoint written in its place while live pods exist: addr-broker says why on /debug
//   and in its log, keeps the corrupt file aside, hands new pods only addresses no live pod
//   holds, and the live pods keep theirs (CHECK succeeds through the chain; veths, rules
//   and routes stay).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniError } from "../../deploy/local/cni-runtime.ts";
import { startDeployment, type RunningDeployment } from "../../deploy/local/deployment.ts";
import { hostVethName } from "../../shared/naming.ts";
import { NodePods, type Pod } from "./pods.ts";
import { debugOf, eventually, readCheckpoint, SOAK, summary } from "./support.ts";
import { kernelView } from "../support/kernel-view.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";

const LIVE_PODS = SOAK ? 12 : 4;
const dir = mkdtempSync(join(tmpdir(), "rel-ckpt-"));
const ckptDir = join(dir, "ckpt");
const ckptPath = join(ckptDir, "ipam.json");
const filler = join(ckptDir, "filler");
const tag = `cd${process.pid % 100000}`;
let mounted = false;
let d: RunningDeployment | undefined;
let pods: NodePods | undefined;
const live: Pod[] = [];
const counts = { livePods: 0, refusedAdds: 0, fillerBytes: 0, addsAfterSpace: 0, addsAfterCorrupt: 0, checks: 0 };

const gate = requires(...LOCAL_DEPLOYMENT);

function run(argv: string[]): void {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
}

function unmount(): void {
  if (!mounted) return;
  const r = Bun.spawnSync(["umount", ckptDir], { stderr: "pipe" });
  if (r.exitCode !== 0) Bun.spawnSync(["umount", "-l", ckptDir]); // busy: detach now, freed when released
  mounted = false;
}

gate.beforeAll(async () => {
  mkdirSync(ckptDir);
  run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", ckptDir]);
  mounted = true;
  try {
    d = await startDeployment({ dir: join(dir, "dep"), nodes: 1, env: { AWS_VPC_K8S_CNI_BACKING_STORE: ckptPath, IP_COOLDOWN_PERIOD: "1" } });
    pods = new NodePods(0, d.nodes[0]!.layout, tag);
  } catch (err) {
    await d?.stop();
    unmount();
    throw err;
  }
}, 60_000);

afterAll(async () => {
  try {
    pods?.cleanup();
    await d?.stop();
  } finally {
    unmount();
    rmSync(dir, { recursive: true, force: true });
    if (gate.met) summary("checkpoint-disk", counts);
  }
}, 30_000);

const runDir = () => d!.nodes[0]!.layout.runDir;
const netns = () => d!.stack.nodes[0]!.netns;
const vethOf = (p: Pod) => hostVethName("eni", { namespace: "storm", name: p.id, containerId: p.id, ifName: "eth0" });

interface BrokerView {
  checkpoint: { source: string; detail: string };
  assignments: Array<{ containerId: string; address: string }>;
  cooling: Array<{ address: string }>;
  reserved: Array<{ address: string }>;
}
const broker = async () => (await debugOf(runDir(), "addr-broker")) as BrokerView;
const held = (b: BrokerView) => Object.fromEntries(b.assignments.map((a) => [a.containerId, a.address]));

/** As kubelet: ADD, and on failure DEL then retry, until an address or the deadline. */
async function addUntilServed(p: Pod, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await pods!.add(p);
    if (r.address) return (p.address = r.address);
    await pods!.del(p);
    if (Date.now() > deadline) return undefined;
    await Bun.sleep(300);
  }
}

/** Fills the tmpfs with one file until the kernel says ENOSPC. */
function fillDisk(): number {
  const fd = openSync(filler, "w");
  const chunk = Buffer.alloc(1024, 0x61);
  let n = 0;
  try {
    for (;;) n += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
  return n;
}

/** What is wrong with the live pods, as CHECK (through the whole chain), addr-broker and the kernel see them. */
async function liveProblems(): Promise<string[]> {
  const problems: string[] = [];
  const b = await broker();
  const k = kernelView(netns());
  for (const p of live) {
    try {
      await pods!.runtime.check(p.attachment);
      counts.checks++;
    } catch (err) {
      problems.push(`${p.id} (${p.address}): CHECK failed: ${(err as Error).message}`);
    }
    if (!k.veths.includes(vethOf(p))) problems.push(`${p.id}: host veth ${vethOf(p)} gone`);
    if (!k.rules512.includes(p.address!)) problems.push(`${p.id}: to-pod rule for ${p.address} gone`);
    if (k.hostRoutes[p.address!] !== vethOf(p)) problems.push(`${p.id}: host route for ${p.address} is ${k.hostRoutes[p.address!] ?? "gone"}`);
  }
  // No assignment of another pod on a live pod's address.
  for (const a of b.assignments) {
    const owner = live.find((p) => p.address === a.address);
    if (owner && owner.id !== a.containerId) problems.push(`${a.address} of live pod ${owner.id} assigned to ${a.containerId}`);
  }
  return problems;
}

gate.test(
  "disk full while writing the checkpoint: the ADD fails cleanly, nothing half-assigned, running pods untouched; works again once space returns",
  async () => {
    for (let i = 0; i < LIVE_PODS; i++) {
      const p = pods!.newPod(i);
      const address = await addUntilServed(p, 15_000);
      expect({ pod: p.id, served: !!address }).toEqual({ pod: p.id, served: true });
      live.push(p);
    }
    counts.livePods = live.length;
    expect(held(await broker())).toEqual(Object.fromEntries(live.map((p) => [p.id, p.address!])));
    const before = await broker();
    const kernelBefore = kernelView(netns());

    counts.fillerBytes = fillDisk();
    const victim = pods!.newPod(100);
    let refusal: Error | undefined;
    try {
      const r = await pods!.add(victim);
      refusal = r.error;
      expect({ address: r.address }).toEqual({ address: undefined });
      expect(refusal).toBeInstanceOf(CniError);
      const e = refusal as CniError;
      expect({ code: e.code === 5 || e.code === 11 ? "5 or 11" : e.code }).toEqual({ code: "5 or 11" });
      expect(e.msg).toMatch(/checkpoint|ENOSPC|space/i);
      counts.refusedAdds++;
      console.log(`disk full: ADD answered ${e.message}`);

      // Nothing half-assigned: not in the broker or reserved, nothing in the kernel. The tentative
      // address (wired while the write was failing, then unwired) cools down, so no other pod
      // could get it while its wiring was being undone.
      const after = await broker();
      expect(held(after)).toEqual(held(before));
      const newlyCooling = after.cooling.filter((c) => !before.cooling.some((b) => b.address === c.address));
      expect(newlyCooling.length).toBeLessThanOrEqual(1);
      for (const c of newlyCooling) expect(Object.values(held(after))).not.toContain(c.address);
      expect(after.reserved).toEqual(before.reserved);
      const k = kernelView(netns());
      expect(k.veths).not.toContain(vethOf(victim));
      expect(k).toEqual(kernelBefore);
      expect(await liveProblems()).toEqual([]);
      // The runtime's DEL of the failed ADD succeeds and changes nothing either (it needs no write).
      expect((await pods!.del(victim))?.message).toBeUndefined();
      expect(held(await broker())).toEqual(held(before));
    } finally {
      rmSync(filler, { force: true });
    }

    // Space is back: the same pod's retried ADD is served, as are new pods; no address twice.
    const address = await addUntilServed(victim, 10_000);
    expect({ served: !!address }).toEqual({ served: true });
    live.push(victim);
    const extra = pods!.newPod(101);
    expect({ served: !!(await addUntilServed(extra, 10_000)) }).toEqual({ served: true });
    live.push(extra);
    counts.addsAfterSpace += 2;
    const addrs = live.map((p) => p.address!);
    expect(new Set(addrs).size).toBe(addrs.length);
    expect(await liveProblems()).toEqual([]);
    // On disk: exactly the live pods.
    const onDisk = readCheckpoint(ckptPath).allocations.map((a) => [a.containerID, a.ipv4]);
    expect(Object.fromEntries(onDisk)).toEqual(Object.fromEntries(live.map((p) => [p.id, p.address!])));
  },
  60_000,
);

gate.test(
  "corrupt checkpoint at addr-broker restart: reason on /debug and in the log, file kept aside, live pods keep their addresses and pass CHECK, new pods get other addresses",
  async () => {
    expect(live.length).toBeGreaterThan(0); // the pods of the previous test
    const n = d!.nodes[0]!;
    const good = readFileSync(ckptPath, "utf8");
    const garbage = good.slice(0, Math.floor(good.length / 2)); // a torn write: truncated JSON
    const oldPid = n.services.pid("addr-broker")!;
    process.kill(oldPid, "SIGKILL");
    // Dead before the file is replaced (the supervisor waits ≥ 1 s before restarting it).
    expect(await eventually(() => {
      try {
        process.kill(oldPid, 0);
        return false;
      } catch {
        return true;
      }
    }, 5_000, 20)).toBe(true);
    writeFileSync(ckptPath, garbage);
    await eventually(() => n.services.pid("addr-broker") !== oldPid, 15_000, 100);
    await n.services.waitHealthy("addr-broker", 20_000);

    const b = await broker();
    expect(b.checkpoint.source).toBe("rebuilt-from-kernel");
    expect(b.checkpoint.detail).toContain("corrupt");
    const aside = readdirSync(ckptDir).filter((f) => f.startsWith("ipam.json.corrupt-"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(ckptDir, aside[0]!), "utf8")).toBe(garbage);
    expect(b.checkpoint.detail).toContain(aside[0]!);
    const logText = readFileSync(join(n.layout.logDir, "addr-broker.log"), "utf8");
    expect(logText).toContain("corrupt checkpoint");

    // Every live pod's address is held (assigned or reserved) — none is free to hand out.
    const heldNow = new Set([...b.assignments.map((a) => a.address), ...b.reserved.map((r) => r.address)]);
    expect(live.filter((p) => !heldNow.has(p.address!)).map((p) => `${p.id} ${p.address}`)).toEqual([]);

    // New pods get other addresses; no address twice.
    const fresh: Pod[] = [];
    for (let i = 0; i < 3; i++) {
      const p = pods!.newPod(200 + i);
      const address = await addUntilServed(p, 10_000);
      expect({ pod: p.id, served: !!address }).toEqual({ pod: p.id, served: true });
      fresh.push(p);
    }
    counts.addsAfterCorrupt += fresh.length;
    const all = [...live, ...fresh].map((p) => p.address!);
    expect(new Set(all).size).toBe(all.length);

    // The live pods keep their addresses and their wiring; CHECK through the chain succeeds
    // (and turns each pod's kernel reservation back into its assignment). One pod is left
    // un-CHECKed: it stays known only from the kernel, for the next test.
    const untouched = live.pop()!;
    const problems = await liveProblems();
    live.push(...fresh);
    expect(existsSync(ckptPath)).toBe(true);
    // net-config re-derives the kernel from addr-broker's assignments when it (re)starts: the
    // pods whose assignments came back only as kernel reservations must keep their wiring.
    const ncPid = n.services.pid("net-config")!;
    process.kill(ncPid, "SIGKILL");
    await eventually(() => n.services.pid("net-config") !== ncPid, 15_000, 100);
    await n.services.waitHealthy("net-config", 20_000);
    await Bun.sleep(1_000); // its start-up reconcile round
    for (const x of await liveProblems()) problems.push(`after a net-config restart: ${x}`);
    const k = kernelView(netns());
    if (!k.veths.includes(vethOf(untouched)) || !k.rules512.includes(untouched.address!)) problems.push(`${untouched.id}: a kernel-only pod lost its wiring after a net-config restart`);
    const after = await broker();
    if (!after.reserved.some((r) => r.address === untouched.address)) problems.push(`${untouched.id}: its address ${untouched.address} is no longer held`);
    live.push(untouched);
    if (problems.length) console.log(`corrupt checkpoint: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
    expect(problems).toEqual([]);
  },
  60_000,
);

gate.test(
  "after a corrupt checkpoint, DEL of a pod known only from the kernel leaves nothing behind: no veth/rule/route, its address no longer reserved",
  async () => {
    const b = await broker();
    const reservedOnly = live.find((p) => b.reserved.some((r) => r.address === p.address) && !b.assignments.some((a) => a.containerId === p.id));
    expect(reservedOnly).toBeDefined(); // the corrupt-checkpoint test left such pods
    const p = reservedOnly!;
    expect((await pods!.del(p))?.message).toBeUndefined();
    pods!.drop(p); // the runtime removes the pod's namespace after DEL
    live.splice(live.indexOf(p), 1);
    const gone = await eventually(async () => {
      const k = kernelView(netns());
      const after = await broker();
      return !k.veths.includes(vethOf(p)) && !k.rules512.includes(p.address!) && k.hostRoutes[p.address!] === undefined && !after.reserved.some((r) => r.address === p.address);
    }, 20_000, 500);
    const k = kernelView(netns());
    const after = await broker();
    expect({ gone, veth: k.veths.includes(vethOf(p)), rule: k.rules512.includes(p.address!), route: k.hostRoutes[p.address!], reserved: after.reserved.filter((r) => r.address === p.address) }).toEqual({ gone: true, veth: false, rule: false, route: undefined, reserved: [] });
    // The remaining pods are unaffected.
    expect((await liveProblems()).filter((x) => !x.includes("CHECK failed"))).toEqual([]);
  },
  40_000,
);
