// `down`: removes whatever an `up` for DIR left behind, whether it still runs, stopped cleanly
// or crashed: its process, its kubelets' containers, the processes in its namespaces, the
// namespaces (nodes' and pods'), the management link, its sockets and files. Idempotent.
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { removeStackContainers } from "./kubelet/node-kubelets.ts";
import { readManifest, removeManifest } from "./manifest.ts";
import { stackPath } from "./stack.ts";
import { destroyStack, waitForExit } from "./vpc/fabric.ts";
import { stackNames } from "./vpc/names.ts";

async function cmdline(pid: number): Promise<string | undefined> {
  try {
    return (await Bun.file(`/proc/${pid}/cmdline`).text()).replaceAll("\0", " ");
  } catch {
    return undefined;
  }
}

/** Signals a process only if it still is what we started (pids get reused). */
async function stopIfOurs(pid: number, markers: readonly string[], graceMs: number): Promise<string | undefined> {
  if (pid === process.pid) return undefined;
  const cmd = await cmdline(pid);
  if (cmd === undefined || !markers.some((marker) => cmd.includes(marker))) return undefined;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return undefined;
  }
  if (await waitForExit(pid, graceMs)) return undefined;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return undefined;
  }
  return (await waitForExit(pid, 2000)) ? undefined : `process ${pid} survived SIGKILL`;
}

export async function down(dirArg: string): Promise<string[]> {
  const dir = resolve(dirArg);
  const names = stackNames(dir);
  const problems: string[] = [];
  const manifest = await readManifest(dir);
  if (manifest) {
    // A live `up` tears down itself on SIGTERM; give it the time to.
    const p = await stopIfOurs(manifest.upPid, ["main.ts"], 10_000);
    if (p) problems.push(p);
    for (const pid of manifest.pids) {
      const q = await stopIfOurs(pid, ["echo-server.ts", "policy-controller/main.ts"], 2000);
      if (q) problems.push(q);
    }
  }
  // Containers first (podman stops them properly), then the namespaces they ran in.
  problems.push(...(await removeStackContainers(names.prefix, manifest?.containers?.containersConf)));
  problems.push(...(await destroyStack(names)));
  const files = manifest?.files ?? [join(dir, "ec2-control.sock"), join(dir, "kubeconfig"), stackPath(dir)];
  for (const f of files) await rm(f, { force: true });
  await removeManifest(dir);
  return problems;
}
