/**
 * The floor of any exec'd Bun CNI plugin: a binary built with the shim's flags that reads its
 * stdin and answers a bare result (ADD) or nothing, doing no work. cni-add runs it as its
 * "bun floor" arm; shim-startup runs it beside the shim against a stub addr-broker.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SHIM_BUILD_FLAGS } from "../../cni-shim/build.ts";

export const FLOOR_PLUGIN_TYPE = "bun-floor";

/** Builds DIR/floor-bin/bun-floor; returns the binary's directory (a CNI bin dir). */
export async function buildFloorPlugin(dir: string): Promise<string> {
  const binDir = join(dir, "floor-bin");
  mkdirSync(binDir, { recursive: true });
  const source = join(dir, "floor.ts");
  await Bun.write(source, 'const c = JSON.parse(await Bun.stdin.text());\nif (process.env.CNI_COMMAND === "ADD") await Bun.write(Bun.stdout, JSON.stringify({ cniVersion: c.cniVersion, interfaces: [], ips: [] }));\nprocess.exit(0);\n');
  const built = Bun.spawnSync([process.execPath, "build", ...SHIM_BUILD_FLAGS, source, "--outfile", join(binDir, FLOOR_PLUGIN_TYPE)]);
  if (built.exitCode !== 0) throw new Error(`building the floor plugin: ${built.stderr.toString()}`);
  return binDir;
}
