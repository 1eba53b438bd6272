import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderCniArgs } from "../cni-runtime.ts";
import { pickConflist, podCniArgs, podPortMappings, readFirstConflist } from "./cni-config.ts";

const aws = JSON.stringify({ cniVersion: "1.0.0", name: "aws-cni", plugins: [{ type: "aws-cni" }, { type: "portmap", capabilities: { portMappings: true } }] });
const single = JSON.stringify({ cniVersion: "0.4.0", name: "bridge-net", type: "bridge", bridge: "br0" });

describe("pickConflist", () => {
  test("the first file in lexical order wins, whatever order the directory lists", () => {
    const found = pickConflist([{ name: "20-other.conflist", text: aws.replace("aws-cni\",", "other\",") }, { name: "10-aws.conflist", text: aws }]);
    expect(found?.file).toBe("10-aws.conflist");
    expect(found?.conflist.plugins.map((p) => p.type)).toEqual(["aws-cni", "portmap"]);
  });

  test("a single-plugin .conf becomes a list of one", () => {
    expect(pickConflist([{ name: "05-bridge.conf", text: single }])?.conflist).toEqual({ cniVersion: "0.4.0", name: "bridge-net", plugins: [{ type: "bridge", bridge: "br0" }] });
  });

  test("unparseable, incomplete and non-CNI files are passed over; none usable is undefined", () => {
    const files = [
      { name: "00-torn.conflist", text: aws.slice(0, 20) },
      { name: "01-noname.conflist", text: JSON.stringify({ cniVersion: "1.0.0", plugins: [{ type: "x" }] }) },
      { name: "02-empty.conflist", text: JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [] }) },
      { name: "03-single-in-conflist.conflist", text: single },
      { name: "10-aws.conflist.tmp", text: aws },
      { name: "README", text: aws },
    ];
    expect(pickConflist(files)).toBeUndefined();
    expect(pickConflist([...files, { name: "99-late.json", text: aws }])?.file).toBe("99-late.json");
  });
});

describe("readFirstConflist", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubelet-cni-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  test("a missing or empty dir has none; a written conflist is found with its path", () => {
    expect(readFirstConflist(join(dir, "absent"))).toBeUndefined();
    mkdirSync(join(dir, "net.d"));
    expect(readFirstConflist(join(dir, "net.d"))).toBeUndefined();
    writeFileSync(join(dir, "net.d", "10-aws.conflist"), aws);
    expect(readFirstConflist(join(dir, "net.d"))?.file).toBe(join(dir, "net.d", "10-aws.conflist"));
  });
});

test("CNI_ARGS as a kubelet's runtime sends them", () => {
  const pod = { metadata: { name: "web-1", namespace: "shop", uid: "6b1c3f0e" } };
  expect(renderCniArgs(podCniArgs(pod, "f".repeat(64)))).toBe(`IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=${"f".repeat(64)};K8S_POD_UID=6b1c3f0e`);
});

test("port mappings: container ports with a hostPort, protocol lower-case", () => {
  expect(podPortMappings({ metadata: {}, spec: { containers: [{ ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 53, hostPort: 53, protocol: "UDP", hostIP: "10.0.0.4" }, { containerPort: 9000 }] }] } })).toEqual([
    { hostPort: 8080, containerPort: 80, protocol: "tcp" },
    { hostPort: 53, containerPort: 53, protocol: "udp", hostIP: "10.0.0.4" },
  ]);
});
