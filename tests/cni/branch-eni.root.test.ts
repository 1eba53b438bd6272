// Security groups for pods on the node, through the compiled shim, addr-broker (ENABLE_POD_ENI=true
// in its environment) and the real net-config, in real namespaces. Assumptions:
// a node namespace with the primary ENI (eth0, 02:00:00:00:00:01) and a trunk ENI (device 2,
// eth2, MAC 02:00:00:00:00:7e) whose peer sits in a "fabric" namespace standing for the VPC:
// there a VLAN sub-interface per VLAN id holds the branch subnet's gateway (10.1.0.1/24) and a
// permanent neighbour entry for the branch ENI. Pods and their `vpc.amazonaws.com/pod-eni`
// annotations are served by a fake Kubernetes API inside the node namespace (fake-kube-api.ts)
// from a file the test rewrites. The kernel is read back with ip(8).
// A kernel built without 802.1Q (CONFIG_VLAN_8021Q, as on this project's Firecracker machines)
// cannot make VLAN links at all: there net-config runs with its test stand-in, a macvlan of the
// same name, parent and MAC (untagged), and the fabric answers on the trunk's peer itself.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import type { CapacitySnapshot } from "../../shared/contracts/capacity.ts";
import { hostVethName } from "../../shared/naming.ts";
import { testCapacity } from "../../services/addr-broker/test-support/fakes.ts";
import { Namespaces } from "../../services/net-config/test-support/namespaces.ts";
import { eventually } from "../reliability/support.ts";
import { podView } from "../support/kernel-view.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const ROOT = resolve(import.meta.dir, "../..");
const TRUNK_MAC = "02:00:00:00:00:7e";
const KUBE_PORT = 18080; // inside the node namespace's own loopback
const CAPACITY: CapacitySnapshot = (() => {
  const c = testCapacity({ addresses: 16 });
  const primary = c.enis[0]!;
  return { ...c, enis: [primary, { ...primary, id: "eni-0f7", deviceNumber: 2, routeTable: 3, mac: TRUNK_MAC, primaryIp: "10.0.0.12", primary: false, usable: false, trunk: true, cidrs: [] }] };
})();

const gate = requires(...NAMESPACES, "nsenter");
/** Whether this kernel can make an 802.1Q link (tried in a namespace of this test's own). */
function kernelHasVlan(): boolean {
  const probe = new Namespaces();
  try {
    const ns = probe.add("v").name;
    Bun.spawnSync(["ip", "-n", ns, "link", "add", "p0", "type", "veth", "peer", "name", "p1"]);
    return Bun.spawnSync(["ip", "-n", ns, "link", "add", "link", "p0", "name", "p0.5", "type", "vlan", "id", "5"], { stderr: "ignore" }).exitCode === 0;
  } finally {
    probe.cleanup();
  }
}
const VLAN = gate.met && kernelHasVlan();
const KIND = VLAN ? "vlan" : "macvlan";
const dir = mkdtempSync(join(tmpdir(), "branch-eni-"));
const podsFile = join(dir, "pods.json");
const kubeconfig = join(dir, "kubeconfig");
const pods: Record<string, unknown> = {};
const extra = new Namespaces();
let fabric = "";
let kube: Subprocess | undefined;
let h: CniHarness;
let n = 0;

