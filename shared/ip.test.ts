import { describe, expect, test } from "bun:test";
import { canonicalIp, contains, formatCidr, hostCidr, indexOf, nth, parseCidr, parseIp, size, subnetGateway } from "./ip.ts";

describe("parseIp", () => {
  test.each([
    ["10.0.0.1", 4, 167772161n],
    ["255.255.255.255", 4, 4294967295n],
    ["::1", 6, 1n],
    ["2001:db8::", 6, 0x20010db8n << 96n],
  ] as const)("%s", (text, family, value) => {
    expect(parseIp(text)).toEqual({ family, value });
  });
  test.each(["256.0.0.1", "10.0.0", "01.2.3.4", "1::2::3", "12345::", "", "a.b.c.d", "1:2:3:4:5:6:7:8:9"])(
    "rejects %p",
    (text) => expect(parseIp(text)).toBeUndefined(),
  );
});

describe("CIDR math", () => {
  test("parse and format round-trip, strict host bits", () => {
    expect(formatCidr(parseCidr("10.0.16.0/20")!)).toBe("10.0.16.0/20");
    expect(parseCidr("10.0.16.1/20")).toBeUndefined();
    expect(formatCidr(parseCidr("10.0.16.1/20", false)!)).toBe("10.0.16.0/20");
    expect(formatCidr(parseCidr("2001:DB8:0:0:1::/80")!)).toBe("2001:db8:0:0:1::/80");
  });
  test("size, nth, indexOf, contains", () => {
    const c = parseCidr("10.0.1.16/28")!;
    expect(size(c)).toBe(16n);
    expect(nth(c, 15)).toBe("10.0.1.31");
    expect(indexOf(c, "10.0.1.20")).toBe(4n);
    expect(indexOf(c, "10.0.1.32")).toBe(-1n);
    expect(contains(c, "10.0.1.31")).toBe(true);
    expect(contains(c, "10.0.1.32")).toBe(false);
    const v6 = parseCidr("2001:db8::1:0:0:0/80")!;
    expect(nth(v6, 5)).toBe("2001:db8::1:0:0:5");
  });
  test("host CIDR, canonical form and gateway", () => {
    expect(hostCidr("10.0.0.7")).toBe("10.0.0.7/32");
    expect(hostCidr("2001:db8::7")).toBe("2001:db8::7/128");
    expect(canonicalIp("2001:0DB8::0001")).toBe("2001:db8::1");
    expect(subnetGateway("10.0.32.0/19")).toBe("10.0.32.1");
  });
});

test("parsed results are shared and frozen; long hostile text is refused like any other", () => {
  const a = parseCidr("10.0.1.0/24");
  expect(parseCidr("10.0.1.0/24")).toBe(a!);
  expect(Object.isFrozen(a)).toBe(true);
  expect(Object.isFrozen(parseIp("10.0.1.5"))).toBe(true);
  expect(parseCidr("10.0.1.5/24")).toBeUndefined(); // strict: host bits set
  expect(parseCidr("10.0.1.5/24", false)).toEqual({ family: 4, base: parseIp("10.0.1.0")!.value, prefix: 24 });
  expect(parseIp("1".repeat(100_000))).toBeUndefined();
  for (let i = 0; i < 10_000; i++) expect(parseIp(`10.${(i >> 8) & 255}.${i & 255}.1`)?.family).toBe(4); // past the cache's bound
});
