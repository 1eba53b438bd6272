// The read-back parsed item by item: the same table as a whole parse, pods alike sharing a decoded direction, bad text refused.
import { describe, expect, test } from "bun:test";
import { decodeTable, forEachItem, TableDecoder } from "./decode.ts";
import { podDigest } from "./model.ts";

const T = { family: "inet", table: "aws-cni-np" };
const addr = (field: "saddr" | "daddr", v: unknown, op = "==") => ({ match: { op, left: { payload: { protocol: "ip", field } }, right: v } });
const tcp = (port: number) => ({ match: { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: port } });
const rule = (chain: string, expr: unknown[], extra: object = {}) => ({ rule: { ...T, chain, handle: 1, expr, ...extra } });

function listing(peers: string[], veths: string[], opts: { splitChain?: string } = {}): any {
  const items: any[] = [{ metainfo: { version: "1.0.6", json_schema_version: 1 } }, { table: { family: "inet", name: T.table } }];
  for (const v of veths) for (const c of [`eg-${v}`, `in-${v}`, `id-${v}`]) items.push({ chain: { ...T, name: c } });
  items.push({ map: { ...T, name: "egress-pods", elem: veths.map((v) => [v, { jump: { target: `eg-${v}` } }]) } });
  const rules: any[] = [];
  veths.forEach((v, i) => {
    rules.push(rule(`eg-${v}`, [addr("daddr", { set: [{ prefix: { addr: "172.16.0.0", len: 24 } }] }), tcp(443), { accept: null }]), rule(`eg-${v}`, [{ drop: null }]));
    rules.push(rule(`in-${v}`, [addr("saddr", { set: peers }), tcp(8080), { counter: { packets: 0, bytes: 0 } }, { accept: null }]), rule(`in-${v}`, [{ drop: null }]));
    rules.push(rule(`id-${v}`, [], { comment: `v1 ns=bench name=pod-${i} addr=10.1.0.${i + 2}` }));
  });
  if (opts.splitChain) {
    // one chain's rules in two runs, another chain's between them
    const at = rules.findIndex((r) => r.rule.chain === opts.splitChain);
    const [first] = rules.splice(at, 1);
    rules.push(first);
  }
  return { nftables: [...items, ...rules] };
}

function streamed(text: string) {
  const d = new TableDecoder();
  forEachItem(text, (item) => d.add(item));
  return d.finish();
}

describe("read-back item by item", () => {
  const peers = Array.from({ length: 50 }, (_, k) => `10.200.${k}.7`);
  const veths = ["eni0a", "eni0b", "eni0c"];

  test("the same pods, dispatch and digests as the whole listing parsed at once", () => {
    const json = listing(peers, veths);
    const text = JSON.stringify(json, null, 1); // whitespace and nesting as nft may print them
    const whole = decodeTable(JSON.parse(text));
    const items = streamed(text);
    expect([...items.pods.keys()]).toEqual(veths);
    expect([...items.pods.values()].map((p) => p.model && podDigest(p.model))).toEqual([...whole.pods.values()].map((p) => p.model && podDigest(p.model)));
    expect(items.pods.get("eni0b")!.model).toMatchObject({ namespace: "bench", name: "pod-1", addresses: ["10.1.0.3"], ingress: { kind: "rules" } });
    expect(items.dispatch.egress.get("eni0c")).toBe("eg-eni0c");
    expect([...items.chains.keys()].sort()).toEqual([...whole.chains.keys()].sort());
  });

  test("pods whose chains say the same share one decoded direction", () => {
    const t = streamed(JSON.stringify(listing(peers, veths)));
    const [a, b] = [t.pods.get("eni0a")!.model!, t.pods.get("eni0c")!.model!];
    expect(a.ingress).toBe(b.ingress);
    expect(a.egress).toBe(b.egress);
  });

  test("a chain whose rules are not listed together is not trusted (rewritten), the other pods are", () => {
    const t = streamed(JSON.stringify(listing(peers, veths, { splitChain: "in-eni0a" })));
    expect(t.pods.get("eni0a")!.problem).toMatch(/in pieces/);
    expect(t.pods.get("eni0b")!.model).toBeDefined();
  });

  test("a hand-edited chain is reported, the others decoded", () => {
    const json = listing(peers, veths);
    const drop = json.nftables.find((i: any) => i.rule?.chain === "eg-eni0b" && i.rule.expr[0].drop === null);
    drop.rule.expr = [{ accept: null }]; // the chain's final drop made an accept by hand
    const t = streamed(JSON.stringify(json));
    expect(t.pods.get("eni0b")!.problem).toBe("egress chain does not end in drop");
    expect([t.pods.get("eni0a")!.model, t.pods.get("eni0c")!.model].every(Boolean)).toBe(true);
  });

  test("text that is not a whole listing is refused", () => {
    const text = JSON.stringify(listing(peers, veths));
    expect(() => streamed(text.slice(0, text.length - 40))).toThrow(SyntaxError);
    expect(() => streamed(`${text.slice(0, -1)},"x":1}`)).toThrow(SyntaxError);
    expect(() => streamed('{"nftables": ["a"]}')).toThrow(SyntaxError);
    expect(() => streamed('{"nftables": [{"rule": }]}')).toThrow(SyntaxError);
    expect(streamed('{"other": 1}').pods.size).toBe(0); // not a listing head: parsed whole, as before
  });

  test("strings holding brackets, quotes and escapes do not confuse the split", () => {
    const json = listing(peers, ["eni0a"]);
    json.nftables.push({ chain: { ...T, name: 'odd"]}{[\\' } });
    const names = new Set<string>();
    forEachItem(JSON.stringify(json), (item) => item.chain && names.add(item.chain.name));
    expect(names.has('odd"]}{[\\')).toBe(true);
  });
});
