// DIR/local-manifest.json: what `up` created, written before it creates anything, so `down`
// can remove the leftovers of an `up` that crashed at any point.
import { rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

export const Manifest = z.object({
  prefix: z.string(),
  upPid: z.number().int().positive(),
  /** Processes started outside the namespaces (those inside are found with `ip netns pids`). */
  pids: z.array(z.number().int().positive()),
  /** Unix sockets and files to remove. */
  files: z.array(z.string()),
  /** Containers the stack's kubelets run: all carry `label` (key=value); podman is run with `containersConf`. */
  containers: z.object({ label: z.string().regex(/^[A-Za-z0-9./_-]+=[A-Za-z0-9._-]+$/), containersConf: z.string() }).optional(),
});
export type Manifest = z.infer<typeof Manifest>;

export const MANIFEST_FILE = "local-manifest.json";

export function manifestPath(dir: string): string {
  return join(dir, MANIFEST_FILE);
}

export async function writeManifest(dir: string, m: Manifest): Promise<void> {
  const path = manifestPath(dir);
  await writeFile(`${path}.tmp`, JSON.stringify(Manifest.parse(m), null, 2) + "\n");
  await rename(`${path}.tmp`, path);
}

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  const f = Bun.file(manifestPath(dir));
  if (!(await f.exists())) return undefined;
  try {
    return Manifest.parse(await f.json());
  } catch {
    return undefined;
  }
}

export async function removeManifest(dir: string): Promise<void> {
  await rm(manifestPath(dir), { force: true });
}
