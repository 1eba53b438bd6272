import { describe, expect, test } from "bun:test";
import { CniError } from "./cni-error.ts";
import { EMPTY_EGRESS, decodeEgress, egressCapacity, encodeEgress, nextEgressAddress, parseEgressConf, withEgress, withoutEgress, type EgressState } from "./egress-pool.ts";

const take = (s: EgressState, family: 4 | 6, id: string) => {
  const address = nextEgressAddress(s, family)!;
  return { s: withEgress(s, { network: "aws-cni", containerId: id, ifName: "eth0", address }), address };
};

describe("egress range as host-local hands it out", () => {
  test("IPv4: first .2 (the network address and the gateway .1 are never given), then in order", () => {
    let s = EMPTY_EGRESS;
    const got: string[] = [];
    for (const id of ["a", "b", "c"]) {
      const r = take(s, 4, id);
      s = r.s;
      got.push(r.address);
    }
    expect(got).toEqual(["169.254.172.2", "169.254.172.3", "169.254.172.4"]);
  });

  test("a released address is reused only after the range went round; exhaustion; the broadcast address is never given", () => {
    let s = EMPTY_EGRESS;
    for (let i = 0; i < egressCapacity(4); i++) s = take(s, 4, `p${i}`).s;
    expect(s.allocations.size).toBe(1021);
    expect(nextEgressAddress(s, 4)).toBeUndefined();
    const addrs = new Set([...s.allocations.values()].map((a) => a.address));
    expect(addrs.has("169.254.175.255")).toBe(false);
    expect(addrs.has("169.254.172.1")).toBe(false);
    expect(addrs.has("169.254.175.254")).toBe(true);
    // Free two: the next is the one after the last handed out, wrapping round.
    s = withoutEgress(s, "aws-cni/p5/eth0");
    s = withoutEgress(s, "aws-cni/p1/eth0");
    expect(nextEgressAddress(s, 4)).toBe("169.254.172.3");
  });

  test("a freed address is not handed out again before the ones after it", () => {
    let s = EMPTY_EGRESS;
    s = take(s, 4, "a").s;
    s = take(s, 4, "b").s;
    s = withoutEgress(s, "aws-cni/a/eth0");
    expect(nextEgressAddress(s, 4)).toBe("169.254.172.4");
  });

  test("IPv6: fd00::ac:2 first, 1022 addresses in all (fd00::ac:3ff included)", () => {
    expect(take(EMPTY_EGRESS, 6, "a").address).toBe("fd00::ac:2");
    expect(egressCapacity(6)).toBe(1022);
  });

  test("the file round-trips; a file of something else is refused naming what is wrong", () => {
    let s = take(EMPTY_EGRESS, 4, "a").s;
    s = take(s, 6, "b").s;
    const back = decodeEgress(encodeEgress(s));
    expect([...back.allocations.values()]).toEqual([...s.allocations.values()]);
    expect(nextEgressAddress(back, 4)).toBe("169.254.172.3");
    expect(() => decodeEgress('{"version":"vpc-cni-ipam/1"}')).toThrow(/version/);
    const twice = JSON.stringify({ version: "aws-vpc-cni-egress/1", allocations: [1, 2].map((i) => ({ network: "n", containerId: `c${i}`, ifName: "eth0", address: "169.254.172.9" })) });
    expect(() => decodeEgress(twice)).toThrow(/allocations.1/);
    expect(() => decodeEgress(JSON.stringify({ version: "aws-vpc-cni-egress/1", allocations: [{ network: "n", containerId: "c", ifName: "eth0", address: "10.0.0.1" }] }))).toThrow(/allocations.0/);
  });
});

describe("egress-cni's configuration", () => {
  const v4 = { enabled: "true", nodeIP: "10.0.0.5", mtu: "9001", randomizeSNAT: "prng", ipam: { type: "host-local", ranges: [[{ subnet: "169.254.172.0/22" }]] } };
  test("upstream's keys are read; the family is the node IP's", () => {
    expect(parseEgressConf(v4)).toEqual({ enabled: true, family: 4, nodeIp: "10.0.0.5", mtu: 9001, randomizeSnat: "prng" });
    expect(parseEgressConf({ ...v4, nodeIP: "2600:1f14::5", ipam: { ranges: [[{ subnet: "fd00::ac:00/118" }]] } }).family).toBe(6);
    expect(parseEgressConf({ ...v4, enabled: "false" }).enabled).toBe(false);
    expect(parseEgressConf({ ...v4, enabled: true }).enabled).toBe(false);
  });
  test.each([
    [{ nodeIP: "nope" }, "nodeIP"],
    [{ mtu: 9001 }, "mtu"],
    [{ mtu: "70000" }, "mtu"],
    [{ randomizeSNAT: "yes" }, "randomizeSNAT"],
    [{ ipam: { ranges: [[{ subnet: "10.0.0.0/22" }]] } }, "ipam.ranges"],
    [{ nodeIP: "2600:1f14::5" }, "ipam.ranges"],
  ] as Array<[Record<string, unknown>, string]>)("%j is refused naming %s", (patch, field) => {
    let err: unknown;
    try {
      parseEgressConf({ ...v4, ...patch });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).message.startsWith(`${field}:`)).toBe(true);
    expect((err as CniError).code).toBe(7);
  });
});
