/**
 * egress-cni's pod interface in real namespaces: a "node" namespace (eth0 with an IPv4 and a
 * global IPv6 address), an "outside" namespace behind it that has no route back to the
 * egress ranges, and one namespace per pod. What arrives at the outside tells whether SNAT
 * happened. Needs root.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { egressChainName } from "../../../../shared/egress.ts";
import { Iptables, type IptablesBackend } from "../adapters/iptables.ts";
import { Namespaces, run } from "../../test-support/namespaces.ts";
import { sourceSeenFarEnd } from "../../test-support/far-end.ts";
import { NAMESPACES, requires } from "../../../../tests/support/prerequisites.ts";
import { EgressService } from "./egress-service.ts";

const nss = new Namespaces();
let node: { name: string; path: string };
let outside: { name: string; path: string };
let egress: EgressService;
let backend: IptablesBackend;

function natSave(family: 4 | 6): string {
  return run(["ip", "netns", "exec", node.name, `${family === 4 ? "iptables" : "ip6tables"}-${backend}-save`, "-t", "nat"]).out;
}

function blockRules(family: 4 | 6): string[] {
  const save = run(["ip", "netns", "exec", node.name, `${family === 4 ? "iptables" : "ip6tables"}-${backend}-save`, "-t", "filter"]).out;
  return save.split("\n").filter((x) => x.includes(`Block Node Local Pod access via IPv${family}`));
}

requires(...NAMESPACES, "iptables", "nsenter").describe("egress interface (root, real namespaces)", () => {
  beforeAll(async () => {
    node = nss.add("n");
    outside = nss.add("o");
    nss.ip(node.name, ["link", "add", "eth0", "type", "veth", "peer", "name", "ext0", "netns", outside.name]);
    nss.ip(node.name, ["addr", "add", "10.0.0.5/24", "dev", "eth0"]);
    nss.ip(node.name, ["addr", "add", "2001:db8::5/64", "dev", "eth0", "nodad"]);
    nss.ip(node.name, ["link", "set", "eth0", "up"]);
    nss.ip(outside.name, ["addr", "add", "10.0.0.9/24", "dev", "ext0"]);
    nss.ip(outside.name, ["addr", "add", "2001:db8::9/64", "dev", "ext0", "nodad"]);
    nss.ip(outside.name, ["link", "set", "ext0", "up"]);
    // The node forwards IPv6 (an IPv4 node with IPv6 egress is set so); IPv4 forwarding is the plugin's.
    nss.exec(node.name, ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    backend = "nft";
    egress = new EgressService({ path: node.path }, new Iptables({ path: node.path }, backend), true);
  });
  afterAll(() => nss.cleanup());

  const base = { network: "aws-cni", ifName: "eth0", mtu: 1480, randomizeSnat: "prng" as const };

  test("IPv4 egress: v4if0 with its address and routes, host veth with the gateway, SNAT to the node's IPv4 address; CHECK; DEL removes all", async () => {
    const pod = nss.add("p");
    const req = { ...base, containerId: `c${nss.tag}v4`, netns: pod.path, address: "169.254.172.7", nodeIp: "10.0.0.5" };
    const w = await egress.wire(req);
    expect(w.podIf).toBe("v4if0");
    expect(w.hostVeth).toMatch(/^veth[0-9a-f]{8}$/);
    expect(nss.ip(pod.name, ["-4", "-o", "addr", "show", "dev", "v4if0"])).toContain("inet 169.254.172.7/22");
    const routes = nss.ip(pod.name, ["-4", "route"]);
    expect(routes).toContain("default via 169.254.172.1 dev v4if0");
    expect(routes).toContain("169.254.172.0/22 via 169.254.172.1 dev v4if0 src 169.254.172.7");
    expect(routes).toContain("169.254.172.1 dev v4if0 scope link src 169.254.172.7");
    expect(routes).not.toContain("169.254.172.0/22 dev v4if0 proto kernel");
    expect(nss.ip(pod.name, ["link", "show", "v4if0"])).toContain("mtu 1480");
    expect(nss.ip(node.name, ["-4", "-o", "addr", "show", "dev", w.hostVeth])).toContain("inet 169.254.172.1/32 scope link");
    expect(nss.ip(node.name, ["-4", "route"])).toContain(`169.254.172.7 dev ${w.hostVeth} scope link`);
    const chain = egressChainName("aws-cni", req.containerId, 4);
    const comment = `"name: \\"aws-cni\\" id: \\"${req.containerId}\\""`;
    const save = natSave(4);
    expect(save).toContain(`-A POSTROUTING -s 169.254.172.7/32 -m comment --comment ${comment} -j ${chain}`);
    expect(save).toContain(`-A ${chain} -d 224.0.0.0/4 -m comment --comment ${comment} -j ACCEPT`);
    expect(save).toContain(`-A ${chain} -m comment --comment ${comment} -j SNAT --to-source 10.0.0.5 --random-fully`);

    // Upstream's guard: no new connection may be forwarded to the egress range.
    const filter = run(["ip", "netns", "exec", node.name, `iptables-${backend}-save`, "-t", "filter"]).out;
    expect(filter.split("\n").filter((x) => x.includes("Block Node Local Pod access via IPv4"))).toEqual([
      '-A FORWARD -d 169.254.172.0/22 -m conntrack --ctstate NEW -m comment --comment "Block Node Local Pod access via IPv4" -j REJECT --reject-with icmp-port-unreachable',
    ]);
    // The outside has no route to 169.254.172.0/22: it sees the node's address, or nothing.
    expect(await sourceSeenFarEnd(nss, outside.name, "10.0.0.9", pod.name)).toBe("10.0.0.5");
    expect(await egress.check({ ...req, hostVeth: w.hostVeth })).toEqual({ ok: true, problems: [] });

    // A second ADD of the same pod (a retry) leaves one pair and one jump.
    const again = await egress.wire(req);
    expect(natSave(4).split("\n").filter((l) => l.includes(`-j ${chain}`))).toHaveLength(1);
    expect(blockRules(4)).toHaveLength(1);
    expect(natSave(4).split("\n").filter((l) => l.startsWith(`-A ${chain} `))).toHaveLength(2);
    expect(await egress.check({ ...req, hostVeth: again.hostVeth })).toEqual({ ok: true, problems: [] });
    expect(nss.ip(node.name, ["-o", "link"])).not.toContain(w.hostVeth);

    nss.ip(pod.name, ["route", "del", "169.254.172.0/22", "via", "169.254.172.1"]);
    const broken = await egress.check({ ...req, hostVeth: again.hostVeth });
    expect(broken.ok).toBe(false);
    expect(broken.problems.join("; ")).toContain("169.254.172.0/22 via 169.254.172.1");

    const r = await egress.unwire({ ...req, hostVeth: again.hostVeth });
    expect(r.removed).toContain(`nat chain ${chain}`);
    expect(nss.ip(pod.name, ["-o", "link"])).not.toContain("v4if0");
    expect(nss.ip(node.name, ["-o", "link"])).not.toContain(again.hostVeth);
    expect(nss.ip(node.name, ["-4", "route"])).not.toContain("169.254.172.7");
    expect(natSave(4)).not.toContain(chain);
    // DEL again, and DEL without a netns: nothing left, still a success.
    expect((await egress.unwire({ ...req, hostVeth: again.hostVeth })).removed).toEqual([]);
    expect((await egress.unwire({ ...req, netns: "" })).removed).toEqual([]);
  }, 30_000);

  test("IPv6 egress: IPv6 off on eth0, v6if0 routed via the host veth's link-local, SNAT to the node's IPv6 address", async () => {
    const pod = nss.add("p");
    nss.ip(pod.name, ["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
    const req = { ...base, containerId: `c${nss.tag}v6`, netns: pod.path, address: "fd00::ac:3", nodeIp: "2001:db8::5", randomizeSnat: "none" as const };
    const w = await egress.wire(req);
    expect(w.podIf).toBe("v6if0");
    expect(nss.exec(pod.name, ["sysctl", "-n", "net.ipv6.conf.eth0.disable_ipv6"]).out.trim()).toBe("1");
    expect(nss.ip(pod.name, ["-6", "-o", "addr", "show", "dev", "v6if0"])).toContain("inet6 fd00::ac:3/118");
    const ll = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(nss.ip(node.name, ["-6", "-o", "addr", "show", "dev", w.hostVeth]))?.[1];
    expect(ll).toBeDefined();
    expect(nss.ip(pod.name, ["-6", "route"])).toContain(`default via ${ll} dev v6if0`);
    expect(nss.ip(node.name, ["-6", "route"])).toContain(`fd00::ac:3 dev ${w.hostVeth}`);
    const chain = egressChainName("aws-cni", req.containerId, 6);
    expect(natSave(6)).toContain(`-A ${chain} -m comment --comment "name: \\"aws-cni\\" id: \\"${req.containerId}\\"" -j SNAT --to-source 2001:db8::5\n`);
    expect(blockRules(6)).toEqual(['-A FORWARD -d fd00::ac:0/118 -m conntrack --ctstate NEW -m comment --comment "Block Node Local Pod access via IPv6" -j REJECT --reject-with icmp6-port-unreachable']);
    expect(await sourceSeenFarEnd(nss, outside.name, "2001:db8::9", pod.name)).toBe("2001:db8::5");
    expect(await egress.check({ ...req, hostVeth: w.hostVeth })).toEqual({ ok: true, problems: [] });
    await egress.unwire({ ...req, hostVeth: w.hostVeth });
    expect(nss.ip(node.name, ["-6", "route"])).not.toContain("fd00::ac:3");
    expect(natSave(6)).not.toContain(chain);
  }, 30_000);

  test("bad input is refused naming the field, and nothing is made", async () => {
    const pod = nss.add("p");
    const req = { ...base, containerId: `c${nss.tag}bad`, netns: pod.path, address: "10.0.0.77", nodeIp: "10.0.0.5" };
    await expect(egress.wire(req)).rejects.toThrow(/address: 10.0.0.77 is not in the egress range 169.254.172.0\/22/);
    await expect(egress.wire({ ...req, address: "169.254.172.9", nodeIp: "2001:db8::5" })).rejects.toThrow(/nodeIp/);
    expect(nss.ip(pod.name, ["-o", "link"])).not.toContain("v4if0");
    expect(natSave(4)).not.toContain(egressChainName("aws-cni", req.containerId, 4));
  });
});
