/**
 * addr-broker as main.ts runs it, with ENABLE_POD_ENI on through the typed configuration:
 * the variable itself is still refused at start-up until security groups for pods work end
 * to end, so real-namespace tests (tests/cni/branch-eni.root.test.ts) start this instead.
 */
import { bootstrap } from "../../../shared/bootstrap.ts";
import { runAddrBroker } from "../run.ts";

const boot = bootstrap("addr-broker");
boot.config.eni.podEni = true;
await runAddrBroker(boot);
