import { describe, expect, test } from "bun:test";
import { ContainerSpecError, DEFAULT_CAPABILITIES, effectiveCapabilities, runArgs, userOf, type ContainerRunSpec } from "./container-args.ts";

describe("effectiveCapabilities", () => {
  test.each([
    ["no securityContext: containerd's defaults", undefined, [...DEFAULT_CAPABILITIES]],
    ["add NET_ADMIN (bare or CAP_, any case)", { capabilities: { add: ["NET_ADMIN", "cap_sys_admin"] } }, [...DEFAULT_CAPABILITIES, "CAP_NET_ADMIN", "CAP_SYS_ADMIN"].sort()],
    ["drop NET_RAW", { capabilities: { drop: ["NET_RAW"] } }, DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_NET_RAW")],
    ["drop ALL, add two", { capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW"] } }, ["CAP_NET_ADMIN", "CAP_NET_RAW"]],
    ["add ALL", { capabilities: { add: ["ALL"], drop: ["KILL"] } }, "all"],
  ] as const)("%s", (_, sc, expected) => {
    expect(effectiveCapabilities(sc as never, "spec.containers[0]")).toEqual(expected as never);
  });

  test("a bad capability name is refused naming the field", () => {
    expect(() => effectiveCapabilities({ capabilities: { add: ["NET ADMIN"] } }, "spec.containers[1]")).toThrow("spec.containers[1].securityContext.capabilities.add[0]");
  });
});

describe("userOf", () => {
  test("container over pod, uid:gid", () => {
    expect(userOf({ runAsUser: 1000 }, { runAsUser: 5, runAsGroup: 7 }, "c")).toBe("1000:7");
    expect(userOf(undefined, undefined, "c")).toBeUndefined();
    expect(userOf(undefined, { runAsGroup: 3 }, "c")).toBe("0:3");
  });
  test("runAsNonRoot (container over pod): a user set and not 0, else refused naming the field", () => {
    expect(userOf(undefined, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 }, "c")).toBe("65532:65532");
    expect(() => userOf({ runAsUser: 0 }, { runAsNonRoot: true, runAsUser: 65532 }, "spec.containers[0]")).toThrow(expect.objectContaining({ code: "KUBELET_RUN_AS_ROOT", message: expect.stringContaining("spec.containers[0].securityContext.runAsNonRoot") }));
    expect(() => userOf({ runAsNonRoot: true }, undefined, "c")).toThrow("cannot be verified as non-root");
    expect(userOf({ runAsNonRoot: false, runAsUser: 0 }, { runAsNonRoot: true }, "c")).toBe("0");
  });
  test("a negative or fractional ID is refused", () => {
    expect(() => userOf({ runAsUser: -1 }, undefined, "spec.containers[0]")).toThrow(ContainerSpecError);
    expect(() => userOf(undefined, { runAsGroup: 1.5 }, "spec.containers[0]")).toThrow("runAsGroup");
  });
});

const base: ContainerRunSpec = {
  name: "v1a2b-0-web-main",
  labels: { "aws-vpc-cni.local/stack": "v1a2b" },
  netnsPath: "/run/netns/v1a2b-pod-0123456789",
  hostname: "web",
  logPath: "/d/logs/main/0.log",
  logMaxSize: "1mb",
  env: [["A", "1"], ["MULTI", "x=y z"]],
  privileged: false,
  capabilities: ["CAP_CHOWN", "CAP_NET_ADMIN"],
  readOnlyRoot: false,
  mounts: [{ source: "/src", target: "/dst", readOnly: true, propagation: "rslave" }],
  root: { kind: "rootfs", path: "/d/kubelet/rootfs" },
};

describe("runArgs", () => {
  test("a busybox-rootfs container: name, labels, the sandbox's netns, k8s-file log, caps, env, mounts, overlay rootfs, command+args", () => {
    expect(runArgs({ ...base, command: ["sh", "-c"], args: ["sleep 1"], workingDir: "/w", user: "1000" })).toEqual([
      "run", "-d", "--name", "v1a2b-0-web-main",
      "--label", "aws-vpc-cni.local/stack=v1a2b",
      "--network", "ns:/run/netns/v1a2b-pod-0123456789", "--hostname", "web",
      "--log-driver", "k8s-file", "--log-opt", "path=/d/logs/main/0.log", "--log-opt", "max-size=1mb",
      "--security-opt", "seccomp=unconfined",
      "--cap-drop", "all", "--cap-add", "CAP_CHOWN", "--cap-add", "CAP_NET_ADMIN",
      "--user", "1000", "--workdir", "/w",
      "--env", "A=1", "--env", "MULTI=x=y z",
      "-v", "/src:/dst:ro,rslave",
      "--rootfs", "/d/kubelet/rootfs:O", "sh", "-c", "sleep 1",
    ]);
  });

  test("busybox with neither command nor args runs sh, as the busybox image does", () => {
    expect(runArgs(base).slice(-3)).toEqual(["--rootfs", "/d/kubelet/rootfs:O", "sh"]);
  });

  test("an image: command replaces its ENTRYPOINT, args its CMD; privileged takes every capability", () => {
    const argv = runArgs({ ...base, privileged: true, readOnlyRoot: true, root: { kind: "image", ref: "localhost/aws-vpc-cni:0.1.0" }, command: ["/app/bin/service"], args: ["addr-broker"] });
    expect(argv).toContain("--privileged");
    expect(argv).not.toContain("--cap-drop");
    expect(argv).toContain("--read-only");
    expect(argv.slice(-4)).toEqual(["--entrypoint", '["/app/bin/service"]', "localhost/aws-vpc-cni:0.1.0", "addr-broker"]);
    expect(runArgs({ ...base, root: { kind: "image", ref: "img" } }).slice(-1)).toEqual(["img"]);
  });
});
