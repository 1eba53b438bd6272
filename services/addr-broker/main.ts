/**
 * addr-broker: owns pod → address assignments. Serves the CNI contract for the shim on
 * <run dir>/addr-broker.sock, long-polls capacity from pool-manager, wires pods through
 * net-config, keeps the upstream-compatible checkpoint, and installs the node's
 * 10-aws.conflist once it can serve ADDs. Configuration comes only from shared/config.
 */
import { bootstrap } from "../../shared/bootstrap.ts";
import { runAddrBroker } from "./run.ts";

await runAddrBroker(bootstrap("addr-broker"));
