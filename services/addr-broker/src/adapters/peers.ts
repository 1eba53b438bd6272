/** The peers over their Unix sockets, through the typed client built from the shared contracts. */
import { getCapacity } from "../../../../shared/contracts/capacity.ts";
import { checkPod, listPodLinks, unwirePod, wirePod } from "../../../../shared/contracts/netconfig.ts";
import { postUsage } from "../../../../shared/contracts/usage.ts";
import { UnixClient } from "../../../../shared/ipc/client.ts";
import { ServiceError } from "../../../../shared/ipc/errors.ts";
import type { NetConfigPort, PolicyAgentPort, PoolManagerPort } from "../core/ports.ts";
import { deletePod, enforcePod } from "../../../../shared/contracts/policy.ts";
import type { KernelScan } from "./kernel-scan.ts";
import { checkEgress, unwireEgress, wireEgress } from "../../../../shared/contracts/egress.ts";
import type { EgressNetPort } from "../app/egress-cni.ts";
import { checkBranch, unwireBranch, wireBranch } from "../../../../shared/contracts/branch.ts";
import type { BranchNetPort } from "../app/branch-pods.ts";

/** net-config's branch-ENI pod routes (security groups for pods). */
export function branchNetClient(socket: string, timeoutMs = 15_000): BranchNetPort {
  const client = new UnixClient(socket, { timeoutMs });
  return {
    wire: (w) => client.call(wireBranch, w),
    unwire: (w) => client.call(unwireBranch, w),
    check: (w) => client.call(checkBranch, w),
  };
}

/** net-config's egress routes (egress-cni). */
export function egressNetClient(socket: string, timeoutMs = 20_000): EgressNetPort {
  const client = new UnixClient(socket, { timeoutMs });
  return {
    wire: (w) => client.call(wireEgress, w),
    unwire: (w) => client.call(unwireEgress, w),
    check: (w) => client.call(checkEgress, w),
  };
}

export function netConfigClient(socket: string, fallback: { kernel: KernelScan; vethPrefix: string }, timeoutMs = 15_000): NetConfigPort {
  const client = new UnixClient(socket, { timeoutMs });
  return {
    callTimeoutMs: timeoutMs,
    wire: (p) => client.call(wirePod, p),
    unwire: async (p) => {
      await client.call(unwirePod, p);
    },
    check: (p) => client.call(checkPod, p),
    async hostVeths() {
      try {
        return new Set((await client.call(listPodLinks, {})).hostVeths);
      } catch (err) {
        if (!(err instanceof ServiceError && err.status === 404)) return undefined;
      }
      // This net-config does not list links: read them here (same namespace as net-config's host side).
      try {
        return new Set((await fallback.kernel.scan(fallback.vethPrefix)).hostVeths);
      } catch {
        return undefined;
      }
    },
  };
}

export function poolManagerClient(socket: string): PoolManagerPort {
  const client = new UnixClient(socket, { timeoutMs: 5_000 });
  return {
    getCapacity: (since, epoch, waitMs) => client.call(getCapacity, { since, epoch, waitMs }, { timeoutMs: waitMs + 5_000 }),
    postUsage: async (u) => {
      await client.call(postUsage, u);
    },
  };
}

/** The policy agent: upstream dials for 2 s and then waits without a deadline; 10 s bounds a stuck agent. */
export function policyAgentClient(socket: string, timeoutMs = 10_000): PolicyAgentPort {
  const client = new UnixClient(socket, { timeoutMs });
  return {
    socketPath: socket,
    enforce: (req) => client.call(enforcePod, { ...req, interfaceCount: 1 }),
    forget: (req) => client.call(deletePod, req),
  };
}
