/**
 * Network policy on a branch-ENI pod (security groups for pods), end to end on a local
 * deployment (processes mode, two m5.large nodes, `up --pod-eni strict --network-policy
 * strict`). A SecurityGroupPolicy gives `app=db` a branch ENI whose group lets TCP 8080 and
 * 9090 in and out within the VPC; `app=client` pods take node ENI addresses. Every pod starts
 * denied both ways (strict). NetworkPolicies then open the clients both ways and let the db
 * pod be reached from the clients on one port: the probes, from inside the pods, follow the
 * policy as it changes, and the agent's table holds chains for the db pod's `vlan…` host veth.
 * Before addr-broker told the agent of branch pods, the db pod stayed denied whatever its
 * policies said.
 */
import { expect } from "bun:test";
import { hostVethName } from "../../shared/naming.ts";
import { runCommand } from "../../deploy/local/vpc/command.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { apply } from "./kubelet/kube.ts";
import { sgp, usingSgDeployment } from "./sg-pods-harness.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl", "nft");
const VPC = "10.0.0.0/16";
const tcp = (port: number) => ({ protocol: "tcp" as const, fromPort: port, toPort: port, peer: { cidr: VPC } });
const policy = (name: string, spec: Record<string, unknown>) => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name, namespace: "default" }, spec });
const clientsOpen = policy("clients-open", { podSelector: { matchLabels: { app: "client" } }, policyTypes: ["Ingress", "Egress"], ingress: [{}], egress: [{}] });
const dbFromClients = (port: number) =>
  policy("db-from-clients", { podSelector: { matchLabels: { app: "db" } }, policyTypes: ["Ingress", "Egress"], ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }], ports: [{ protocol: "TCP", port }] }], egress: [{}] });

gate.describe("network policy on a branch-ENI pod (security groups for pods strict, network policy strict; root)", () => {
  const d = usingSgDeployment("np", "strict", { networkPolicy: "strict", env: { DISABLE_TCP_EARLY_DEMUX: "true" } });

  gate.test("the db pod's policies are enforced on its vlan host veth: denied at first, reached on the allowed port only, following a change", async () => {
    const group = d.securityGroup("db-np", [tcp(8080), tcp(9090)], [tcp(8080), tcp(9090)]);
    await apply(d.stack(), sgp("db", { app: "db" }, [group]));
    await d.startPods([["db", 0, { app: "db" }], ["client", 0, { app: "client" }], ["far", 1, { app: "client" }]]);
    const branch = await d.branchOf("db");
    expect(d.ctx.ips.get("db")).toBe(branch.privateIp);

    // strict: nothing selects any pod yet, so every pod is denied both ways
    await d.expectReach({ "client→db:8080": false, "far→db:8080": false });

    await apply(d.stack(), clientsOpen);
    await apply(d.stack(), dbFromClients(8080));
    await d.expectReach({ "client→db:8080": true, "far→db:8080": true, "client→db:9090": false }, 20_000);

    // the agent programmed the branch pod on its own host veth (vlan + sha1("default.db"), as net-config names it)
    const vethOfDb = hostVethName("vlan", { namespace: "default", name: "db", containerId: "", ifName: "eth0" });
    const links = (await runCommand(["ip", "-n", d.stack().nodes[0]!.netns, "-o", "link", "show", vethOfDb])).stdout;
    expect(links).toContain(vethOfDb);
    const table = (await runCommand(["ip", "netns", "exec", d.stack().nodes[0]!.netns, "nft", "list", "table", "inet", "aws-cni-np"])).stdout;
    expect(table).toContain(`in-${vethOfDb}`);

    // the policy moves to the other port: 8080 is cut, 9090 opens
    await apply(d.stack(), dbFromClients(9090));
    await d.expectReach({ "client→db:8080": false, "client→db:9090": true, "far→db:9090": true }, 20_000);
  }, 240_000);

});
