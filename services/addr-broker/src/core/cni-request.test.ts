import { describe, expect, test } from "bun:test";
import { parseCniArgs } from "./cni-args.ts";
import { CniError } from "./cni-error.ts";
import { parseCniRequest } from "./cni-request.ts";
import { SUPPORTED_VERSIONS, compareVersions } from "./cni-version.ts";

const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: "1.1.0", name: "aws-cni", type: "aws-cni", ...extra });
const addEnv = { CNI_COMMAND: "ADD", CNI_CONTAINERID: "abc123", CNI_NETNS: "/var/run/netns/cni-1", CNI_IFNAME: "eth0", CNI_PATH: "/opt/cni/bin" };

function codeOf(env: Record<string, string>, stdin: string): { code: number; msg: string } {
  try {
    parseCniRequest(env, stdin);
  } catch (e) {
    if (e instanceof CniError) return { code: e.code, msg: e.message };
    throw e;
  }
  return { code: 0, msg: "" };
}

describe("required variables per command (code 4 naming them)", () => {
  const rows: Array<[string, Record<string, string>, string]> = [
    ["no command", {}, "CNI_COMMAND"],
    ["unknown command", { CNI_COMMAND: "FOO" }, "CNI_COMMAND"],
    ["ADD without container id", { ...addEnv, CNI_CONTAINERID: "" }, "CNI_CONTAINERID"],
    ["ADD without netns", { CNI_COMMAND: "ADD", CNI_CONTAINERID: "a", CNI_IFNAME: "eth0" }, "CNI_NETNS"],
    ["CHECK without ifname", { CNI_COMMAND: "CHECK", CNI_CONTAINERID: "a", CNI_NETNS: "/proc/1/ns/net" }, "CNI_IFNAME"],
    ["DEL without ifname", { CNI_COMMAND: "DEL", CNI_CONTAINERID: "a" }, "CNI_IFNAME"],
    ["bad container id", { ...addEnv, CNI_CONTAINERID: "-x" }, "CNI_CONTAINERID"],
    ["container id with a slash", { ...addEnv, CNI_CONTAINERID: "a/../b" }, "CNI_CONTAINERID"],
    ["ifname too long", { ...addEnv, CNI_IFNAME: "a234567890123456" }, "CNI_IFNAME"],
    ["ifname dot", { ...addEnv, CNI_IFNAME: "." }, "CNI_IFNAME"],
    ["ifname with space", { ...addEnv, CNI_IFNAME: "e th0" }, "CNI_IFNAME"],
    ["netns outside the allowed places", { ...addEnv, CNI_NETNS: "/etc/passwd" }, "CNI_NETNS"],
    ["netns with ..", { ...addEnv, CNI_NETNS: "/run/netns/../x" }, "CNI_NETNS"],
    ["CNI_ARGS without =", { ...addEnv, CNI_ARGS: "K8S_POD_NAME" }, "CNI_ARGS"],
  ];
  for (const [label, env, field] of rows) {
    test(label, () => {
      const r = codeOf(env, conf());
      expect(r.code).toBe(4);
      expect(r.msg).toContain(field);
    });
  }
  test("several missing are all named", () => {
    const r = codeOf({ CNI_COMMAND: "ADD" }, conf());
    expect(r.msg).toContain("CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME");
  });
  test("DEL with an empty netns and no CNI_PATH is fine", () => {
    const r = parseCniRequest({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "a", CNI_IFNAME: "eth0", CNI_NETNS: "" }, conf());
    expect(r).toMatchObject({ command: "DEL", netns: "", containerId: "a" });
  });
  test("STATUS and GC need only the command", () => {
    expect(parseCniRequest({ CNI_COMMAND: "STATUS" }, conf()).command).toBe("STATUS");
    expect(parseCniRequest({ CNI_COMMAND: "GC" }, conf()).command).toBe("GC");
  });
});

