import { describe, expect, test } from "bun:test";
import { EnvError, configMapsReferenced, expandArgv, expandRefs, resolveEnv, type EnvContext } from "./env.ts";
import type { ConfigMap, Container, Pod } from "./pod-types.ts";

const pod: Pod = {
  metadata: { name: "aws-node-x7k2p", namespace: "kube-system", uid: "u-1", labels: { app: "aws-node" }, annotations: { note: "hi" } },
  spec: { nodeName: "ip-10-0-0-4.us-west-2.compute.internal", serviceAccountName: "aws-node", containers: [] },
};
const cm = (name: string, data: Record<string, string>): ConfigMap => ({ metadata: { name, namespace: "kube-system" }, data });
const ctx = (configMaps: ConfigMap[] = []): EnvContext => ({ pod, podIP: "10.0.0.9", hostIP: "10.0.0.4", configMaps: new Map(configMaps.map((c) => [c.metadata.name ?? "", c])) });
const env = (c: Container, maps: ConfigMap[] = []) => Object.fromEntries(resolveEnv(c, ctx(maps)).env);

describe("resolveEnv", () => {
  test("plain values and every downward-API field the kubelet supports", () => {
    const fields = ["spec.nodeName", "metadata.name", "metadata.namespace", "metadata.uid", "status.podIP", "status.hostIP", "spec.serviceAccountName", "metadata.labels['app']", "metadata.annotations['note']"];
    const c: Container = { env: [{ name: "PLAIN", value: "x" }, ...fields.map((f, i) => ({ name: `F${i}`, valueFrom: { fieldRef: { fieldPath: f } } }))] };
    expect(env(c)).toEqual({
      PLAIN: "x",
      F0: "ip-10-0-0-4.us-west-2.compute.internal",
      F1: "aws-node-x7k2p",
      F2: "kube-system",
      F3: "u-1",
      F4: "10.0.0.9",
      F5: "10.0.0.4",
      F6: "aws-node",
      F7: "aws-node",
      F8: "hi",
    });
  });

  test("envFrom first (in order, with prefix), env on top; invalid names from a ConfigMap are skipped", () => {
    const c: Container = {
      envFrom: [{ configMapRef: { name: "a" } }, { configMapRef: { name: "b" }, prefix: "B_" }],
      env: [{ name: "SHARED", value: "from-env" }],
    };
    const maps = [cm("a", { SHARED: "from-a", ONLY_A: "1", "bad name": "x" }), cm("b", { SHARED: "from-b" })];
    const r = resolveEnv(c, ctx(maps));
    expect(Object.fromEntries(r.env)).toEqual({ SHARED: "from-env", ONLY_A: "1", B_SHARED: "from-b" });
    expect(r.skipped).toEqual(["bad name"]);
  });

  test("configMapKeyRef: a value, an optional missing ConfigMap or key leaves the variable unset", () => {
    const c: Container = {
      env: [
        { name: "A", valueFrom: { configMapKeyRef: { name: "cfg", key: "k" } } },
        { name: "B", valueFrom: { configMapKeyRef: { name: "cfg", key: "missing", optional: true } } },
        { name: "C", valueFrom: { configMapKeyRef: { name: "nope", key: "k", optional: true } } },
      ],
    };
    expect(env(c, [cm("cfg", { k: "v" })])).toEqual({ A: "v" });
  });

  test.each([
    [{ env: [{ name: "A", valueFrom: { configMapKeyRef: { name: "nope", key: "k" } } }] }, "KUBELET_ENV_CONFIGMAP", 'spec.containers[0].env[0].valueFrom.configMapKeyRef: configmap "nope" not found'],
    [{ env: [{ name: "A", valueFrom: { configMapKeyRef: { name: "cfg", key: "other" } } }] }, "KUBELET_ENV_CONFIGMAP", "couldn't find key other in ConfigMap kube-system/cfg"],
    [{ envFrom: [{ configMapRef: { name: "nope" } }] }, "KUBELET_ENV_CONFIGMAP", "spec.containers[0].envFrom[0].configMapRef"],
    [{ env: [{ name: "A", valueFrom: { fieldRef: { fieldPath: "spec.bogus" } } }] }, "KUBELET_ENV_FIELD", "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath"],
    [{ env: [{ name: "1A", value: "x" }] }, "KUBELET_ENV_NAME", "spec.containers[0].env[0].name"],
    [{ env: [{ name: "S", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] }, "KUBELET_ENV_SECRET", "secretKeyRef"],
  ] as Array<[Container, string, string]>)("%j fails with %s naming the field", (c, code, text) => {
    let err: unknown;
    try {
      resolveEnv(c, ctx([cm("cfg", { k: "v" })]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnvError);
    expect((err as EnvError).code).toBe(code);
    expect((err as EnvError).reason).toBe("CreateContainerConfigError");
    expect((err as Error).message).toContain(text);
  });

  test("$(NAME) expands against what is defined before; $$ escapes; unknown stays", () => {
    const c: Container = { env: [{ name: "A", value: "one" }, { name: "B", value: "$(A)-$(C)-$$(A)" }, { name: "C", value: "three" }] };
    expect(env(c).B).toBe("one-$(C)-$(A)");
    expect(expandRefs("$(X)$(Y)", (n) => (n === "X" ? "x" : undefined))).toBe("x$(Y)");
    expect(expandArgv(["echo", "$(A)"], [["A", "1"]])).toEqual(["echo", "1"]);
  });

  test("configMapsReferenced lists each name once", () => {
    expect(configMapsReferenced({ envFrom: [{ configMapRef: { name: "a" } }], env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "a", key: "k" } } }, { name: "Y", valueFrom: { configMapKeyRef: { name: "b", key: "k" } } }] })).toEqual(["a", "b"]);
  });
});
