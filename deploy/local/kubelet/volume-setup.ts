// Makes a pod's volumes exist on its node before a container mounts them: hostPath checked
// (or created) per its type, emptyDir created, configMap written out as files.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ConfigMap } from "./pod-types.ts";
import { VolumeError, type VolumeSource } from "./volumes.ts";

const KEY = /^[-._a-zA-Z0-9]+$/;

function checkHostPath(v: Extract<VolumeSource, { kind: "hostPath" }>, field: string): void {
  const st = existsSync(v.path) ? statSync(v.path) : undefined;
  const want = (ok: boolean, what: string) => {
    if (!ok) throw new VolumeError("KUBELET_HOSTPATH_TYPE", field, `hostPath type check failed: ${v.path} is not a ${what}`);
  };
  switch (v.type) {
    case "":
    case "DirectoryOrCreate":
      // containerd creates a missing bind source as a directory; so does the kubelet for DirectoryOrCreate.
      if (!st && !v.machine) mkdirSync(v.path, { recursive: true, mode: 0o755 });
      else if (v.type === "DirectoryOrCreate") want(st?.isDirectory() === true, "directory");
      return;
    case "FileOrCreate":
      if (!st && !v.machine) {
        // A simulated node's root starts empty: the parents /run, /etc ... of a real host are made too.
        mkdirSync(dirname(v.path), { recursive: true, mode: 0o755 });
        closeSync(openSync(v.path, "a", 0o644));
      } else want(st?.isFile() === true, "file");
      return;
    case "Directory":
      return want(st?.isDirectory() === true, "directory");
    case "File":
      return want(st?.isFile() === true, "file");
    case "Socket":
      return want(st?.isSocket() === true, "socket");
    case "CharDevice":
      return want(st?.isCharacterDevice() === true, "character device");
    case "BlockDevice":
      return want(st?.isBlockDevice() === true, "block device");
  }
}

function writeConfigMap(v: Extract<VolumeSource, { kind: "configMap" }>, cm: ConfigMap | undefined, field: string): void {
  rmSync(v.path, { recursive: true, force: true });
  mkdirSync(v.path, { recursive: true, mode: 0o755 });
  if (!cm) {
    if (v.optional) return;
    throw new VolumeError("KUBELET_VOLUME_CONFIGMAP", `${field}.configMap.name`, `configmap "${v.configMap}" not found`);
  }
  const data = cm.data ?? {};
  const files = v.items ?? Object.keys(data).map((key) => ({ key, path: key, mode: undefined }));
  for (const item of files) {
    const value = data[item.key];
    if (value === undefined) {
      if (v.optional) continue;
      throw new VolumeError("KUBELET_VOLUME_CONFIGMAP", `${field}.configMap.items`, `configmap "${v.configMap}" has no key ${JSON.stringify(item.key)}`);
    }
    if (!v.items && !KEY.test(item.key)) continue;
    const file = join(v.path, item.path);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, value, { mode: item.mode ?? v.defaultMode });
  }
}

/**
 * The service account's token, the cluster's CA and the namespace, as the kubelet projects them.
 * The simulated API server serves plain HTTP and accepts any bearer token: the token names the
 * account, the CA bundle is empty.
 */
function writeServiceAccount(v: Extract<VolumeSource, { kind: "serviceAccount" }>): void {
  mkdirSync(v.path, { recursive: true, mode: 0o755 });
  writeFileSync(join(v.path, "token"), `local-deployment:${v.namespace}:${v.serviceAccount}`, { mode: 0o644 });
  writeFileSync(join(v.path, "namespace"), v.namespace, { mode: 0o644 });
  writeFileSync(join(v.path, "ca.crt"), "", { mode: 0o644 });
}

/** Prepares every volume; configMaps are those of the pod's namespace by name. */
export function prepareVolumes(volumes: ReadonlyMap<string, VolumeSource>, configMaps: ReadonlyMap<string, ConfigMap>): void {
  for (const [name, v] of volumes) {
    const field = `volume ${JSON.stringify(name)}`;
    if (v.kind === "hostPath") checkHostPath(v, field);
    else if (v.kind === "emptyDir") {
      mkdirSync(v.path, { recursive: true });
      chmodSync(v.path, 0o777); // mkdir's mode goes through the umask
    }
    else if (v.kind === "serviceAccount") writeServiceAccount(v);
    else writeConfigMap(v, configMaps.get(v.configMap), field);
  }
}

/** The ConfigMap names a pod's volumes refer to (fetched before prepareVolumes). */
export function configMapsOfVolumes(volumes: ReadonlyMap<string, VolumeSource>): string[] {
  return [...volumes.values()].flatMap((v) => (v.kind === "configMap" ? [v.configMap] : []));
}
