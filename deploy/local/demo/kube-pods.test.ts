import { describe, expect, test } from "bun:test";
import { DEMO_POD_LABEL, demoPodManifest } from "./kube-pods.ts";

describe("demoPodManifest", () => {
  test("a busybox pod pinned to the node, labelled as the demo's", () => {
    const m = demoPodManifest("demo-a", "default", "ip-10-0-0-4.us-west-2.compute.internal") as { metadata: Record<string, unknown>; spec: { nodeName: string; containers: Array<{ image: string }> } };
    expect(m.metadata).toEqual({ name: "demo-a", namespace: "default", labels: { ...DEMO_POD_LABEL } });
    expect(m.spec.nodeName).toBe("ip-10-0-0-4.us-west-2.compute.internal");
    expect(m.spec.containers.map((c) => c.image)).toEqual(["busybox"]);
  });

  test("a name or namespace that is not a Kubernetes name is refused, naming the field", () => {
    expect(() => demoPodManifest("Demo_A", "default", "n")).toThrow(/^metadata\.name: "Demo_A"/);
    expect(() => demoPodManifest("demo-a", "../x", "n")).toThrow(/^namespace: "..\/x"/);
  });
});
