import { describe, expect, test } from "bun:test";
import { CorruptCheckpoint, decodeCheckpoint, encodeCheckpoint } from "./checkpoint-format.ts";
import { EMPTY_STATE, release, withAllocation } from "./state.ts";

// As upstream's Go daemon writes it (v1.x), one line, nanosecond timestamps.
const UPSTREAM =
  '{"version":"vpc-cni-ipam/1","allocations":[' +
  '{"networkName":"aws-cni","containerID":"3f9c0a1b","ifName":"eth0","ipv4":"10.0.12.34","allocationTimestamp":1718000000123456789,"metadata":{"k8sPodNamespace":"default","k8sPodName":"web-7d9f","interfacesCount":1}},' +
  '{"networkName":"aws-cni","containerID":"77aa","ifName":"eth0","ipv4":"10.0.12.35","allocationTimestamp":1718000000999999999,"metadata":{"k8sPodNamespace":"kube-system","k8sPodName":"coredns-1","interfacesCount":1}}]}';

describe("checkpoint format", () => {
  test("an upstream-written file is adopted with every allocation, exact timestamps", () => {
    const d = decodeCheckpoint(UPSTREAM);
    expect(d.upstream).toBe(true);
    expect(d.state.allocations.size).toBe(2);
    const a = d.state.allocations.get("aws-cni/3f9c0a1b/eth0");
    expect(a).toMatchObject({ address: "10.0.12.34", podNamespace: "default", podName: "web-7d9f", interfacesCount: 1, restored: true });
    expect(a?.allocatedAtNs).toBe(1718000000123456789n);
  });
  test("written back, upstream's fields are byte-identical in value (digits kept)", () => {
    const text = encodeCheckpoint(decodeCheckpoint(UPSTREAM).state);
    expect(text).toContain('"allocationTimestamp":1718000000123456789,');
    const doc = JSON.parse(text);
    const original = JSON.parse(UPSTREAM);
    expect(doc.version).toBe("vpc-cni-ipam/1");
    // Every upstream key survives with the same value (only extra keys are added).
    for (let i = 0; i < 2; i++) {
      for (const k of ["networkName", "containerID", "ifName", "ipv4", "metadata"]) expect(doc.allocations[i][k]).toEqual(original.allocations[i][k]);
    }
    expect(decodeCheckpoint(text).upstream).toBe(false);
  });
  test("round trip of this project's extras: cooldowns, reservations, drains, veth/netns/table; IPv6", () => {
    let s = withAllocation(EMPTY_STATE, { networkName: "aws-cni", containerId: "c1", ifName: "eth0", address: "2001:db8::7", allocatedAtNs: 5n, hostVeth: "eni1234", netns: "/run/netns/x", routeTable: 3 });
    s = withAllocation(s, { networkName: "aws-cni", containerId: "c2", ifName: "eth0", address: "2001:db8::8", allocatedAtNs: 6n });
    s = release(s, { networkName: "aws-cni", containerId: "c2", ifName: "eth0" }, 1000, 30_000).state;
    s = { ...s, reserved: new Map([["2001:db8::9", { address: "2001:db8::9", hostVeth: "eniabc", why: "rebuilt from the kernel" }]]), drained: new Map([["2001:db8:1::/80", 77]]) };
    const text = encodeCheckpoint(s);
    expect(JSON.parse(text).allocations[0].ipv6).toBe("2001:db8::7");
    const back = decodeCheckpoint(text).state;
    expect([...back.allocations.values()]).toEqual([{ ...s.allocations.get("aws-cni/c1/eth0")!, interfacesCount: 1, restored: true }]);
    expect(back.cooling).toEqual(s.cooling);
    expect(back.reserved).toEqual(s.reserved);
    expect(back.drained).toEqual(s.drained);
  });
  const corrupt: Array<[string, string]> = [
    ["empty", ""],
    ["truncated", UPSTREAM.slice(0, 120)],
    ["wrong version", '{"version":"vpc-cni-ipam/2","allocations":[]}'],
    ["allocations not a list", '{"version":"vpc-cni-ipam/1","allocations":{}}'],
    ["bad address", '{"version":"vpc-cni-ipam/1","allocations":[{"networkName":"n","containerID":"c","ifName":"eth0","ipv4":"10.0.0.300","allocationTimestamp":1}]}'],
    ["missing container", '{"version":"vpc-cni-ipam/1","allocations":[{"networkName":"n","ifName":"eth0","ipv4":"10.0.0.3","allocationTimestamp":1}]}'],
    [
      "one address twice",
      '{"version":"vpc-cni-ipam/1","allocations":[{"networkName":"n","containerID":"a","ifName":"eth0","ipv4":"10.0.0.3","allocationTimestamp":1},{"networkName":"n","containerID":"b","ifName":"eth0","ipv4":"10.0.0.3","allocationTimestamp":1}]}',
    ],
  ];
  for (const [label, text] of corrupt) test(`corrupt: ${label}`, () => expect(() => decodeCheckpoint(text)).toThrow(CorruptCheckpoint));
  test("an empty allocation list is a valid, empty checkpoint", () => {
    expect(decodeCheckpoint('{"version":"vpc-cni-ipam/1","allocations":[]}').state.allocations.size).toBe(0);
  });
});
