import { expect, test } from "bun:test";
import { chooseBackend } from "./iptables.ts";

const rules = (n: number) => Array.from({ length: n }, (_, i) => `-A INPUT -s 10.0.0.${i}/32 -j ACCEPT`).join("\n");
const hint = ":KUBE-IPTABLES-HINT - [0:0]";
const canary = ":KUBE-KUBELET-CANARY - [0:0]";

test.each([
  // [case, nft mangle, legacy, nft, mode]
  ["nothing anywhere: nft", "", "", "", "nft"],
  ["kubelet's hint under nft wins over more legacy rules", `*mangle\n${hint}\n`, rules(50), "", "nft"],
  ["kubelet's canary under legacy", "", `*mangle\n${canary}\n${rules(1)}`, rules(30), "legacy"],
  ["the hint under both: nft is asked first", `*mangle\n${hint}\n`, `*mangle\n${hint}\n`, "", "nft"],
  ["no hint: more legacy rules", "", rules(5), rules(4), "legacy"],
  ["no hint: a tie is nft", "", rules(4), rules(4), "nft"],
  ["a chain whose name only starts like the hint is no hint", "*mangle\n:KUBE-IPTABLES-HINTS - [0:0]\n", rules(3), "", "legacy"],
] as const)("%s", (_case, nftMangle, legacy, nft, mode) => {
  expect(chooseBackend({ nftMangle, legacy, nft })).toBe(mode);
});
