// A container's run spec from the pod: its name and labels on the node, the network namespace
// it joins, its environment, mounts, capabilities and user. Pure given its inputs; errors
// name the pod field at fault and carry the waiting reason to report.
import { ContainerSpecError, effectiveCapabilities, userOf, type ContainerRunSpec, type RootFilesystem } from "./container-args.ts";
import { expandArgv, resolveEnv } from "./env.ts";
import { assertDnsLabel, containerLabels } from "./names.ts";
import type { ConfigMap, Container, Pod } from "./pod-types.ts";
import { containerMounts, type VolumeSource } from "./volumes.ts";

export interface SpecInputs {
  ctx: { prefix: string; nodeIndex: number; nodeName: string; hostIP: string };
  pod: Pod;
  slot: { spec: Container; init: boolean; field: string; podmanName: string };
  /** The restart count this run will have. */
  attempt: number;
  configMaps: ReadonlyMap<string, ConfigMap>;
  volumes: ReadonlyMap<string, VolumeSource>;
  podIP: string | undefined;
  netnsPath: string;
  root: RootFilesystem;
  logPath: string;
  logMaxSize: string;
}

/** A pod's hostname: its name (at most 63 characters), or the node's for hostNetwork pods. */
export function podHostname(pod: Pod, nodeName: string): string {
  if (pod.spec?.hostNetwork) return nodeName.split(".")[0] ?? nodeName;
  return (pod.metadata.name ?? "pod").slice(0, 63).replace(/[.-]+$/, "");
}

export function containerArgsSpec(inp: SpecInputs): ContainerRunSpec {
  const { pod, slot, ctx } = inp;
  const c = slot.spec;
  const field = slot.field;
  assertDnsLabel(c.name, `${field}.name`);
  if (!c.image) throw new ContainerSpecError("KUBELET_NO_IMAGE", `${field}.image`, "required");
  const { env } = resolveEnv(c, { pod, podIP: inp.podIP, hostIP: ctx.hostIP, configMaps: inp.configMaps }, field);
  const sc = c.securityContext;
  const privileged = sc?.privileged === true;
  const user = userOf(sc, pod.spec?.securityContext, field);
  return {
    name: slot.podmanName,
    labels: containerLabels({
      prefix: ctx.prefix,
      nodeIndex: ctx.nodeIndex,
      namespace: pod.metadata.namespace ?? "default",
      pod: pod.metadata.name ?? "",
      uid: pod.metadata.uid ?? "",
      container: c.name ?? "",
      attempt: inp.attempt,
      init: slot.init,
    }),
    netnsPath: inp.netnsPath,
    hostname: podHostname(pod, ctx.nodeName),
    logPath: inp.logPath,
    logMaxSize: inp.logMaxSize,
    env,
    ...(c.workingDir ? { workingDir: c.workingDir } : {}),
    ...(user === undefined ? {} : { user }),
    privileged,
    capabilities: privileged ? "all" : effectiveCapabilities(sc, field),
    readOnlyRoot: sc?.readOnlyRootFilesystem === true,
    mounts: containerMounts(c, inp.volumes, field),
    root: inp.root,
    ...(c.command ? { command: expandArgv(c.command, env) } : {}),
    ...(c.args ? { args: expandArgv(c.args, env) } : {}),
  };
}
