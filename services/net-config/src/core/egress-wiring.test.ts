import { describe, expect, test } from "bun:test";
import { blockRuleRestore, egressLayout, nodeBatch, podBatch, snatProblems, snatRemoval, snatRestore } from "./egress-wiring.ts";

const l4 = egressLayout({ network: "aws-cni", containerId: "abc", address: "169.254.172.9", nodeIp: "10.0.0.5" });
const C = '-m comment --comment "name: \\"aws-cni\\" id: \\"abc\\""';

describe("egress plan", () => {
  test("IPv4: the pod's batch replaces the subnet route by the gateway's, the node's carries the gateway address", () => {
    expect(podBatch(l4, "veth0a0b0c0d", 1500, "/proc/1/ns/net")).toEqual([
      "link add v4if0 mtu 1500 type veth peer name veth0a0b0c0d mtu 1500 netns /proc/1/ns/net",
      "link set v4if0 up",
      "addr add 169.254.172.9/22 dev v4if0",
      "route replace 0.0.0.0/0 via 169.254.172.1 dev v4if0",
      "route del 169.254.172.0/22 dev v4if0",
      "route add 169.254.172.1/32 dev v4if0 scope link src 169.254.172.9",
      "route add 169.254.172.0/22 via 169.254.172.1 dev v4if0 src 169.254.172.9",
    ]);
    expect(nodeBatch(l4, "veth0a0b0c0d")).toEqual(["link set veth0a0b0c0d up", "addr add 169.254.172.1/32 dev veth0a0b0c0d scope link", "route add 169.254.172.9/32 dev veth0a0b0c0d scope link"]);
  });

  test("names reaching a command line are checked", () => {
    expect(() => podBatch(l4, "veth; rm", 1500, "/proc/1/ns/net")).toThrow(/hostVeth/);
    expect(() => podBatch(l4, "veth0a0b0c0d", 1500, "/tmp/x")).toThrow(/nodeNetns/);
    expect(() => egressLayout({ network: "a b", containerId: "abc", address: "169.254.172.9" })).toThrow(/network/);
    expect(() => egressLayout({ network: "aws-cni", containerId: "abc", address: "fd00::ac:5", nodeIp: "10.0.0.5" })).toThrow(/nodeIp/);
  });

  test("SNAT: chain written whole, one jump; a stale jump replaced; removal; CHECK of a save", () => {
    const fresh = snatRestore(l4, "*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n", "prng", true);
    const jump = `-A POSTROUTING -s 169.254.172.9/32 ${C} -j ${l4.chain}`;
    expect(fresh.split("\n")).toEqual(["*nat", `:${l4.chain} - [0:0]`, `-A ${l4.chain} -d 224.0.0.0/4 ${C} -j ACCEPT`, `-A ${l4.chain} ${C} -j SNAT --to-source 10.0.0.5 --random-fully`, jump, "COMMIT", ""]);
    const stale = `-A POSTROUTING -s 169.254.172.8/32 ${C} -j ${l4.chain}`;
    const save = `*nat\n:${l4.chain} - [0:0]\n${stale}\nCOMMIT\n`;
    expect(snatRestore(l4, save, "hashrandom", true)).toContain(`-D POSTROUTING -s 169.254.172.8/32`);
    expect(snatRestore(l4, save, "hashrandom", true)).toContain("-j SNAT --to-source 10.0.0.5 --random\n");
    expect(snatRestore(l4, save, "prng", false)).toContain("--random\n"); // no --random-fully in this iptables
    expect(snatRestore(l4, `*nat\n${jump}\nCOMMIT\n`, "none", true).split("\n").filter((x) => x.includes("POSTROUTING"))).toEqual([]);
    expect(snatRemoval(l4.chain, save)).toBe(["*nat", stale.replace("-A ", "-D "), `:${l4.chain} - [0:0]`, `-X ${l4.chain}`, "COMMIT", ""].join("\n"));
    expect(snatRemoval(l4.chain, "*nat\nCOMMIT\n")).toBeUndefined();
    const good = `*nat\n:${l4.chain} - [0:0]\n-A ${l4.chain} -d 224.0.0.0/4 ${C} -j ACCEPT\n-A ${l4.chain} ${C} -j SNAT --to-source 10.0.0.5 --random-fully\n${jump}\nCOMMIT\n`;
    expect(snatProblems(l4, good, "prng", true)).toEqual([]);
    expect(snatProblems(l4, good.replace(jump + "\n", ""), "prng", true)).toEqual([`rule "${jump}" is missing`]);
  });

  test("the FORWARD guard is inserted once", () => {
    expect(blockRuleRestore(l4, "*filter\nCOMMIT\n")).toContain('-I FORWARD 1 -d 169.254.172.0/22 -m conntrack --ctstate NEW -m comment --comment "Block Node Local Pod access via IPv4" -j REJECT');
    const present = '*filter\n-A FORWARD -d 169.254.172.0/22 -m conntrack --ctstate NEW -m comment --comment "Block Node Local Pod access via IPv4" -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n';
    expect(blockRuleRestore(l4, present)).toBe("");
  });
});
