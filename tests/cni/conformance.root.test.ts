// CNI conformance of the compiled aws-cni + addr-broker, for every supported cniVersion.
// Needs root (real pod network namespaces); skips with a reason otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CniHarness, isRoot } from "./harness.ts";

const VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
const h = new CniHarness();
let n = 0;

beforeAll(async () => {
  if (isRoot) await h.start();
}, 120_000);
afterAll(async () => {
  if (isRoot) await h.stop();
});
if (!isRoot) console.log("tests/cni/conformance.root.test.ts: skipped (needs root for network namespaces)");

function podEnv(command: string, netns: string | undefined, id = `c${process.pid}n${n}`, ifName = "eth0") {
  return { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: ifName, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${id}` };
}
const atLeast = (v: string, min: string) => v.localeCompare(min, undefined, { numeric: true }) >= 0;

describe.skipIf(!isRoot)("CNI conformance through the compiled shim", () => {
  for (const v of VERSIONS) {
    describe(`cniVersion ${v}`, () => {
      test("ADD, ADD again, CHECK, DEL, DEL again", async () => {
        n++;
        const netns = h.netns();
        const add = await h.exec(podEnv("ADD", netns), h.conf(v));
        expect(add.code).toBe(0);
        const r = add.json;
        expect(r.cniVersion).toBe(v);
        expect(r.interfaces[1]).toMatchObject({ name: "eth0", sandbox: netns });
        expect(r.interfaces[1].mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        expect(r.interfaces[0].name).toMatch(/^eni[0-9a-f]{11}$/);
        expect(r.ips).toHaveLength(1);
        expect(r.ips[0].address).toMatch(/^10\.0\.\d+\.\d+\/32$/);
        expect(r.ips[0].gateway).toBe("169.254.1.1");
        expect(r.ips[0].interface).toBe(1);
        if (atLeast(v, "1.0.0")) expect(r.ips[0].version).toBeUndefined();
        else expect(r.ips[0].version).toBe("4");
        expect(r.routes).toEqual([{ dst: "0.0.0.0/0", gw: "169.254.1.1" }]);
        expect(r.dns).toEqual({});
        const again = await h.exec(podEnv("ADD", netns), h.conf(v));
        expect(again.code).toBe(0);
        expect(again.json).toEqual(r);
        const check = await h.exec(podEnv("CHECK", netns), h.conf(v, { prevResult: r }));
        if (atLeast(v, "0.4.0")) expect({ code: check.code, out: check.stdout }).toEqual({ code: 0, out: "" });
        else expect(check.json.code).toBe(1);
        const ckpt = await h.readCheckpoint();
        expect(ckpt.allocations.filter((a) => a.ipv4 === r.ips[0].address.split("/")[0])).toHaveLength(1);
        const del = await h.exec(podEnv("DEL", netns), h.conf(v, { prevResult: r }));
        expect({ code: del.code, out: del.stdout }).toEqual({ code: 0, out: "" });
        expect((await h.readCheckpoint()).allocations.some((a) => a.containerID === `c${process.pid}n${n}`)).toBe(false);
        expect((await h.exec(podEnv("DEL", netns), h.conf(v))).code).toBe(0);
        if (atLeast(v, "0.4.0")) expect((await h.exec(podEnv("CHECK", netns), h.conf(v, { prevResult: r }))).json.code).toBe(3);
      });

      test("DEL without a netns releases the address; DEL of an unknown container succeeds", async () => {
        n++;
        const netns = h.netns();
        const id = `c${process.pid}n${n}`;
        expect((await h.exec(podEnv("ADD", netns, id), h.conf(v))).code).toBe(0);
        h.dropNetns(netns);
        const del = await h.exec(podEnv("DEL", undefined, id), h.conf(v));
        expect(del.code).toBe(0);
        expect((await h.readCheckpoint()).allocations.some((a) => a.containerID === id)).toBe(false);
        expect((await h.exec(podEnv("DEL", "", "never-added"), h.conf(v))).code).toBe(0);
      });

      test("a second container with the same ifname in one netns is refused; another ifname is a second address", async () => {
        n++;
        const netns = h.netns();
        const first = await h.exec(podEnv("ADD", netns, `a${n}`), h.conf(v));
        expect(first.code).toBe(0);
        const dup = await h.exec(podEnv("ADD", netns, `b${n}`), h.conf(v));
        expect(dup.code).not.toBe(0);
        expect(dup.json.code).toBe(101);
        expect(dup.json.msg).toContain("CNI_IFNAME");
        const second = await h.exec(podEnv("ADD", netns, `a${n}`, "eth1"), h.conf(v));
        expect(second.code).toBe(0);
        expect(second.json.ips[0].address).not.toBe(first.json.ips[0].address);
        for (const [id, ifn] of [[`a${n}`, "eth0"], [`a${n}`, "eth1"]] as const) expect((await h.exec(podEnv("DEL", netns, id, ifn), h.conf(v))).code).toBe(0);
      });

      test("missing and malformed variables: code 4 naming the variable", async () => {
        const netns = h.netns();
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
      });

      test("malformed JSON is 6, an unsupported or missing version is 1, a bad network name is 7", async () => {
        const netns = h.netns();
        expect((await h.exec(podEnv("ADD", netns), "{not json")).json.code).toBe(6);
        expect((await h.exec(podEnv("ADD", netns), h.conf("0.2.0"))).json.code).toBe(1);
        expect((await h.exec(podEnv("ADD", netns), h.conf(undefined))).json.code).toBe(1);
        const bad = await h.exec(podEnv("ADD", netns), h.conf(v, { name: "bad name" }));
        expect(bad.json.code).toBe(7);
        expect(bad.json.msg).toContain("name");
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
        expect((await h.exec(podEnv("ADD", keep, `keep${n}`), h.conf(v))).code).toBe(0);
        expect((await h.exec(podEnv("ADD", drop, `drop${n}`), h.conf(v))).code).toBe(0);
        const valid = (await h.readCheckpoint()).allocations.filter((a) => a.containerID !== `drop${n}`).map((a) => ({ containerID: a.containerID, ifname: a.ifName }));
        const gc = await h.exec({ CNI_COMMAND: "GC" }, h.conf(v, { "cni.dev/valid-attachments": valid }));
        if (!atLeast(v, "1.1.0")) {
          expect(gc.json.code).toBe(1);
          expect((await h.exec(podEnv("DEL", drop, `drop${n}`), h.conf(v))).code).toBe(0);
        } else expect(gc.code).toBe(0);
        const ids = (await h.readCheckpoint()).allocations.map((a) => a.containerID);
        expect(ids).toContain(`keep${n}`);
        expect(ids).not.toContain(`drop${n}`);
        expect(h.net.pods.has(`drop${n}/eth0`)).toBe(false);
        expect((await h.exec(podEnv("DEL", keep, `keep${n}`), h.conf(v))).code).toBe(0);
      });
    });
  }

  test("podman-style CNI_ARGS (a pod name, no namespace) and prevResult on DEL", async () => {
    const netns = h.netns();
    const env = { CNI_COMMAND: "ADD", CNI_CONTAINERID: "podman1", CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=c1" };
    const add = await h.exec(env, h.conf("1.0.0"));
    expect(add.code).toBe(0);
    expect((await h.exec({ ...env, CNI_COMMAND: "DEL" }, h.conf("1.0.0", { prevResult: add.json }))).code).toBe(0);
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
  });
});
