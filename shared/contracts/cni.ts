/** cni-shim → addr-broker: one CNI invocation, forwarded verbatim. */
import { int, z } from "../zod.ts";
import { route } from "../ipc/contract.ts";

export const cniInvocation = z.object({
  /** The CNI_* variables (and PATH) as the runtime set them. */
  env: z.record(z.string(), z.string()),
  /** stdin exactly as received. */
  stdin: z.string().check(z.maxLength(4 * 1024 * 1024)),
  /** The shim's pid: the CNI_NETNS path is resolved in this process's mount namespace when it is not visible in net-config's. */
  callerPid: z.optional(int().check(z.positive())),
  /**
   * The shim's view of CNI_NETNS (ADD): whether the path exists in the runtime's mount
   * namespace. addr-broker (in its own container) may not see the runtime's netns files at all.
   */
  netnsExists: z.optional(z.boolean()),
  /** The shim's own moments, wall-clock milliseconds: its first line of code, and the request sent (for /debug/cni-timings). */
  timing: z.optional(z.object({ startedAt: z.number().check(z.positive()), sentAt: z.number().check(z.positive()) })),
});

export const cniOutcome = z.object({
  exitCode: int().check(z.minimum(0), z.maximum(255)),
  stdout: z.string(),
  stderr: z._default(z.string(), ""),
  /** True when addr-broker wrote (or, at this level, skipped) the call's plugin log line; otherwise the shim writes it. */
  pluginLogged: z.optional(z.boolean()),
});
export type CniOutcome = z.infer<typeof cniOutcome>;

export const runCni = route("POST", "/v1/cni", cniInvocation, cniOutcome);
