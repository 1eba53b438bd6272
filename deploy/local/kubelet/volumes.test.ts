import { describe, expect, test } from "bun:test";
import type { Pod } from "./pod-types.ts";
import { VolumeError, containerMounts, hostPathOnNode, mountArgs, podVolumes, type NodePaths } from "./volumes.ts";

const node: NodePaths = { root: "/d/nodes/1", cniConfDir: "/d/nodes/1/cni/net.d", cniBinDir: "/d/nodes/1/cni/bin", runDir: "/d/nodes/1/run", logDir: "/d/nodes/1/logs" };

describe("hostPathOnNode", () => {
  test.each([
    ["/etc/cni/net.d", "/d/nodes/1/cni/net.d"],
    ["/etc/cni/net.d/10-aws.conflist", "/d/nodes/1/cni/net.d/10-aws.conflist"],
    ["/opt/cni/bin", "/d/nodes/1/cni/bin"],
    ["/var/run/aws-node", "/d/nodes/1/run"],
    ["/run/aws-node/", "/d/nodes/1/run"],
    ["/var/log/aws-routed-eni", "/d/nodes/1/logs"],
    ["/proc", "/proc"],
    ["/sys/fs/bpf", "/sys/fs/bpf"],
    ["/var/run/netns", "/var/run/netns"],
    ["/run/netns", "/run/netns"],
    ["/lib/modules", "/lib/modules"],
    ["/run/xtables.lock", "/d/nodes/1/host/run/xtables.lock"],
    ["/etc/cni", "/d/nodes/1/host/etc/cni"],
    ["/etc/cni/net.dx", "/d/nodes/1/host/etc/cni/net.dx"],
    ["/", "/d/nodes/1/host"],
  ])("%s → %s", (path, expected) => {
    expect(hostPathOnNode(path, node)).toBe(expected);
  });

  test.each(["relative/path", "/var/../etc", "/a:b", "/a,b"])("%s is refused", (path) => {
    expect(() => hostPathOnNode(path, node)).toThrow(VolumeError);
  });
});

const pod = (spec: Pod["spec"]): Pod => ({ metadata: { name: "p", namespace: "default", uid: "u-1" }, spec });

describe("podVolumes and containerMounts", () => {
  const p = pod({
    volumes: [
      { name: "cni-net-dir", hostPath: { path: "/etc/cni/net.d", type: "DirectoryOrCreate" } },
      { name: "netns", hostPath: { path: "/var/run/netns" } },
      { name: "scratch", emptyDir: {} },
      { name: "cfg", configMap: { name: "settings", items: [{ key: "a", path: "sub/a.txt" }] } },
    ],
  });

  test("each kind of volume lives where the node keeps it", () => {
    const v = podVolumes(p, node);
    expect(v.get("cni-net-dir")).toEqual({ kind: "hostPath", path: "/d/nodes/1/cni/net.d", type: "DirectoryOrCreate", machine: false });
    expect(v.get("netns")).toEqual({ kind: "hostPath", path: "/var/run/netns", type: "", machine: true });
    expect(v.get("scratch")).toEqual({ kind: "emptyDir", path: "/d/nodes/1/pods/u-1/volumes/empty-dir/scratch" });
    expect(v.get("cfg")).toMatchObject({ kind: "configMap", path: "/d/nodes/1/pods/u-1/volumes/configmap/cfg", configMap: "settings", items: [{ key: "a", path: "sub/a.txt" }], optional: false });
  });

  test("mounts: readOnly, propagation as the CRI maps it, subPath, configMap always read-only", () => {
    const v = podVolumes(p, node);
    const mounts = containerMounts({
      securityContext: { privileged: true },
      volumeMounts: [
        { name: "cni-net-dir", mountPath: "/host/etc/cni/net.d" },
        { name: "netns", mountPath: "/var/run/netns", mountPropagation: "HostToContainer", readOnly: true },
        { name: "scratch", mountPath: "/scratch/", mountPropagation: "Bidirectional", subPath: "x" },
        { name: "cfg", mountPath: "/etc/cfg" },
      ],
    }, v, "spec.containers[0]");
    expect(mounts).toEqual([
      { source: "/d/nodes/1/cni/net.d", target: "/host/etc/cni/net.d", readOnly: false, propagation: "rprivate" },
      { source: "/var/run/netns", target: "/var/run/netns", readOnly: true, propagation: "rslave" },
      { source: "/d/nodes/1/pods/u-1/volumes/empty-dir/scratch/x", target: "/scratch", readOnly: false, propagation: "rshared" },
      { source: "/d/nodes/1/pods/u-1/volumes/configmap/cfg", target: "/etc/cfg", readOnly: true, propagation: "rprivate" },
      { source: "/d/nodes/1/pods/u-1/volumes/serviceaccount", target: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true, propagation: "rprivate" },
    ]);
    expect(mountArgs(mounts.slice(0, 2))).toEqual(["-v", "/d/nodes/1/cni/net.d:/host/etc/cni/net.d:rw,rprivate", "-v", "/var/run/netns:/var/run/netns:ro,rslave"]);
  });

  test("the service account's token is mounted in every container, unless the pod opts out", () => {
    expect(podVolumes(p, node).get("kube-api-access")).toEqual({ kind: "serviceAccount", path: "/d/nodes/1/pods/u-1/volumes/serviceaccount", serviceAccount: p.spec?.serviceAccountName ?? "default", namespace: p.metadata.namespace ?? "default" });
    const optedOut = { ...p, spec: { ...p.spec, automountServiceAccountToken: false } };
    const v = podVolumes(optedOut, node);
    expect(v.has("kube-api-access")).toBe(false);
    expect(containerMounts({ volumeMounts: [] }, v, "spec.containers[0]")).toEqual([]);
  });

  test.each([
    [{ volumeMounts: [{ name: "nope", mountPath: "/x" }] }, "spec.containers[0].volumeMounts[0].name"],
    [{ volumeMounts: [{ name: "scratch", mountPath: "x" }] }, "spec.containers[0].volumeMounts[0].mountPath"],
    [{ volumeMounts: [{ name: "scratch", mountPath: "/x", mountPropagation: "Bidirectional" }] }, "only to privileged containers"],
    [{ volumeMounts: [{ name: "scratch", mountPath: "/x", mountPropagation: "Sideways" }] }, "spec.containers[0].volumeMounts[0].mountPropagation"],
    [{ volumeMounts: [{ name: "scratch", mountPath: "/x", subPath: "../up" }] }, "spec.containers[0].volumeMounts[0].subPath"],
  ])("%j is refused naming %s", (container, text) => {
    expect(() => containerMounts(container, podVolumes(p, node), "spec.containers[0]")).toThrow(text);
  });

  test.each([
    [[{ name: "x", hostPath: { path: "/a", type: "Wrong" } }], "spec.volumes[0].hostPath.type"],
    [[{ name: "x", secret: {} }], "spec.volumes[0]: unsupported volume source"],
    [[{ name: "Bad_Name", emptyDir: {} }], "spec.volumes[0].name"],
    [[{ name: "x", emptyDir: {} }, { name: "x", emptyDir: {} }], "spec.volumes[1].name"],
    [[{ name: "x", configMap: { name: "c", items: [{ key: "k", path: "/abs" }] } }], "spec.volumes[0].configMap.items[0].path"],
  ] as Array<[NonNullable<Pod["spec"]>["volumes"], string]>)("volumes %j are refused naming %s", (volumes, text) => {
    expect(() => podVolumes(pod({ volumes }), node)).toThrow(text);
  });
});
