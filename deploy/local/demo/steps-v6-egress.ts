/**
 * The demo's step for IPv4 nodes with IPv6 egress (`up --v6-egress`, `npm start -- --v6-egress`):
 * the IPv4 pods also carry egress-cni's v6if0 (an address of fd00::ac:00/118) and reach the
 * IPv6 outside through it, seen from the far end as their node's primary IPv6 address
 * (ENABLE_V6_EGRESS: the node SNATs the pod's egress address to its own, as upstream).
 */
import { contains, parseCidr } from "../../../shared/ip.ts";
import { EGRESS_V6 } from "../../../shared/egress.ts";
import { execIn } from "../vpc/test-support.ts";
import { echoSeenAs, type EchoCheck, type Step } from "./steps.ts";
import { PROTOS } from "./steps-ipv6.ts";

const EGRESS_SUBNET = parseCidr(EGRESS_V6.subnet)!;

export const v6EgressIpv4: Step = {
  name: "IPv4 pods reach the IPv6 outside through egress-cni's v6if0, seen as their node's IPv6 address (SNAT)",
  async run(ctx) {
    const echo6 = ctx.stack.outside.echo6;
    if (!echo6) return { ok: false, reason: "stack.json has no outside.echo6 (not a dual-stack deployment: up --v6-egress)" };
    const checks: EchoCheck[] = [];
    const problems: string[] = [];
    for (const p of [ctx.need(ctx.a, "demo-a"), ctx.need(ctx.b, "demo-b")]) {
      const nodeV6 = p.node.primaryIpv6;
      if (!nodeV6) {
        problems.push(`${p.name}: node ${p.nodeIndex} has no primary IPv6`);
        continue;
      }
      const v6if = await execIn(p.netns, ["ip", "-6", "-o", "addr", "show", "dev", EGRESS_V6.ifName, "scope", "global"]);
      const egress = /inet6 ([0-9a-f:]+)\//.exec(v6if.stdout)?.[1];
      if (!egress || !contains(EGRESS_SUBNET, egress)) {
        problems.push(`${p.name}: no ${EGRESS_V6.subnet} address on ${EGRESS_V6.ifName} (${v6if.stderr.trim() || v6if.stdout.trim() || `no ${EGRESS_V6.ifName}`})`);
        continue;
      }
      for (const proto of PROTOS) checks.push({ pod: p, proto, source: nodeV6, label: `${p.name} ${proto} (${EGRESS_V6.ifName} ${egress})` });
    }
    return echoSeenAs(echo6, checks, problems);
  },
};
