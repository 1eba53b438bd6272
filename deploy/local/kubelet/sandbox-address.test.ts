import { describe, expect, test } from "bun:test";
import { resultAddress, sandboxAttachment } from "./sandbox.ts";

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

describe("sandboxAttachment: what the kubelet hands the CNI chain", () => {
  const s = { id: "sb1", netnsPath: "/run/netns/p" };
  test("the pod's annotations go as io.kubernetes.cri.pod-annotations (a multi-homed pod's nicConfig reaches aws-cni), beside port mappings", () => {
    const pod = { metadata: { name: "trainer", namespace: "ml", uid: "u1", annotations: { "k8s.amazonaws.com/nicConfig": "multi-nic-attachment" } }, spec: { containers: [{ name: "c", ports: [{ containerPort: 80, hostPort: 8080 }] }] } };
    const a = sandboxAttachment(pod, s);
    expect(a.capabilityArgs?.["io.kubernetes.cri.pod-annotations"]).toEqual({ "k8s.amazonaws.com/nicConfig": "multi-nic-attachment" });
    expect(a.capabilityArgs?.portMappings).toHaveLength(1);
  });
  test("a pod without annotations or ports: no capability arguments", () => {
    expect(sandboxAttachment({ metadata: { name: "web", namespace: "default", uid: "u2" }, spec: { containers: [{ name: "c" }] } }, s).capabilityArgs).toBeUndefined();
  });
  test("a multi-homed pod's IP is its eth0 address, not its card-1 interface's", () => {
    const interfaces = [...hostAndPod, { name: "eni5678" }, { name: "mNicIf1", sandbox: "/run/netns/p" }];
    const ips = [{ address: "10.0.0.20/32", interface: 1 }, { address: "10.1.0.5/32", interface: 3 }];
    expect(resultAddress({ interfaces, ips })).toBe("10.0.0.20");
  });
});