describe("versions", () => {
  test("every supported version is accepted for ADD", () => {
    for (const v of SUPPORTED_VERSIONS) expect(parseCniRequest(addEnv, conf({ cniVersion: v }))).toMatchObject({ conf: { cniVersion: v } });
  });
  const rows: Array<[string, Record<string, string>, Record<string, unknown>, number]> = [
    ["missing cniVersion means 0.1.0: unsupported", addEnv, { cniVersion: undefined }, 1],
    ["0.2.0 unsupported", addEnv, { cniVersion: "0.2.0" }, 1],
    ["9.9.9 unsupported", addEnv, { cniVersion: "9.9.9" }, 1],
    ["CHECK on 0.3.1", { ...addEnv, CNI_COMMAND: "CHECK" }, { cniVersion: "0.3.1" }, 1],
    ["STATUS on 1.0.0", { CNI_COMMAND: "STATUS" }, { cniVersion: "1.0.0" }, 1],
    ["GC on 0.4.0", { CNI_COMMAND: "GC" }, { cniVersion: "0.4.0" }, 1],
    ["CHECK on 0.4.0 fine", { ...addEnv, CNI_COMMAND: "CHECK" }, { cniVersion: "0.4.0" }, 0],
    ["cniVersion a number", addEnv, { cniVersion: 1 }, 6],
  ];
  for (const [label, env, extra, code] of rows) test(label, () => expect(codeOf(env, conf(extra)).code).toBe(code));
  test("VERSION needs no valid config", () => {
    expect(parseCniRequest({ CNI_COMMAND: "VERSION" }, "garbage")).toEqual({ command: "VERSION", cniVersion: "1.1.0" });
    expect(parseCniRequest({ CNI_COMMAND: "VERSION" }, conf({ cniVersion: "0.4.0" }))).toEqual({ command: "VERSION", cniVersion: "0.4.0" });
  });
  test("compareVersions is numeric", () => {
    expect(compareVersions("0.10.0", "0.4.0")).toBeGreaterThan(0);
    expect(compareVersions("1.0.0", "1.0")).toBe(0);
  });
});

describe("network config", () => {
  const rows: Array<[string, string, number, string]> = [
    ["not JSON", "{nope", 6, "stdin"],
    ["an array", "[]", 6, "stdin"],
    ["no name", JSON.stringify({ cniVersion: "1.0.0" }), 7, "name"],
    ["bad name", conf({ name: "a b" }), 7, "name"],
    ["type not a string", conf({ type: 3 }), 7, "type"],
    ["valid-attachments not an array", conf({ "cni.dev/valid-attachments": {} }), 7, "valid-attachments"],
  ];
  for (const [label, stdin, code, field] of rows) {
    test(label, () => {
      const r = codeOf(label.includes("attachments") ? { CNI_COMMAND: "GC" } : addEnv, stdin);
      expect(r.code).toBe(code);
      expect(r.msg).toContain(field);
    });
  }
  test("GC reads valid-attachments, and older attachments", () => {
    const a = [{ containerID: "c1", ifname: "eth0" }];
    expect(parseCniRequest({ CNI_COMMAND: "GC" }, conf({ "cni.dev/valid-attachments": a }))).toMatchObject({ validAttachments: [{ containerId: "c1", ifName: "eth0" }] });
    expect(parseCniRequest({ CNI_COMMAND: "GC" }, conf({ "cni.dev/attachments": a }))).toMatchObject({ validAttachments: [{ containerId: "c1", ifName: "eth0" }] });
    expect(parseCniRequest({ CNI_COMMAND: "GC" }, conf())).toMatchObject({ validAttachments: undefined });
  });
  test("prevResult is kept for the merge", () => {
    const r = parseCniRequest(addEnv, conf({ prevResult: { cniVersion: "1.1.0", ips: [] } }));
    expect(r.command === "ADD" && r.conf.prevResult).toEqual({ cniVersion: "1.1.0", ips: [] });
  });
});

describe("CNI_ARGS", () => {
  const rows: Array<[string | undefined, object]> = [
    [undefined, {}],
    ["", {}],
    ["IgnoreUnknown=1;K8S_POD_NAME=web", { podName: "web" }],
    ["K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=abc", { podNamespace: "default", podName: "web-1", infraContainerId: "abc" }],
    ["IgnoreUnknown=true;FOO=bar;K8S_POD_UID=u1", { podUid: "u1" }],
    ["K8S_POD_NAME=;", {}],
    ["K8S_POD_NAME=a=b", { podName: "a=b" }],
  ];
  for (const [raw, want] of rows) test(`${raw}`, () => expect(parseCniArgs(raw)).toEqual(want));
  test("unknown key without IgnoreUnknown is code 2 naming it", () => {
    const err = (() => {
      try {
        parseCniArgs("FOO=bar");
      } catch (e) {
        return e as CniError;
      }
    })();
    expect(err?.code).toBe(2);
    expect(err?.message).toContain("FOO");
  });
});
