import { describe, expect, test } from "bun:test";
import { hostVethName, isValidContainerId, isValidIfName, routeTableFor } from "./naming.ts";

describe("hostVethName", () => {
  test("upstream form: prefix + sha1('<ns>.<pod>')[:11]", () => {
    // `printf default.web-0 | sha1sum` = 0d7763386da219dd...
    const expected = "eni0d7763386da";
    expect(hostVethName("eni", { namespace: "default", name: "web-0", containerId: "c1", ifName: "eth0" })).toBe(expected);
    expect(expected).toHaveLength(14);
  });
  test("without namespace and name: derived from container ID and ifname, stable", () => {
    const a = hostVethName("eni", { name: "p", containerId: "abc", ifName: "eth0" });
    expect(a).toBe(hostVethName("eni", { name: "p", containerId: "abc", ifName: "eth0" }));
    expect(a).not.toBe(hostVethName("eni", { name: "p", containerId: "abd", ifName: "eth0" }));
  });
});

test.each([
  [0, 254],
  [1, 2],
  [7, 8],
])("route table of device %d is %d", (d, t) => expect(routeTableFor(d)).toBe(t));

test.each([
  ["eth0", true],
  ["a".repeat(15), true],
  ["a".repeat(16), false],
  [".", false],
  ["..", false],
  ["a/b", false],
  ["a b", false],
  ["", false],
])("ifname %p valid=%p", (n, ok) => expect(isValidIfName(n)).toBe(ok));

test.each([
  ["3f9c0aa", true],
  ["a_b.c-d", true],
  ["-abc", false],
  ["abc;rm -rf /", false],
  ["", false],
])("container id %p valid=%p", (n, ok) => expect(isValidContainerId(n)).toBe(ok));
