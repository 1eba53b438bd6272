/**
 * What every service's main.ts does first: take the pod's shared settings (the DaemonSet),
 * load the configuration (exiting non-zero, naming every offending variable, before anything
 * else happens), create the logger and resolve the socket group.
 */
import { readFileSync } from "node:fs";
import { loadConfigOrExit, type Config } from "./config/index.ts";
import { podSettingsEnv } from "./config/pod-settings.ts";
import { createLogger, type Logger } from "./log.ts";
import type { ServiceName } from "./sockets.ts";

export interface Bootstrapped {
  config: Config;
  log: Logger;
  /** gid for 0660 sockets, or undefined for 0600. */
  socketGid: number | undefined;
}

/** A numeric gid, or the gid of a group name looked up in /etc/group. */
export function resolveGroup(group: number | string | undefined, groupFile = "/etc/group"): number | undefined {
  if (group === undefined) return undefined;
  if (typeof group === "number") return group;
  for (const line of readFileSync(groupFile, "utf8").split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined) return Number(gid);
  }
  throw new Error(`AWS_VPC_CNI_SOCKET_GROUP: no group named ${group} in ${groupFile}`);
}

export function bootstrap(service: ServiceName, processEnv: Record<string, string | undefined> = process.env): Bootstrapped {
  // In the DaemonSet, settings are written once on the aws-node container (config/pod-settings.ts).
  let env: Record<string, string | undefined>;
  try {
    env = podSettingsEnv(processEnv);
  } catch (err) {
    process.stderr.write(`invalid configuration: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const { config, warnings } = loadConfigOrExit(env);
  const log = createLogger(config, { service, kind: "service" });
  for (const w of warnings) log.warn(w);
  let socketGid: number | undefined;
  try {
    socketGid = resolveGroup(config.socketGroup);
  } catch (err) {
    process.stderr.write(`invalid configuration: ${(err as Error).message}\n`);
    process.exit(1);
  }
  return { config, log, socketGid };
}
