import { describe, expect, test } from "bun:test";
import { resultAddress } from "./sandbox.ts";

// CNI results as aws-cni answers them (host veth, then the pod's eth0), and with egress-cni chained after it.
const hostAndPod = [{ name: "eni1234" }, { name: "eth0", sandbox: "/run/netns/p" }];

describe("resultAddress: the pod IP a kubelet reports", () => {
  test("IPv4 pod", () => {
    expect(resultAddress({ interfaces: hostAndPod, ips: [{ address: "10.0.0.20/32", interface: 1 }] })).toBe("10.0.0.20");
  });

  test("IPv6 pod", () => {
    expect(resultAddress({ interfaces: hostAndPod, ips: [{ address: "2001:db8:1000:0:1::1/128", interface: 1 }] })).toBe("2001:db8:1000:0:1::1");
  });

  test("an IPv6 pod with IPv4 egress: the egress interface's 169.254.172.x is not the pod's IP", () => {
    const interfaces = [...hostAndPod, { name: "v4if0", sandbox: "/run/netns/p" }];
    const ips = [{ address: "2001:db8:1000:0:1::1/128", interface: 1 }, { address: "169.254.172.10/22", interface: 2 }];
    expect(resultAddress({ interfaces, ips })).toBe("2001:db8:1000:0:1::1");
  });

  test("addresses that name no interface count; nothing at all is undefined", () => {
    expect(resultAddress({ ips: [{ address: "10.0.0.20/32" }] })).toBe("10.0.0.20");
    expect(resultAddress({ interfaces: hostAndPod, ips: [] })).toBeUndefined();
    expect(resultAddress(undefined)).toBeUndefined();
  });
});
