// Hundreds of parallel ADD/DEL through the compiled shim while addr-broker is SIGKILLed
// and restarted at random. Afterwards: no address held twice, every ADD that answered
// success (and was not DEL'd) is in the checkpoint with the address it was given, and,
// once the last broker has swept, nothing else is. Needs root (real namespaces).
//
// Assumptions: 300 /32 addresses, 240 pods, 24 at a time, cooldown 30 s (no address is
// reused during the run, so a duplicate can only come from a lost or doubled assignment).
//
// net-config is the in-process fake here: what is under test is addr-broker's checkpoint
// across SIGKILLs at high concurrency, and the fake wires at once, so the kills land inside
// the broker's own work rather than in waits for the kernel. The real net-config under
// service kills is the kill storm's (tests/reliability/kill-storm.root.test.ts); CNI
// semantics against it are tests/cni/conformance.root.test.ts.
import { afterAll, expect } from "bun:test";
import { testCapacity } from "../../services/addr-broker/test-support/fakes.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const PODS = 240;
const PARALLEL = 24;
let started: CniHarness | undefined;

afterAll(async () => {
  await started?.stop();
});

requires(...NAMESPACES).test(
  "parallel ADD/DEL with addr-broker killed and restarted at random: no duplicate, no lost assignment",
  async () => {
    const h = new CniHarness({ netConfig: "fake", capacity: testCapacity({ addresses: 300 }), cooldownSeconds: 30 });
    started = h;
    await h.start();
    const conf = h.conf("1.1.0");
    const live = new Map<string, string>(); // containerId → address, for ADDs that succeeded and were not DEL'd
    let adds = 0;
    let addFailures = 0;
    let kills = 0;
    let done = false;

    const killer = (async () => {
      while (!done) {
        await Bun.sleep(150 + Math.random() * 350);
        if (done) break;
        await h.killBroker("SIGKILL");
        kills++;
        await Bun.sleep(Math.random() * 100);
        await h.startBroker();
      }
    })();

    const one = async (i: number) => {
      const id = `crash${process.pid}p${i}`;
      const netns = h.netns();
      const env = { CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=load;K8S_POD_NAME=${id}` };
      // As kubelet: a failed ADD is followed by DEL, then tried again (a few times).
      let add = await h.exec({ ...env, CNI_COMMAND: "ADD" }, conf);
      adds++;
      for (let attempt = 0; add.code !== 0 && attempt < 10; attempt++) {
        addFailures++;
        await h.exec({ ...env, CNI_COMMAND: "DEL" }, conf);
        await Bun.sleep(50 + Math.random() * 100);
        add = await h.exec({ ...env, CNI_COMMAND: "ADD" }, conf);
        adds++;
      }
      const keep = Math.random() < 0.5;
      if (add.code === 0 && keep) {
        live.set(id, add.json.ips[0].address.split("/")[0]);
        return;
      }
      // As a runtime: DEL after a failed ADD or at pod deletion, then the netns goes away.
      await h.exec({ ...env, CNI_COMMAND: "DEL" }, conf);
      h.dropNetns(netns);
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < PODS) await one(next++);
      }),
    );
    done = true;
    await killer;
    if (!h.broker) await h.startBroker();
    // A final restart: the start-up sweep releases what DELs sent while the broker was down left behind.
    await h.killBroker("SIGKILL");
    await h.startBroker();

    const ckpt = await h.readCheckpoint();
    const addresses = ckpt.allocations.map((a) => a.ipv4);
    expect(new Set(addresses).size).toBe(addresses.length);
    const liveAddresses = [...live.values()];
    expect(new Set(liveAddresses).size).toBe(liveAddresses.length);
    const held = new Map(ckpt.allocations.map((a) => [a.containerID, a.ipv4]));
    for (const [id, address] of live) expect({ id, address: held.get(id) }).toEqual({ id, address });
    expect(new Set(held.keys())).toEqual(new Set(live.keys()));
    console.log(`crash test: ${adds} ADDs (${addFailures} failed while the broker was down, each followed by DEL), ${live.size} pods kept, ${kills} SIGKILLs`);
    expect(kills).toBeGreaterThan(0);
    expect(live.size).toBeGreaterThan(PODS / 4);
  },
  300_000,
);
