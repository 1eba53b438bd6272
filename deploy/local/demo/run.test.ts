import { describe, expect, test } from "bun:test";
import type { Stack } from "../stack.ts";
import { howToLook } from "./run.ts";

function stack(mode: Stack["mode"]): Stack {
  const node = (i: number) => ({
    name: `ip-10-0-0-${4 + i}.us-west-2.compute.internal`,
    instanceId: `i-${i}`,
    instanceType: "m5.large",
    netns: `v1234-n${i}`,
    primaryIp: `10.0.0.${4 + i}`,
    primaryEni: `eni-${i}`,
    subnetId: "subnet-1",
    runDir: `/d/nodes/${i}/run`,
  });
  return {
    version: 1,
    dir: "/d",
    mode,
    vpc: { id: "vpc-1", cidrs: ["10.0.0.0/16"] },
    ec2: { endpoint: "http://169.254.0.1:1", control: "/d/ec2-control.sock" },
    imds: { endpoint: "http://169.254.169.254" },
    kube: { endpoint: "http://169.254.0.1:2", kubeconfig: "/d/kubeconfig" },
    nodes: [node(0), node(1)],
    outside: { netns: "v1234-out", echo: "203.0.113.10:7" },
  } as Stack;
}

describe("howToLook", () => {
  const awsNode = new Map([["ip-10-0-0-4.us-west-2.compute.internal", "aws-node-abcde"], ["ip-10-0-0-5.us-west-2.compute.internal", "aws-node-fghij"]]);

  test("daemonset mode: the DaemonSet and its pods, and each node's aws-node container logs", () => {
    const lines = howToLook(stack("daemonset"), awsNode).split("\n");
    expect(lines).toContain("kubectl --kubeconfig /d/kubeconfig -n kube-system get ds,deploy,pods -o wide");
    expect(lines).toContain("  bun run deploy/local/main.ts logs --dir /d kube-system/aws-node-abcde -c aws-node");
    expect(lines).toContain("  bun run deploy/local/main.ts logs --dir /d kube-system/aws-node-fghij -c aws-node");
    // each logs line sits under its own node
    expect(lines.indexOf("  bun run deploy/local/main.ts logs --dir /d kube-system/aws-node-abcde -c aws-node")).toBeLessThan(lines.findIndex((l) => l.startsWith("node 1:")));
  });

  test("processes mode: no DaemonSet lines, every service's /debug on every node", () => {
    const text = howToLook(stack("processes"), awsNode);
    expect(text).not.toContain("get ds");
    expect(text).not.toContain("main.ts logs");
    expect(text).toContain("curl -s --unix-socket /d/nodes/1/run/addr-broker.sock http://localhost/debug");
  });
});
