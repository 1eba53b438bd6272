// CNI conformance of the compiled aws-cni, addr-broker and the real net-config, for every
// supported cniVersion, in real network namespaces (tests/cni/harness.ts, "real"): a node
// namespace with a primary ENI (main table) and a secondary ENI (table 2). After each step
// the kernel is read: on the node the host veth eni<sha1(namespace.pod)[:11]>, the /32 route
// to it, the rule at 512 and, for an address of the secondary ENI, the rule at 1536 to its
// table; in the pod eth0 with the /32 and the routes via 169.254.1.1. DEL leaves none of it.
import { describe, expect, test } from "bun:test";
import type { CapacitySnapshot } from "../../shared/contracts/capacity.ts";
import { hostVethName } from "../../shared/naming.ts";
import { testCapacity } from "../../services/addr-broker/test-support/fakes.ts";
import { eventually } from "../reliability/support.ts";
import { kernelView, linkMac, podView } from "../support/kernel-view.ts";
import { NAMESPACES, requires } from "../support/prerequisites.ts";
import { CniHarness } from "./harness.ts";

const VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
const RETIRED_VETH = "awsdel"; // net-config's veth reaper renames a DEL'd host veth so, then deletes it

/** Two ENIs: the primary (main table) with 2 addresses, handed out first; a secondary (table 2) with 64. */
const CAPACITY: CapacitySnapshot = (() => {
  const c = testCapacity({ addresses: 2 });
  const primary = c.enis[0]!;
  const cidrs = Array.from({ length: 64 }, (_, i) => ({ cidr: `10.0.2.${i + 1}/32`, kind: "address" as const, draining: false }));
  return { ...c, enis: [primary, { ...primary, id: "eni-0b", deviceNumber: 1, routeTable: 2, mac: "02:00:00:00:00:02", primaryIp: "10.0.0.11", primary: false, cidrs }] };
})();

const gate = requires(...NAMESPACES, "iptables", "nsenter");
let h: CniHarness;
let n = 0;
const tablesWired = new Set<number>();

gate.beforeAll(async () => {
  h = new CniHarness({ netConfig: "real", capacity: CAPACITY });
  await h.start();
}, 120_000);
gate.afterAll(() => h?.stop());

