import { describe, expect, test } from "bun:test";
import { subnetExcluded, subnetTakesNewEnis } from "./subnet-discovery.ts";

const ROLE = "kubernetes.io/role/cni";
const mine = "cni.networking.k8s.aws/cluster/demo";
const theirs = "cni.networking.k8s.aws/cluster/other";

describe("subnet tags (upstream v1.23 rules)", () => {
  // [what, tags, primary subnet?, CLUSTER_NAME, takes new ENIs, excluded]
  const rows: [string, Record<string, string>, boolean, string | undefined, boolean, boolean][] = [
    ["untagged primary: used (backwards compatibility)", {}, true, undefined, true, false],
    ["untagged secondary: not used, not excluded either", {}, false, undefined, false, false],
    ["role=1 secondary", { [ROLE]: "1" }, false, undefined, true, false],
    // Any non-empty value but "0" opts in, not only "1".
    ["role=true secondary", { [ROLE]: "true" }, false, undefined, true, false],
    ["role=shared secondary", { [ROLE]: "shared" }, false, undefined, true, false],
    // "0" excludes, the node's own subnet included: its ENI gives no address to pods.
    ["role=0 primary: refused and excluded", { [ROLE]: "0" }, true, undefined, false, true],
    ["role=0 secondary", { [ROLE]: "0" }, false, undefined, false, true],
    // An empty value is the same as no tag (upstream reads "" for both).
    ["role='' secondary", { [ROLE]: "" }, false, undefined, false, false],
    ["role=1 with this cluster's tag", { [ROLE]: "1", [mine]: "1" }, false, "demo", true, false],
    ["role=1 with another cluster's tag only: not ours", { [ROLE]: "1", [theirs]: "1" }, false, "demo", false, true],
    ["role=1 tagged for both clusters", { [ROLE]: "1", [theirs]: "1", [mine]: "x" }, false, "demo", true, false],
    // Without CLUSTER_NAME upstream skips the cluster check.
    ["role=1, another cluster's tag, no CLUSTER_NAME", { [ROLE]: "1", [theirs]: "1" }, false, undefined, true, false],
    // Cluster tags matter only on subnets that carry the role tag.
    ["untagged primary with another cluster's tag", { [theirs]: "1" }, true, "demo", true, false],
  ];
  for (const [what, tags, primary, cluster, takes, excluded] of rows) {
    test(what, () => {
      expect(subnetTakesNewEnis(tags, primary, cluster)).toBe(takes);
      expect(subnetExcluded(tags, cluster)).toBe(excluded);
    });
  }
});
