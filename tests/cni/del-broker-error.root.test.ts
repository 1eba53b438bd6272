// DEL when addr-broker is there but fails it, through the compiled shim, against the real
// net-config in a node namespace (root). Upstream's plugin tears the pod down from prevResult
// whenever ipamd's DelNetwork fails (not only when ipamd cannot be dialled) and reports
// success; the shim does the same when addr-broker answers the DEL with an error or gives no
// answer within the network config's `delTimeoutSeconds` (the request is aborted), leaving a
// record addr-broker picks up while it runs. An error about the request itself (invalid
// network config) is still returned: tearing down could not fix it.
import { afterAll, expect } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const gate = requires(...NAMESPACES, "iptables");
const started: CniHarness[] = [];
afterAll(async () => {
  for (const h of started) await h.stop();
});

async function wiredPod(h: CniHarness, id: string) {
  const env = { CNI_CONTAINERID: id, CNI_NETNS: h.netns(), CNI_IFNAME: "eth0", CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}` };
  const add = await h.exec({ ...env, CNI_COMMAND: "ADD" }, h.conf("1.0.0"));
  expect(add.code).toBe(0);
  return { env, add, address: add.json.ips[0].address.split("/")[0] as string, hostVeth: add.json.interfaces[0].name as string };
}

/** Whether the node namespace still holds the pod's host veth and its /32 route. */
function wired(h: CniHarness, address: string, hostVeth: string) {
  const ip = (...a: string[]) => Bun.spawnSync(["ip", "-n", h.node!.name, ...a]).stdout.toString();
  return {
    veth: ip("-o", "link", "show").split("\n").some((l) => l.includes(` ${hostVeth}@`)),
    route: ip("route", "show", "table", "main").split("\n").some((l) => l.startsWith(`${address} dev `)),
  };
}

const assigned = async (h: CniHarness, id: string) => (await h.readCheckpoint()).allocations.filter((a) => a.containerID === id).map((a) => a.ipv4);

async function until(what: string, ok: () => Promise<boolean>, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(200)) if (await ok()) return;
  throw new Error(`${what}: not within ${ms} ms`);
}

/** Serves the broker socket in place of addr-broker, answering every CNI call with `answer`. */
function standIn(h: CniHarness, answer: () => Response) {
  const path = join(h.runDir, "addr-broker.sock");
  rmSync(path, { force: true });
  return Bun.serve({ unix: path, fetch: answer });
}

gate.test("addr-broker answers the DEL with an error: torn down from prevResult, success, recorded; a config error is returned", async () => {
  const h = new CniHarness({ netConfig: "real" });
  started.push(h);
  await h.start();
  const pod = await wiredPod(h, `dbe${process.pid}a`);
  await h.killBroker("SIGKILL");
  const cniError = { exitCode: 1, stdout: JSON.stringify({ cniVersion: "1.0.0", code: 11, msg: "checkpoint write failed" }), stderr: "" };
  let answer = () => Response.json(cniError);
  const server = standIn(h, () => answer());
  try {
    // A request error (invalid network config) passes through unchanged, and nothing is torn down.
    answer = () => Response.json({ exitCode: 1, stdout: JSON.stringify({ cniVersion: "1.0.0", code: 7, msg: "mtu: must be a decimal string" }), stderr: "" });
    const refused = await h.exec({ ...pod.env, CNI_COMMAND: "DEL" }, h.conf("1.0.0", { prevResult: pod.add.json }));
    expect(refused.code).toBe(1);
    expect(refused.json.code).toBe(7);
    expect(wired(h, pod.address, pod.hostVeth)).toEqual({ veth: true, route: true });
    expect(h.pendingDels()).toBe(0);

    // HTTP 500 (no CNI answer at all), then a CNI error 11: each tears down and succeeds.
    answer = () => new Response("internal error", { status: 500 });
    const http500 = await h.exec({ ...pod.env, CNI_COMMAND: "DEL" }, h.conf("1.0.0", { prevResult: pod.add.json }));
    expect(http500.code).toBe(0);
    expect(http500.stderr).toContain("refused the DEL (HTTP 500");
    expect(http500.stderr).toContain(`net-config removed the wiring of ${pod.address}`);
    expect(wired(h, pod.address, pod.hostVeth)).toEqual({ veth: false, route: false });

    answer = () => Response.json(cniError);
    const second = await delAgain(h, pod);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("CNI error 11");
  } finally {
    await server.stop(true);
  }
  expect(h.pendingDels()).toBe(1); // one record per attachment: the retry rewrote it
  await h.startBroker();
  expect(await assigned(h, pod.env.CNI_CONTAINERID)).toEqual([]);
  expect(h.pendingDels()).toBe(0);
}, 60_000);

/** The same DEL again (a runtime retry) through the stand-in's current answer. */
function delAgain(h: CniHarness, pod: Awaited<ReturnType<typeof wiredPod>>) {
  return h.exec({ ...pod.env, CNI_COMMAND: "DEL" }, h.conf("1.0.0", { prevResult: pod.add.json }));
}

gate.test("addr-broker gives no answer within delTimeoutSeconds: the request is aborted, torn down, success; the running addr-broker frees the address", async () => {
  const h = new CniHarness({ netConfig: "real" });
  started.push(h);
  await h.start();
  const pod = await wiredPod(h, `dbe${process.pid}b`);
  const pid = h.broker!.pid;
  process.kill(pid, "SIGSTOP"); // alive, socket open, no answer
  let del;
  const t0 = performance.now();
  try {
    del = await h.exec({ ...pod.env, CNI_COMMAND: "DEL" }, h.conf("1.0.0", { prevResult: pod.add.json, delTimeoutSeconds: 1 }));
  } finally {
    process.kill(pid, "SIGCONT");
  }
  expect(performance.now() - t0).toBeLessThan(8_000);
  expect(del.code).toBe(0);
  expect(del.stderr).toContain("gave no answer within 1 s (request aborted)");
  expect(wired(h, pod.address, pod.hostVeth)).toEqual({ veth: false, route: false });
  // Not restarted: addr-broker frees the address (the aborted DEL or the record) and the record goes.
  await until("address released and record gone", async () => (await assigned(h, pod.env.CNI_CONTAINERID)).length === 0 && h.pendingDels() === 0);
  // A bad delTimeoutSeconds is CNI error 7 naming the key.
  const bad = await h.exec({ ...pod.env, CNI_COMMAND: "DEL" }, h.conf("1.0.0", { delTimeoutSeconds: "5" }));
  expect(bad.code).toBe(1);
  expect(bad.json).toMatchObject({ code: 7 });
  expect(bad.json.msg).toContain("delTimeoutSeconds");
}, 60_000);
