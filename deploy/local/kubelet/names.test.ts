import { describe, expect, test } from "bun:test";
import { MAX_CONTAINER_NAME, KubeletNameError, containerLabels, containerName, sandboxId, sandboxNetns } from "./names.ts";

describe("containerName", () => {
  test("is <prefix>-<node>-<pod>-<container> when that fits", () => {
    expect(containerName("v1a2b", 0, "aws-node-x7k2p", "aws-node")).toBe("v1a2b-0-aws-node-x7k2p-aws-node");
  });

  test("a long name is shortened under the limit, hashed, and two long names stay apart", () => {
    const pod = `web-${"a".repeat(80)}`;
    const a = containerName("v1a2b", 12, pod, "sidecar-with-a-long-name");
    const b = containerName("v1a2b", 12, pod, "sidecar-with-a-long-name2");
    for (const n of [a, b]) {
      expect(n.length).toBeLessThanOrEqual(MAX_CONTAINER_NAME);
      expect(n).toMatch(/^v1a2b-12-web-a+-sidecar[a-z-]*-[0-9a-f]{8}$/);
    }
    expect(a).not.toBe(b);
  });

  test("a salt (another pod holds the plain name) gives another name, deterministically", () => {
    const plain = containerName("v1a2b", 0, "web", "main");
    const salted = containerName("v1a2b", 0, "web", "main", "other-ns/uid-2");
    expect(salted).not.toBe(plain);
    expect(salted).toBe(containerName("v1a2b", 0, "web", "main", "other-ns/uid-2"));
    expect(salted.startsWith("v1a2b-0-web-main-")).toBe(true);
  });

  test.each([
    ["metadata.name", "Web_1", "main", "v1a2b"],
    ["container name", "web", "Main", "v1a2b"],
    ["container name", "web", "a/b", "v1a2b"],
    ["prefix", "web", "main", "V!"],
  ])("refuses a bad %s", (field, pod, container, prefix) => {
    let err: unknown;
    try {
      containerName(prefix, 0, pod, container);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubeletNameError);
    expect((err as KubeletNameError).code).toBe("KUBELET_BAD_NAME");
    expect((err as KubeletNameError).field).toContain(field);
  });
});

describe("sandbox names", () => {
  test("the netns is under the stack prefix (down removes it) and the ID is 64 hex, one per UID", () => {
    const uid = "6b1c3f0e-2f0c-4a8e-9d7b-0c5d2b1a9e11";
    expect(sandboxNetns("v1a2b", uid)).toMatch(/^v1a2b-pod-[0-9a-f]{10}$/);
    expect(sandboxNetns("v1a2b", uid)).not.toBe(sandboxNetns("v1a2b", "another-uid"));
    expect(sandboxId(uid)).toMatch(/^[0-9a-f]{64}$/);
    expect(sandboxId(uid)).toBe(sandboxId(uid));
    expect(sandboxId(uid)).not.toBe(sandboxId("another-uid"));
  });

  test("a UID that could escape a path is refused", () => {
    expect(() => sandboxNetns("v1a2b", "../x")).toThrow(KubeletNameError);
    expect(() => sandboxId("a b")).toThrow("metadata.uid");
  });
});

test("labels carry what down, exec and logs look containers up by", () => {
  expect(containerLabels({ prefix: "v1a2b", nodeIndex: 1, namespace: "kube-system", pod: "aws-node-x", uid: "u1", container: "aws-node", attempt: 3, init: false })).toEqual({
    "io.kubernetes.pod.namespace": "kube-system",
    "io.kubernetes.pod.name": "aws-node-x",
    "io.kubernetes.pod.uid": "u1",
    "io.kubernetes.container.name": "aws-node",
    "aws-vpc-cni.local/stack": "v1a2b",
    "aws-vpc-cni.local/node": "1",
    "aws-vpc-cni.local/attempt": "3",
    "aws-vpc-cni.local/container-kind": "app",
  });
});
