// Reaching the Kubernetes API, and what is written to it.
import { boolField, envField, intField, INVALID, isDnsSubdomain, urlField } from "../fields.ts";
import { combinedVariable, variable } from "../declaration.ts";
import type { Config } from "../types.ts";

/** The in-cluster API server URL, when it came from KUBERNETES_SERVICE_HOST/PORT rather than CLUSTER_ENDPOINT. */
function inClusterUrl(c: Config): URL | undefined {
  const { apiServer, clusterEndpoint } = c.kubernetes;
  return apiServer !== undefined && apiServer !== clusterEndpoint ? new URL(apiServer) : undefined;
}

export const KUBERNETES_VARIABLES = {
  KUBECONFIG: variable(
    envField<string | undefined>({
      accepted: "a path to a kubeconfig file",
      default: undefined,
      defaultText: "",
      source: "standard",
      parse: (v) => (!/[\u0000-\u001f]/.test(v) ? v : INVALID),
    }),
    { about: "A kubeconfig to use instead of the in-cluster settings.", sets: "kubernetes.kubeconfig" },
  ),
  CLUSTER_ENDPOINT: variable(urlField(), {
    about: "The API server's URL, used instead of the in-cluster service address (no kube-proxy needed).",
    sets: "kubernetes.clusterEndpoint",
  }),
  KUBERNETES_SERVICE_HOST: combinedVariable(
    envField<string | undefined>({
      accepted: "a host name or IP address",
      default: undefined,
      defaultText: "(set by Kubernetes)",
      source: "standard",
      parse: (v) => (/^[A-Za-z0-9.:-]+$/.test(v) && v.length <= 253 ? v : INVALID),
    }),
    {
      about: "The in-cluster API server's address (set by Kubernetes in every pod).",
      sets: "kubernetes.apiServer",
      show: (c) => inClusterUrl(c)?.hostname.replace(/^\[|\]$/g, "") ?? "",
    },
  ),
  KUBERNETES_SERVICE_PORT: combinedVariable(intField({ default: 443, min: 1, max: 65535, source: "standard" }), {
    about: "The in-cluster API server's port (set by Kubernetes in every pod).",
    sets: "kubernetes.apiServer",
    show: (c) => {
      const url = inClusterUrl(c);
      return url ? url.port || "443" : "";
    },
  }),
  MY_NODE_NAME: variable(
    envField<string | undefined>({
      accepted: "a Kubernetes node name (DNS subdomain, lower case)",
      default: undefined,
      defaultText: "",
      source: "upstream-code",
      parse: (v) => (isDnsSubdomain(v) ? v : INVALID),
    }),
    { about: "This node's name (the DaemonSet sets it from spec.nodeName).", sets: "kubernetes.nodeName" },
  ),
  ANNOTATE_POD_IP: variable(boolField(false), {
    about: "Annotate each pod with its address (vpc.amazonaws.com/pod-ips) as soon as it has one; set it to \"\" when the pod's address is released.",
    sets: "kubernetes.annotatePodIp",
  }),
};