function podEnv(command: string, netns: string | undefined, id = `c${process.pid}n${n}`, ifName = "eth0") {
  return { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: ifName, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${id}` };
}
const atLeast = (v: string, min: string) => v.localeCompare(min, undefined, { numeric: true }) >= 0;
const vethOf = (id: string, ifName = "eth0") => hostVethName("eni", { namespace: "default", name: `pod-${id}`, containerId: id, ifName });
const tableOf = (address: string) => CAPACITY.enis.find((e) => e.cidrs.some((c) => c.cidr === `${address}/32`))!.routeTable;
const addressOf = (result: { ips: Array<{ address: string }> }) => result.ips[0]!.address.split("/")[0]!;

/** The node's side of one pod's wiring. */
function nodeSide(address: string, veth: string) {
  const k = kernelView(h.node!.name);
  return { veth: k.veths.includes(veth), route: k.hostRoutes[address] ?? null, rule512: k.rules512.includes(address), rule1536: k.rules1536.filter((r) => r.startsWith(`${address} `)) };
}
const NODE_UNWIRED = { veth: false, route: null, rule512: false, rule1536: [] };

/** After an ADD: the kernel holds the pod's wiring, on the node and in the pod. */
function expectWired(netns: string, address: string, veth: string, ifName = "eth0"): void {
  const table = tableOf(address);
  tablesWired.add(table);
  expect(nodeSide(address, veth)).toEqual({ veth: true, route: veth, rule512: true, rule1536: table === 254 ? [] : [`${address} → ${table}`] });
  expect(podView(h.netnsName(netns), ifName)).toEqual({ addresses: [`${address}/32`], routes: [`169.254.1.1 dev ${ifName} scope link`, `default via 169.254.1.1 dev ${ifName}`].sort() });
}

/** After a DEL (or GC): nothing of the pod on the node, no retired veth left, the pod's interface gone. */
async function expectUnwired(address: string, veth: string, pod?: { netns: string; ifName?: string }): Promise<void> {
  const retired = () => kernelView(h.node!.name, RETIRED_VETH).veths;
  const podAddresses = () => (pod ? podView(h.netnsName(pod.netns), pod.ifName).addresses : []);
  // The retired veth is deleted off the request path by net-config's reaper: allow it a moment.
  await eventually(() => retired().length === 0 && podAddresses().length === 0, 5_000, 50);
  expect({ node: nodeSide(address, veth), retired: retired(), pod: podAddresses() }).toEqual({ node: NODE_UNWIRED, retired: [], pod: [] });
}

gate.describe("CNI conformance through the compiled shim, against the real net-config", () => {
  for (const v of VERSIONS) {
    describe(`cniVersion ${v}`, () => {
      test("ADD, ADD again, CHECK, DEL, DEL again", async () => {
        n++;
        const id = `c${process.pid}n${n}`;
        const netns = h.netns();
        const add = await h.exec(podEnv("ADD", netns), h.conf(v));
        expect(add.code).toBe(0);
        const r = add.json;
        expect(r.cniVersion).toBe(v);
        expect(r.interfaces[1]).toMatchObject({ name: "eth0", sandbox: netns });
        expect(r.interfaces[1].mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        expect(r.interfaces[0].name).toBe(vethOf(id));
        expect(r.ips).toHaveLength(1);
        expect(r.ips[0].address).toMatch(/^10\.0\.\d+\.\d+\/32$/);
        expect(r.ips[0].gateway).toBe("169.254.1.1");
        expect(r.ips[0].interface).toBe(1);
        if (atLeast(v, "1.0.0")) expect(r.ips[0].version).toBeUndefined();
        else expect(r.ips[0].version).toBe("4");
        expect(r.routes).toEqual([{ dst: "0.0.0.0/0", gw: "169.254.1.1" }]);
        expect(r.dns).toEqual({});
        const address = addressOf(r);
        expectWired(netns, address, vethOf(id));
        expect(podView(h.netnsName(netns)).addresses).toEqual([r.ips[0].address]);
        expect({ host: linkMac(h.node!.name, vethOf(id)), pod: linkMac(h.netnsName(netns), "eth0") }).toEqual({ host: r.interfaces[0].mac, pod: r.interfaces[1].mac });
        // ADD again: the same address and names; net-config replaces the veth pair, so the MACs are the new pair's.
        const again = await h.exec(podEnv("ADD", netns), h.conf(v));
        expect(again.code).toBe(0);
        const macs = (x: typeof r) => ({ ...x, interfaces: x.interfaces.map((i: Record<string, unknown>) => ({ ...i, mac: "(mac)" })) });
        expect(macs(again.json)).toEqual(macs(r));
        expect({ host: linkMac(h.node!.name, vethOf(id)), pod: linkMac(h.netnsName(netns), "eth0") }).toEqual({ host: again.json.interfaces[0].mac, pod: again.json.interfaces[1].mac });
        expectWired(netns, address, vethOf(id));
        const check = await h.exec(podEnv("CHECK", netns), h.conf(v, { prevResult: r }));
        if (atLeast(v, "0.4.0")) expect({ code: check.code, out: check.stdout }).toEqual({ code: 0, out: "" });
        else expect(check.json.code).toBe(1);
        const ckpt = await h.readCheckpoint();
        expect(ckpt.allocations.filter((a) => a.ipv4 === address)).toHaveLength(1);
        const del = await h.exec(podEnv("DEL", netns), h.conf(v, { prevResult: r }));
        expect({ code: del.code, out: del.stdout }).toEqual({ code: 0, out: "" });
        expect((await h.readCheckpoint()).allocations.some((a) => a.containerID === id)).toBe(false);
        await expectUnwired(address, vethOf(id), { netns });
        expect((await h.exec(podEnv("DEL", netns), h.conf(v))).code).toBe(0);
        if (atLeast(v, "0.4.0")) expect((await h.exec(podEnv("CHECK", netns), h.conf(v, { prevResult: r }))).json.code).toBe(3);
        await expectUnwired(address, vethOf(id), { netns });
      });

      test("CHECK finds the kernel damaged by hand: a rule at 512 deleted", async () => {
        n++;
        const id = `c${process.pid}n${n}`;
        const netns = h.netns();
        const add = await h.exec(podEnv("ADD", netns, id), h.conf(v));
        expect(add.code).toBe(0);
        const address = addressOf(add.json);
        expectWired(netns, address, vethOf(id));
        Bun.spawnSync(["ip", "-n", h.node!.name, "rule", "del", "priority", "512", "to", address]);
        const check = await h.exec(podEnv("CHECK", netns, id), h.conf(v, { prevResult: add.json }));
        if (atLeast(v, "0.4.0")) {
          expect(check.code).not.toBe(0);
          expect(check.json.msg).toContain(address);
        } else expect(check.json.code).toBe(1);
        expect((await h.exec(podEnv("DEL", netns, id), h.conf(v))).code).toBe(0);
        await expectUnwired(address, vethOf(id), { netns });
      });

      test("DEL without a netns releases the address and clears the node; DEL of an unknown container succeeds", async () => {
        n++;
        const netns = h.netns();
        const id = `c${process.pid}n${n}`;
        const add = await h.exec(podEnv("ADD", netns, id), h.conf(v));
        expect(add.code).toBe(0);
        const address = addressOf(add.json);
        expectWired(netns, address, vethOf(id));
        h.dropNetns(netns);
        const del = await h.exec(podEnv("DEL", undefined, id), h.conf(v));
        expect(del.code).toBe(0);
        expect((await h.readCheckpoint()).allocations.some((a) => a.containerID === id)).toBe(false);
        await expectUnwired(address, vethOf(id));
        expect((await h.exec(podEnv("DEL", "", "never-added"), h.conf(v))).code).toBe(0);
      });

      test("a second container with the same ifname in one netns is refused and the first keeps its wiring; another ifname is a second address", async () => {
        n++;
        const netns = h.netns();
        const first = await h.exec(podEnv("ADD", netns, `a${n}`), h.conf(v));
        expect(first.code).toBe(0);
        const firstAddress = addressOf(first.json);
        const dup = await h.exec(podEnv("ADD", netns, `b${n}`), h.conf(v));
        expect(dup.code).not.toBe(0);
        expect(dup.json.code).toBe(101);
        expect(dup.json.msg).toContain("CNI_IFNAME");
        expectWired(netns, firstAddress, vethOf(`a${n}`));
        expect(nodeSide(firstAddress, vethOf(`b${n}`)).veth).toBe(false);
        const second = await h.exec(podEnv("ADD", netns, `a${n}`, "eth1"), h.conf(v));
        expect(second.code).toBe(0);
        const secondAddress = addressOf(second.json);
        expect(secondAddress).not.toBe(firstAddress);
        // Only eth1 is read in the kernel: both interfaces' host veths are named from the pod's
        // namespace and name (as upstream's), so wiring eth1 replaced eth0's pair.
        expect(podView(h.netnsName(netns), "eth1").addresses).toEqual([`${secondAddress}/32`]);
        for (const [id, ifn] of [[`a${n}`, "eth0"], [`a${n}`, "eth1"]] as const) expect((await h.exec(podEnv("DEL", netns, id, ifn), h.conf(v))).code).toBe(0);
        for (const [address, ifName] of [[firstAddress, "eth0"], [secondAddress, "eth1"]] as const) await expectUnwired(address, vethOf(`a${n}`, ifName), { netns, ifName });
      });

      test("missing and malformed variables: code 4 naming the variable, nothing wired", async () => {
        const netns = h.netns();
        const before = kernelView(h.node!.name);
        const rows: Array<[Record<string, string | undefined>, string]> = [
          [{ ...podEnv("ADD", netns), CNI_CONTAINERID: undefined }, "CNI_CONTAINERID"],
          [{ ...podEnv("ADD", undefined) }, "CNI_NETNS"],
          [{ ...podEnv("ADD", netns), CNI_IFNAME: undefined }, "CNI_IFNAME"],
          [{ ...podEnv("DEL", netns), CNI_IFNAME: undefined }, "CNI_IFNAME"],
          [{ ...podEnv("ADD", netns), CNI_CONTAINERID: "_bad" }, "CNI_CONTAINERID"],
          [{ ...podEnv("ADD", netns), CNI_IFNAME: "way-too-long-ifname" }, "CNI_IFNAME"],
          [{ ...podEnv("ADD", "/tmp/not-a-netns") }, "CNI_NETNS"],
          [{ ...podEnv("ADD", "/run/netns/does-not-exist-" + process.pid) }, "CNI_NETNS"],
          [{ ...podEnv("ADD", netns), CNI_COMMAND: undefined }, "CNI_COMMAND"],
        ];
        for (const [env, field] of rows) {
          const r = await h.exec(env, h.conf(v));
          expect({ field, code: r.code === 0 ? 0 : r.json.code }).toEqual({ field, code: 4 });
          expect(r.json.msg).toContain(field);
          expect(r.json.cniVersion).toBe(v);
        }
        expect(kernelView(h.node!.name)).toEqual(before);
        expect(podView(h.netnsName(netns)).addresses).toEqual([]);
      });

      test("malformed JSON is 6, an unsupported or missing version is 1, a bad network name is 7", async () => {
        const netns = h.netns();
        expect((await h.exec(podEnv("ADD", netns), "{not json")).json.code).toBe(6);
        expect((await h.exec(podEnv("ADD", netns), h.conf("0.2.0"))).json.code).toBe(1);
        expect((await h.exec(podEnv("ADD", netns), h.conf(undefined))).json.code).toBe(1);
        const bad = await h.exec(podEnv("ADD", netns), h.conf(v, { name: "bad name" }));
        expect(bad.json.code).toBe(7);
        expect(bad.json.msg).toContain("name");
        expect(podView(h.netnsName(netns)).addresses).toEqual([]);
      });

      test("VERSION, STATUS, GC", async () => {
        const ver = await h.exec({ CNI_COMMAND: "VERSION" }, h.conf(v));
        expect(ver.json).toEqual({ cniVersion: v, supportedVersions: VERSIONS });
        const status = await h.exec({ CNI_COMMAND: "STATUS" }, h.conf(v));
        if (atLeast(v, "1.1.0")) expect(status.code).toBe(0);
        else expect(status.json.code).toBe(1);
        n++;
        const keep = h.netns();
        const drop = h.netns();
        const kept = await h.exec(podEnv("ADD", keep, `keep${n}`), h.conf(v));
        const dropped = await h.exec(podEnv("ADD", drop, `drop${n}`), h.conf(v));
        expect([kept.code, dropped.code]).toEqual([0, 0]);
        const valid = (await h.readCheckpoint()).allocations.filter((a) => a.containerID !== `drop${n}`).map((a) => ({ containerID: a.containerID, ifname: a.ifName }));
        const gc = await h.exec({ CNI_COMMAND: "GC" }, h.conf(v, { "cni.dev/valid-attachments": valid }));
        if (!atLeast(v, "1.1.0")) {
          expect(gc.json.code).toBe(1);
          expect((await h.exec(podEnv("DEL", drop, `drop${n}`), h.conf(v))).code).toBe(0);
        } else expect(gc.code).toBe(0);
        const ids = (await h.readCheckpoint()).allocations.map((a) => a.containerID);
        expect(ids).toContain(`keep${n}`);
        expect(ids).not.toContain(`drop${n}`);
        await expectUnwired(addressOf(dropped.json), vethOf(`drop${n}`), { netns: drop });
        expectWired(keep, addressOf(kept.json), vethOf(`keep${n}`));
        expect((await h.exec(podEnv("DEL", keep, `keep${n}`), h.conf(v))).code).toBe(0);
        await expectUnwired(addressOf(kept.json), vethOf(`keep${n}`), { netns: keep });
      });
    });
  }

  test("podman-style CNI_ARGS (a pod name, no namespace) and prevResult on DEL", async () => {
    const netns = h.netns();
    const env = { CNI_COMMAND: "ADD", CNI_CONTAINERID: "podman1", CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=c1" };
    const add = await h.exec(env, h.conf("1.0.0"));
    expect(add.code).toBe(0);
    // No Kubernetes namespace: the host veth is named from the container ID and interface.
    const veth = hostVethName("eni", { containerId: "podman1", ifName: "eth0" });
    expect(add.json.interfaces[0].name).toBe(veth);
    expectWired(netns, addressOf(add.json), veth);
    expect((await h.exec({ ...env, CNI_COMMAND: "DEL" }, h.conf("1.0.0", { prevResult: add.json }))).code).toBe(0);
    await expectUnwired(addressOf(add.json), veth, { netns });
  });

  test("broker unreachable: ADD and CHECK 11 naming the socket, DEL succeeds, STATUS 50, VERSION answered", async () => {
    const netns = h.netns();
    const gone = h.conf("1.1.0", { brokerSocket: `/run/aws-cni-test-${process.pid}/none.sock` });
    const add = await h.exec(podEnv("ADD", netns), gone);
    expect(add.code).not.toBe(0);
    expect(add.json).toMatchObject({ cniVersion: "1.1.0", code: 11 });
    expect(add.json.msg).toContain(`/run/aws-cni-test-${process.pid}/none.sock`);
    expect((await h.exec(podEnv("CHECK", netns), gone)).json.code).toBe(11);
    const del = await h.exec(podEnv("DEL", netns), gone);
    expect({ code: del.code, out: del.stdout }).toEqual({ code: 0, out: "" });
    expect((await h.exec({ CNI_COMMAND: "STATUS" }, gone)).json.code).toBe(50);
    expect((await h.exec({ CNI_COMMAND: "VERSION" }, gone)).json.supportedVersions).toEqual(VERSIONS);
    expect(podView(h.netnsName(netns)).addresses).toEqual([]);
  });

  test("addresses of both ENIs were wired: the primary's (no rule at 1536) and the secondary's (rule at 1536 to table 2)", () => {
    expect([...tablesWired].sort((a, b) => a - b)).toEqual([2, 254]);
  });
});
