/** Reads rules, routes and links of the node namespace with `ip -j` (argv only, no shell). */
import { podsFromKernel, type KernelPod } from "../core/kernel-pods.ts";

export interface KernelScan {
  scan(vethPrefix: string): Promise<{ pods: KernelPod[]; hostVeths: string[] }>;
}

const NETNS_NAME = /^[A-Za-z0-9_.\-]{1,64}$/;

async function ipJson(netns: string | undefined, args: string[]): Promise<unknown> {
  const argv = ["ip", ...(netns ? ["-n", netns] : []), "-j", ...args];
  // NLM_F_DUMP_INTR under concurrent changes: retry a few times.
  for (let attempt = 0; ; attempt++) {
    const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code === 0) return out.trim() === "" ? [] : JSON.parse(out);
    if (attempt >= 2) throw new Error(`${argv.join(" ")} failed (${code}): ${err.trim()}`);
  }
}

/** `netns` names a namespace for `ip -n` (tests); undefined = the process's own namespace. */
export function ipKernelScan(netns?: string): KernelScan {
  if (netns !== undefined && !NETNS_NAME.test(netns)) throw new Error(`netns: "${netns}" is not a namespace name`);
  return {
    async scan(vethPrefix) {
      const [rules4, rules6, routes4, routes6, links] = await Promise.all([
        ipJson(netns, ["-4", "rule", "show"]),
        ipJson(netns, ["-6", "rule", "show"]),
        ipJson(netns, ["-4", "route", "show", "table", "main"]),
        ipJson(netns, ["-6", "route", "show", "table", "main"]),
        ipJson(netns, ["link", "show", "type", "veth"]),
      ]);
      const all = (a: unknown, b: unknown) => [...(Array.isArray(a) ? a : []), ...(Array.isArray(b) ? b : [])];
      return podsFromKernel({ rules: all(rules4, rules6), routes: all(routes4, routes6), links }, vethPrefix);
    },
  };
}