function ip(ns: string, args: string[]): string {
  const r = Bun.spawnSync(["ip", "-n", ns, ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip -n ${ns} ${args.join(" ")}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}
const ipJson = <T>(ns: string, args: string[]): T => JSON.parse(ip(ns, ["-j", ...args]) || "[]") as T;

gate.beforeAll(async () => {
  writeFileSync(podsFile, "{}");
  writeFileSync(kubeconfig, JSON.stringify({ apiVersion: "v1", kind: "Config", clusters: [{ name: "t", cluster: { server: `http://127.0.0.1:${KUBE_PORT}` } }], contexts: [{ name: "t", context: { cluster: "t", user: "" } }], "current-context": "t", users: [] }));
  if (!VLAN) console.log("this kernel has no 802.1Q links: vlan.eth.N is net-config's macvlan stand-in (untagged) in this run");
  h = new CniHarness({
    netConfig: "real",
    capacity: CAPACITY,
    brokerEnv: { KUBECONFIG: kubeconfig, ENABLE_POD_ENI: "true" },
    ...(VLAN ? {} : { netConfigMain: "services/net-config/test-support/main-vlan-standin.ts" }),
  });
  await h.start();
  const node = h.node!.name;
  kube = Bun.spawn(["ip", "netns", "exec", node, process.execPath, join(ROOT, "tests/cni/fake-kube-api.ts"), podsFile, String(KUBE_PORT)], { stdout: "ignore", stderr: "inherit" });
  // The trunk's far end goes to the fabric namespace; the trunk link itself is up, without an address.
  fabric = extra.add("f").name;
  ip(node, ["link", "set", "vpc2", "netns", fabric]);
  ip(fabric, ["link", "set", "vpc2", "up"]);
  if (!VLAN) ip(fabric, ["addr", "add", "10.1.0.1/24", "dev", "vpc2"]);
  ip(node, ["link", "set", "eth2", "up"]);
  const probe = () => Bun.spawnSync(["ip", "netns", "exec", node, process.execPath, "-e", `await fetch("http://127.0.0.1:${KUBE_PORT}/api/v1/namespaces/x/pods/y")`]).exitCode === 0;
  if (!(await eventually(probe, 10_000, 100))) throw new Error("the fake Kubernetes API did not start");
}, 120_000);
gate.afterAll(async () => {
  kube?.kill();
  await kube?.exited;
  await h?.stop();
  extra.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

interface Branch {
  vlanId: number;
  ip: string;
  mac: string;
}
const branchOf = (vlanId: number): Branch => ({ vlanId, ip: `10.1.0.${100 + vlanId}`, mac: `0a:00:00:00:01:${vlanId.toString(16).padStart(2, "0")}` });
const annotationOf = (b: Branch, over: Record<string, unknown> = {}) =>
  JSON.stringify([{ eniId: `eni-0b${b.vlanId}`, ifAddress: b.mac, privateIp: b.ip, ipv6Addr: "", vlanId: b.vlanId, subnetCidr: "10.1.0.0/24", subnetV6Cidr: "", associationID: `trunk-assoc-${b.vlanId}`, ...over }]);

/** The pod in the fake API: asking for a branch ENI or not, annotated or not. */
function setPod(name: string, o: { podEni: boolean; annotation?: string }): void {
  const resources = o.podEni ? { requests: { "vpc.amazonaws.com/pod-eni": "1" }, limits: { "vpc.amazonaws.com/pod-eni": "1" } } : {};
  pods[`default/${name}`] = {
    metadata: { name, namespace: "default", uid: `uid-${name}`, resourceVersion: String(++n), annotations: o.annotation ? { "vpc.amazonaws.com/pod-eni": o.annotation } : {} },
    spec: { containers: [{ name: "app", resources }] },
  };
  writeFileSync(podsFile, JSON.stringify(pods));
}

/** The VPC's side of VLAN `b.vlanId`: the gateway on a sub-interface of the trunk's peer, the branch ENI's address known. */
function fabricVlan(b: Branch): void {
  if (!VLAN) {
    ip(fabric, ["neigh", "replace", b.ip, "lladdr", b.mac, "dev", "vpc2", "nud", "permanent"]);
    return;
  }
  const dev = `vpc2.${b.vlanId}`;
  ip(fabric, ["link", "add", "link", "vpc2", "name", dev, "type", "vlan", "id", String(b.vlanId)]);
  ip(fabric, ["addr", "add", "10.1.0.1/24", "dev", dev]);
  ip(fabric, ["link", "set", dev, "up"]);
  ip(fabric, ["neigh", "replace", b.ip, "lladdr", b.mac, "dev", dev, "nud", "permanent"]);
}

const env = (command: string, id: string, netns: string, name: string) => ({
  CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name};K8S_POD_UID=uid-${name}`,
});
const conf = (mode: string, prevResult?: unknown) => h.conf("1.0.0", { podSGEnforcingMode: mode, ...(prevResult ? { prevResult } : {}) });
const vethOf = (prefix: string, name: string, id: string) => hostVethName(prefix, { namespace: "default", name, containerId: id, ifName: "eth0" });

/** Everything of one branch pod's wiring on the node, as the kernel reports it. */
function nodeWiring(b: Branch) {
  const node = h.node!.name;
  const table = 100 + b.vlanId;
  const vlan = ipJson<Array<{ ifname: string; address: string; link?: string; flags: string[]; linkinfo?: { info_kind: string; info_data?: { id: number } } }>>(node, ["-d", "link", "show"]).find((l) => l.ifname === `vlan.eth.${b.vlanId}`);
  const rules = ipJson<Array<{ priority: number; iif?: string; src?: string; dst?: string; table: string }>>(node, ["rule", "show"]);
  const tableRoutes = ipJson<Array<{ dst: string; gateway?: string; dev: string; scope?: string }>>(node, ["route", "show", "table", "all"])
    .filter((r) => (r as { table?: string }).table === String(table)).map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ""} dev ${r.dev}${r.scope === "link" ? " scope link" : ""}`);
  const mainRoutes = ipJson<Array<{ dst: string; dev: string }>>(node, ["route", "show", "table", "main"]).filter((r) => r.dst === b.ip).map((r) => `${r.dst} dev ${r.dev}`);
  return {
    vlan: vlan ? { mac: vlan.address, parent: vlan.link, kind: vlan.linkinfo?.info_kind, id: vlan.linkinfo?.info_data?.id, up: vlan.flags.includes("UP") } : null,
    tableRoutes: tableRoutes.sort(),
    rules10: rules.filter((r) => r.priority === 10 && r.table === String(table)).map((r) => `iif ${r.iif} lookup ${r.table}`).sort(),
    rulesPod: rules.filter((r) => (r.priority === 512 && r.dst === b.ip) || (r.priority === 1536 && r.src === b.ip)).map((r) => `${r.priority} ${r.dst ? `to ${r.dst}` : `from ${r.src}`} lookup ${r.table}`).sort(),
    mainRoutes,
  };
}
const NOTHING = { vlan: null, tableRoutes: [], rules10: [], rulesPod: [], mainRoutes: [] };
const links = (ns: string) => ipJson<Array<{ ifname: string }>>(ns, ["link", "show"]).map((l) => l.ifname);
const sysctl = (ns: string, key: string) => Bun.spawnSync(["ip", "netns", "exec", ns, "cat", `/proc/sys/${key}`], { stdout: "pipe" }).stdout.toString().trim();
const ping = (netns: string, target: string) => Bun.spawnSync(["ip", "netns", "exec", h.netnsName(netns), "ping", "-c", "1", "-W", "2", target], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
const reconcileNow = () => fetch("http://localhost/v1/reconcile", { method: "POST", body: "{}", headers: { "content-type": "application/json" }, unix: join(h.runDir, "net-config.sock") });
const txPackets = (dev: string) => Number(ipJson<Array<{ ifname: string; stats64: { tx: { packets: number } } }>>(h.node!.name, ["-s", "link", "show", dev])[0]?.stats64.tx.packets ?? 0);

gate.describe("branch-ENI pods through the compiled shim, real net-config (security groups for pods)", () => {
  test("strict: ADD wires vlan.eth.N on the trunk, table 100+N, the iif rules at 10; traffic leaves on the VLAN; CHECK, reconcile, DEL", async () => {
    const b = branchOf(7);
    fabricVlan(b);
    setPod("strict-a", { podEni: true, annotation: annotationOf(b) });
    const netns = h.netns();
    const add = await h.exec(env("ADD", "strict1", netns, "strict-a"), conf("strict"));
    expect(add.code).toBe(0);
    const veth = vethOf("vlan", "strict-a", "strict1");
    const dummy = hostVethName("dummy", { namespace: "default", name: "strict-a", containerId: "strict1", ifName: "eth0" });
    expect(add.json.interfaces.map((i: { name: string; mac?: string }) => [i.name, i.name.startsWith("dummy") ? i.mac : typeof i.mac])).toEqual([[veth, "string"], ["eth0", "string"], [dummy, "7"]]);
    expect(add.json.ips).toEqual([{ address: `${b.ip}/32`, gateway: "169.254.1.1", interface: 1 }]);
    expect(nodeWiring(b)).toEqual({
      vlan: { mac: b.mac, parent: "eth2", kind: KIND, id: VLAN ? 7 : undefined, up: true },
      tableRoutes: [`${b.ip} dev ${veth} scope link`, `10.1.0.1 dev vlan.eth.7 scope link`, `default via 10.1.0.1 dev vlan.eth.7`].sort(),
      rules10: [`iif ${veth} lookup 107`, "iif vlan.eth.7 lookup 107"].sort(),
      rulesPod: [],
      mainRoutes: [],
    });
    const node = h.node!.name;
    expect(["accept_ra", "accept_redirects", "forwarding"].map((k) => sysctl(node, `net/ipv6/conf/vlan.eth.7/${k}`))).toEqual(["0", "1", "0"]);
    expect(podView(h.netnsName(netns)).addresses).toEqual([`${b.ip}/32`]);
    // The gateway lives only on the fabric's VLAN 7 sub-interface (the stand-in: on the trunk's peer): an answer means the packets left on vlan.eth.7.
    const before = txPackets("vlan.eth.7");
    expect(ping(netns, "10.1.0.1")).toBe(true);
    expect(txPackets("vlan.eth.7")).toBeGreaterThan(before);

    expect((await h.exec(env("CHECK", "strict1", netns, "strict-a"), conf("strict", add.json))).code).toBe(0);
    ip(node, ["rule", "del", "priority", "10", "iif", veth, "table", "107"]);
    const bad = await h.exec(env("CHECK", "strict1", netns, "strict-a"), conf("strict", add.json));
    expect(bad.code).toBe(1);
    expect(bad.json.code).toBe(103);
    expect(bad.json.msg).toContain(`iif ${veth} lookup 107`);
    // net-config's reconcile puts it back (and removes nothing of the pod).
    expect((await reconcileNow()).status).toBe(200);
    expect((await h.exec(env("CHECK", "strict1", netns, "strict-a"), conf("strict", add.json))).code).toBe(0);
    expect(nodeWiring(b).rules10).toEqual([`iif ${veth} lookup 107`, "iif vlan.eth.7 lookup 107"].sort());

    const del = await h.exec(env("DEL", "strict1", netns, "strict-a"), conf("strict", add.json));
    expect(del.code).toBe(0);
    expect(nodeWiring(b)).toEqual(NOTHING);
    expect(links(node)).not.toContain(veth);
    expect((await h.exec(env("DEL", "strict1", netns, "strict-a"), conf("strict", add.json))).code).toBe(0);
  }, 60_000);

  test("standard: the node's veth prefix, main /32, rules at 512 and 1536 to table 100+N; DEL without prevResult from addr-broker's record", async () => {
    const b = branchOf(8);
    fabricVlan(b);
    setPod("std-a", { podEni: true, annotation: annotationOf(b) });
    const netns = h.netns();
    const add = await h.exec(env("ADD", "std1", netns, "std-a"), conf("standard"));
    expect(add.code).toBe(0);
    const veth = vethOf("eni", "std-a", "std1");
    expect(nodeWiring(b)).toEqual({
      vlan: { mac: b.mac, parent: "eth2", kind: KIND, id: VLAN ? 8 : undefined, up: true },
      tableRoutes: ["10.1.0.1 dev vlan.eth.8 scope link", "default via 10.1.0.1 dev vlan.eth.8"],
      rules10: [],
      rulesPod: [`1536 from ${b.ip} lookup 108`, `512 to ${b.ip} lookup main`],
      mainRoutes: [`${b.ip} dev ${veth}`],
    });
    expect(ping(netns, "10.1.0.1")).toBe(true);
    // The standard-mode veth carries the node's prefix: net-config's reconcile must know it is a branch pod's, not a stale one.
    const wired = nodeWiring(b);
    expect((await reconcileNow()).status).toBe(200);
    expect(nodeWiring(b)).toEqual(wired);
    expect(links(h.node!.name)).toContain(veth);
    expect((await h.exec(env("CHECK", "std1", netns, "std-a"), conf("standard", add.json))).code).toBe(0);
    expect((await h.exec(env("DEL", "std1", netns, "std-a"), conf("standard"))).code).toBe(0);
    expect(nodeWiring(b)).toEqual(NOTHING);
    expect(links(h.node!.name)).not.toContain(veth);
  }, 60_000);

  test("an annotation that arrives late: the ADD waits for it and succeeds", async () => {
    const b = branchOf(9);
    setPod("late-a", { podEni: true });
    const netns = h.netns();
    const t0 = performance.now();
    const pending = h.exec(env("ADD", "late1", netns, "late-a"), conf("strict"));
    await Bun.sleep(700);
    setPod("late-a", { podEni: true, annotation: annotationOf(b) });
    const add = await pending;
    expect(add.code).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(700);
    expect(nodeWiring(b).vlan).toEqual({ mac: b.mac, parent: "eth2", kind: KIND, id: VLAN ? 9 : undefined, up: true });
    expect((await h.exec(env("DEL", "late1", netns, "late-a"), conf("strict", add.json))).code).toBe(0);
    expect(nodeWiring(b)).toEqual(NOTHING);
  }, 30_000);

  test("a bad annotation is a coded error naming what is wrong, with nothing wired", async () => {
    const b = branchOf(10);
    const cases: Array<[string, Record<string, unknown> | string, string]> = [
      ["vlan 0", { vlanId: 0 }, "vlanId"],
      ["vlan 121", { vlanId: 121 }, "vlanId"],
      ["bad MAC", { ifAddress: "zz" }, "ifAddress"],
      ["no associationID", "drop", "associationID"],
      ["not JSON", "{", "not JSON"],
    ];
    for (const [i, [what, over, field]] of cases.entries()) {
      const name = `bad-${i}`;
      let annotation = annotationOf(b, typeof over === "object" ? over : {});
      if (over === "drop") annotation = JSON.stringify([{ ...JSON.parse(annotation)[0], associationID: undefined }]);
      if (over === "{") annotation = "{";
      setPod(name, { podEni: true, annotation });
      const netns = h.netns();
      const r = await h.exec(env("ADD", `bad${i}`, netns, name), conf("strict"));
      expect({ what, code: r.code, cni: r.json?.code, names: String(r.json?.msg).includes(field) }).toEqual({ what, code: 1, cni: 105, names: true });
      expect(links(h.node!.name)).not.toContain(vethOf("vlan", name, `bad${i}`));
      expect(podView(h.netnsName(netns)).addresses).toEqual([]);
    }
    expect(nodeWiring(b)).toEqual(NOTHING);
  }, 30_000);

  test("ordinary and branch pods side by side; a restarted addr-broker, also with a corrupt checkpoint, still knows the branch pod", async () => {
    const b = branchOf(11);
    fabricVlan(b);
    setPod("mix-branch", { podEni: true, annotation: annotationOf(b) });
    setPod("mix-plain", { podEni: false });
    const nsB = h.netns();
    const nsP = h.netns();
    const addB = await h.exec(env("ADD", "mixb", nsB, "mix-branch"), conf("strict"));
    const addP = await h.exec(env("ADD", "mixp", nsP, "mix-plain"), conf("strict"));
    expect([addB.code, addP.code]).toEqual([0, 0]);
    const plainIp = addP.json.ips[0].address.split("/")[0];
    expect(plainIp).toMatch(/^10\.0\.1\.\d+$/);
    expect(addP.json.interfaces.some((i: { name: string }) => i.name.startsWith("dummy"))).toBe(false);
    expect(ipJson<Array<{ priority: number; dst?: string }>>(h.node!.name, ["rule", "show"]).some((r) => r.priority === 512 && r.dst === plainIp)).toBe(true);
    expect(ping(nsB, "10.1.0.1")).toBe(true);
    await h.killBroker();
    await h.startBroker();
    expect((await h.exec(env("CHECK", "mixb", nsB, "mix-branch"), conf("strict"))).code).toBe(0);
    expect((await h.exec(env("CHECK", "mixp", nsP, "mix-plain"), conf("strict"))).code).toBe(0);
    // A corrupt pool checkpoint (set aside, addresses rebuilt from the kernel) does not lose the branch pod: its record is its own.
    await h.killBroker();
    writeFileSync(h.checkpoint, "{corrupt");
    await h.startBroker();
    expect((await h.exec(env("CHECK", "mixb", nsB, "mix-branch"), conf("strict"))).code).toBe(0);
    expect(nodeWiring(b).vlan).not.toBeNull();
    expect((await h.exec(env("CHECK", "mixp", nsP, "mix-plain"), conf("strict"))).code).toBe(0);
    expect((await h.exec(env("DEL", "mixb", nsB, "mix-branch"), conf("strict"))).code).toBe(0);
    expect((await h.exec(env("DEL", "mixp", nsP, "mix-plain"), conf("strict"))).code).toBe(0);
    expect(nodeWiring(b)).toEqual(NOTHING);
  }, 60_000);

  test("GC tears down a branch pod the runtime no longer lists", async () => {
    const b = branchOf(13);
    setPod("gc-a", { podEni: true, annotation: annotationOf(b) });
    const netns = h.netns();
    expect((await h.exec(env("ADD", "gc1", netns, "gc-a"), conf("strict"))).code).toBe(0);
    expect(nodeWiring(b).vlan).not.toBeNull();
    const gc = await h.exec({ CNI_COMMAND: "GC" }, h.conf("1.1.0", { "cni.dev/valid-attachments": [] }));
    expect(gc.code).toBe(0);
    expect(nodeWiring(b)).toEqual(NOTHING);
    expect((await h.exec(env("CHECK", "gc1", netns, "gc-a"), conf("strict"))).json?.code).toBe(3); // unknown container: forgotten
  }, 30_000);

  test("ADD latency: branch pod against ordinary pod (medians printed)", async () => {
    const b = branchOf(12);
    const runs = 8;
    const times: Record<"branch" | "plain", number[]> = { branch: [], plain: [] };
    for (let i = 0; i < runs; i++) {
      for (const kind of ["branch", "plain"] as const) {
        const name = `lat-${kind}-${i}`;
        setPod(name, kind === "branch" ? { podEni: true, annotation: annotationOf(b) } : { podEni: false });
        const netns = h.netns();
        const t = performance.now();
        const add = await h.exec(env("ADD", `lat${kind}${i}`, netns, name), conf("strict"));
        times[kind].push(performance.now() - t);
        expect(add.code).toBe(0);
        expect((await h.exec(env("DEL", `lat${kind}${i}`, netns, name), conf("strict", add.json))).code).toBe(0);
        h.dropNetns(netns);
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    console.log(`ADD latency over ${runs} runs: branch median ${median(times.branch).toFixed(1)} ms, ordinary median ${median(times.plain).toFixed(1)} ms`);
    expect(nodeWiring(b)).toEqual(NOTHING);
  }, 60_000);
});
