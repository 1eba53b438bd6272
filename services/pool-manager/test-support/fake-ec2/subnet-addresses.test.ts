// A /24 has 256 addresses: the first four and the last are AWS's, 251 are hosts; its /28 blocks
// 0 (.0–.15, reserved ones in it) and 15 (.240–.255, the last address in it) are never prefixes.
import { describe, expect, test } from "bun:test";
import { Refusal } from "./refusal.ts";
import { SubnetAddresses } from "./subnet-addresses.ts";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as Refusal).code;
  }
  return "no refusal";
};

describe("IPv4 addresses", () => {
  test("lowest free first, the reserved ones never; all or nothing", () => {
    const s = new SubnetAddresses("10.0.1.0/28"); // 16 − 5 = 11 hosts
    expect(s.available()).toBe(11);
    expect(s.takeAddresses(2)).toEqual(["10.0.1.4", "10.0.1.5"]);
    expect(code(() => s.takeAddresses(10))).toBe("InsufficientFreeAddressesInSubnet");
    expect(s.available()).toBe(9); // the refused request took nothing
    expect(s.takeAddresses(9).at(-1)).toBe("10.0.1.14");
    s.release(["10.0.1.5/32"]);
    expect(s.takeAddresses(1)).toEqual(["10.0.1.5"]);
  });

  test("a given address: reserved or taken is refused", () => {
    const s = new SubnetAddresses("10.0.1.0/24");
    expect(s.takeAddress("10.0.1.20")).toBe("10.0.1.20");
    expect(code(() => s.takeAddress("10.0.1.20"))).toBe("InvalidIPAddress.InUse");
    expect(code(() => s.takeAddress("10.0.1.2"))).toBe("InvalidParameterValue");
    expect(code(() => s.takeAddress("10.0.1.255"))).toBe("InvalidParameterValue");
    expect(code(() => s.takeAddress("10.0.2.9"))).toBe("InvalidParameterValue");
  });
});

describe("IPv4 /28 prefixes", () => {
  test("aligned blocks whose sixteen addresses are free; 14 in a /24", () => {
    const s = new SubnetAddresses("10.0.1.0/24");
    expect(s.takePrefixes(2)).toEqual(["10.0.1.16/28", "10.0.1.32/28"]);
    expect(s.available()).toBe(251 - 32);
    expect(s.takePrefixes(12).at(-1)).toBe("10.0.1.224/28");
    expect(code(() => s.takePrefixes(1))).toBe("InsufficientCidrBlocks");
    s.release(["10.0.1.32/28"]);
    expect(s.takePrefixes(1)).toEqual(["10.0.1.32/28"]);
  });

  test("one address in a block takes the block out: a fragmented subnet has addresses but no /28", () => {
    const s = new SubnetAddresses("10.0.1.0/27"); // blocks .0 (reserved) and .16 (holds the last address)
    expect(code(() => s.takePrefixes(1))).toBe("InsufficientCidrBlocks");
    const t = new SubnetAddresses("10.0.1.0/26"); // blocks .16 and .32 usable
    t.takeAddress("10.0.1.20");
    expect(t.takePrefixes(1)).toEqual(["10.0.1.32/28"]);
    expect(code(() => t.takePrefixes(1))).toBe("InsufficientCidrBlocks");
    expect(t.takeAddresses(1)).toEqual(["10.0.1.4"]);
  });
});

test("IPv6: addresses and /80 prefixes of the /64, none twice; no IPv6 block, refused", () => {
  const s = new SubnetAddresses("10.0.1.0/24", "2600:1f14:aaa:100::/64");
  const [a, b] = s.takeIpv6Addresses(2);
  expect(a).not.toBe(b);
  const [p, q] = s.takeIpv6Prefixes(2);
  expect([p, q]).toEqual(["2600:1f14:aaa:100:1::/80", "2600:1f14:aaa:100:2::/80"]);
  s.releaseIpv6([p!]);
  expect(s.takeIpv6Prefixes(1)).toEqual([p!]);
  expect(code(() => new SubnetAddresses("10.0.1.0/24").takeIpv6Prefixes(1))).toBe("InvalidParameterValue");
});
