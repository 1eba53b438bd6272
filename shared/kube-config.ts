/**
 * client-node's KubeConfig for a service's Kubernetes settings: KUBECONFIG when set, else the
 * in-cluster service account when an API server is known (CLUSTER_ENDPOINT or
 * KUBERNETES_SERVICE_HOST/PORT); else none. Importing this module loads all of
 * @kubernetes/client-node (≈ 10 MiB private): it is imported dynamically, by addr-broker's pod
 * annotator and by shared/kube-rest.ts for exec / auth-provider credentials only.
 */
import { KubeConfig } from "@kubernetes/client-node";
import type { Config } from "./config/types.ts";

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export function kubeConfigFrom(k: Config["kubernetes"]): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (k.kubeconfig) {
    kc.loadFromFile(k.kubeconfig);
    // client-node refuses plain http unless skipTLSVerify is set; for an http:// server there is no TLS to verify
    // (kubectl accepts such a kubeconfig as it is, e.g. the local deployment's simulated API).
    const clusters = kc.clusters.map((c) => (c.server.startsWith("http://") ? { ...c, skipTLSVerify: true } : c));
    kc.loadFromOptions({ clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
    return kc;
  }
  if (!k.apiServer) return undefined;
  kc.loadFromClusterAndUser(
    // An http:// endpoint (CLUSTER_ENDPOINT) has no TLS to verify, as for a kubeconfig's http:// server.
    k.apiServer.startsWith("http://") ? { name: "inCluster", server: k.apiServer, skipTLSVerify: true } : { name: "inCluster", server: k.apiServer, caFile: `${SA_DIR}/ca.crt`, skipTLSVerify: false },
    { name: "inClusterUser", authProvider: { name: "tokenFile", config: { tokenFile: `${SA_DIR}/token` } } },
  );
  return kc;
}
