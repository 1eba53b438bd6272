// Every variable the project reads, each declared once; the order is the README table's.
import { AWS_VARIABLES } from "./aws.ts";
import { CNI_VARIABLES } from "./cni.ts";
import { DAEMON_VARIABLES } from "./daemon.ts";
import { KUBERNETES_VARIABLES } from "./kubernetes.ts";
import { NETWORK_VARIABLES } from "./network.ts";
import { POOL_VARIABLES } from "./pool.ts";

export const VARIABLES = {
  ...POOL_VARIABLES,
  ...AWS_VARIABLES,
  ...NETWORK_VARIABLES,
  ...CNI_VARIABLES,
  ...KUBERNETES_VARIABLES,
  ...DAEMON_VARIABLES,
};
