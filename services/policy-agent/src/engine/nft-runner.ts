/**
 * Runs `nft` with argv arrays (never a shell), scripts on stdin (`nft -f -`, one
 * transaction: all or nothing). In a named network namespace it goes through
 * `nsenter --net=/run/netns/<name>`, as net-config and the local deployment's nodes do.
 */
import { ServiceError } from "../../../../shared/ipc/errors.ts";

const NETNS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface NftResult {
  code: number;
  out: string;
  err: string;
}

export interface NftRunner {
  run(args: string[], script?: string): Promise<NftResult>;
}

export function nftRunner(netns?: string): NftRunner {
  if (netns !== undefined && !NETNS_NAME.test(netns)) throw new ServiceError("POLICY_ENGINE_CONFIG", `netns: ${JSON.stringify(netns)} is not a network namespace name`, 400, "netns");
  const prefix = netns === undefined ? [] : ["nsenter", `--net=/run/netns/${netns}`];
  return {
    async run(args, script) {
      const p = Bun.spawn([...prefix, "nft", ...args], { stdin: script === undefined ? "ignore" : new Blob([script]), stdout: "pipe", stderr: "pipe", env: { PATH } });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { code, out, err };
    },
  };
}

export const nftFailed = (what: string, r: NftResult) => new ServiceError("NFT_FAILED", `${what} exited ${r.code}: ${r.err.trim().slice(0, 2000)}`, 500);
