/**
 * net-config: the only process that changes kernel state. Runs in the node's network
 * namespace (hostNetwork), serves the netconfig contract on <run dir>/net-config.sock,
 * reconciles the kernel on start and every interval.
 */
import { bootstrap } from "../../shared/bootstrap.ts";
import { runNetConfig } from "./run.ts";

await runNetConfig(bootstrap("net-config"));
