import { describe, expect, test } from "bun:test";
import { CniError } from "./cni-error.ts";
import { buildAddResult, prevResultProblems } from "./cni-result.ts";
import { SUPPORTED_VERSIONS } from "./cni-version.ts";

const pod = { address: "10.0.12.34", hostVeth: "eni0123456789a", hostMac: "02:00:00:00:00:01", ifName: "eth0", podMac: "02:00:00:00:00:02", netns: "/var/run/netns/cni-1" };

describe("ADD result per version", () => {
  for (const v of SUPPORTED_VERSIONS) {
    test(v, () => {
      const r = buildAddResult(v, pod);
      expect(r.cniVersion).toBe(v);
      expect(r.interfaces).toEqual([
        { name: pod.hostVeth, mac: pod.hostMac },
        { name: "eth0", mac: pod.podMac, sandbox: pod.netns },
      ]);
      const ip = v.startsWith("0.") ? { version: "4", address: "10.0.12.34/32", gateway: "169.254.1.1", interface: 1 } : { address: "10.0.12.34/32", gateway: "169.254.1.1", interface: 1 };
      expect(r.ips as unknown[]).toEqual([ip]);
      expect(r.routes).toEqual([{ dst: "0.0.0.0/0", gw: "169.254.1.1" }]);
      expect(r.dns).toEqual({});
    });
  }
  test("IPv6: /128 via fe80::1", () => {
    const r = buildAddResult("0.4.0", { ...pod, address: "2001:db8::5" });
    expect(r.ips).toEqual([{ version: "6", address: "2001:db8::5/128", gateway: "fe80::1", interface: 1 }]);
    expect(r.routes).toEqual([{ dst: "::/0", gw: "fe80::1" }]);
  });
});

describe("prevResult", () => {
  const prev = { cniVersion: "1.0.0", interfaces: [{ name: "lo0" }], ips: [{ address: "192.168.0.2/24", interface: 0 }], routes: [{ dst: "192.168.0.0/16" }], dns: { nameservers: ["1.1.1.1"] } };
  test("merged: earlier entries kept, our interface indexes shifted, requested version's ip fields", () => {
    const r = buildAddResult("0.3.1", pod, prev);
    expect(r.interfaces.map((i) => i.name)).toEqual(["lo0", pod.hostVeth, "eth0"]);
    expect(r.ips).toEqual([
      { version: "4", address: "192.168.0.2/24", interface: 0 },
      { version: "4", address: "10.0.12.34/32", gateway: "169.254.1.1", interface: 2 },
    ]);
    expect(r.routes).toHaveLength(2);
    expect(r.dns).toEqual({ nameservers: ["1.1.1.1"] });
    const r1 = buildAddResult("1.1.0", pod, { ...prev, ips: [{ version: "4", address: "192.168.0.2/24" }] });
    expect(r1.ips[0]).toEqual({ address: "192.168.0.2/24" });
  });
  test("malformed prevResult is a decode error naming the field", () => {
    for (const bad of [[], { ips: {} }, { interfaces: [{ mac: "x" }] }, { ips: [{ address: "1.2.3.4/32", interface: "0" }] }]) {
      let err: unknown;
      try {
        buildAddResult("1.0.0", pod, bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).code).toBe(6);
      expect((err as CniError).message).toContain("prevResult");
    }
  });
  test("CHECK: our own result passes, a missing ip or interface is named", () => {
    expect(prevResultProblems(buildAddResult("1.1.0", pod), pod)).toEqual([]);
    expect(prevResultProblems({ interfaces: [], ips: [] }, pod)).toEqual(["prevResult has no ip 10.0.12.34/32", "prevResult has no interface eth0 in /var/run/netns/cni-1"]);
    const laterPluginAdded = buildAddResult("1.1.0", pod);
    laterPluginAdded.interfaces.push({ name: "tuning0" });
    expect(prevResultProblems(laterPluginAdded, pod)).toEqual([]);
  });
});
