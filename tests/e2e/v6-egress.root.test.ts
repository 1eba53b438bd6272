// IPv4 nodes with IPv6 egress end to end (`up --v6-egress`, 2 nodes, processes mode): the
// IPv4 demo's steps up to the outside, then the step `npm start -- --v6-egress` adds: IPv4
// pods reach the IPv6 outside through egress-cni's v6if0, seen as their node's primary IPv6.
// Assumes: m5.large nodes in one subnet of a dual-stack VPC (10.0.0.0/16 +
// 2001:db8:1000::/56); each instance has a primary IPv6; the nodes run IPv4 (secondary
// addresses) with ENABLE_V6_EGRESS=true.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { podAddresses, crossNodePing, snatToOutside } from "../../deploy/local/demo/steps.ts";
import { v6EgressIpv4 } from "../../deploy/local/demo/steps-v6-egress.ts";
import { DEMO_ENV, DEMO_STEPS_V6_EGRESS } from "../../deploy/local/demo/run.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { demoDeployment, demoStepTests } from "./demo-deployment.ts";

requires(...LOCAL_DEPLOYMENT).describe("IPv6 egress of IPv4 pods end to end (root)", () => {
  const d = demoDeployment("e2e-v6egress", { nodes: 2, v6Egress: true, env: DEMO_ENV }, { burst: 0, growWaitMs: 0, shrinkWaitMs: 0, env: DEMO_ENV });
  // The pool steps are the IPv4 deployment's (tests/e2e/deployment.root.test.ts); not repeated here.
  demoStepTests(d, [podAddresses, crossNodePing, snatToOutside, v6EgressIpv4], 60_000);

  test("`npm start -- --v6-egress` runs this step right after the IPv4 outside", () => {
    const at = DEMO_STEPS_V6_EGRESS.indexOf(v6EgressIpv4);
    expect(DEMO_STEPS_V6_EGRESS[at - 1]).toBe(snatToOutside);
  });

  test("the nodes stay IPv4: IPv4 pod addresses, egress-cni chained in the conflist, the IPv4 max-pods (29 for m5.large)", async () => {
    expect(d.dep.stack.ipv6).toBeUndefined();
    expect(d.dep.stack.v6Egress).toBe(true);
    for (const [i, node] of d.dep.stack.nodes.entries()) {
      expect(node.primaryIpv6).toMatch(/^2001:db8:1000:/);
      const conflist = JSON.parse(readFileSync(node.conflist!, "utf8")) as { plugins: Array<{ type: string; enabled?: string }> };
      expect(conflist.plugins.map((p) => p.type)).toContain("egress-cni");
      const k8sNode = d.dep.cloud.faults.kube.store.get("nodes", undefined, node.name) as { status?: { capacity?: { pods?: string } } } | undefined;
      expect(k8sNode?.status?.capacity?.pods).toBe("29");
      const pod = [d.ctx.a!, d.ctx.b!].find((p) => p.nodeIndex === i)!;
      expect(pod.address).toMatch(/^10\.0\./);
    }
  }, 30_000);
});
