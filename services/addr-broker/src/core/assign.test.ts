import { describe, expect, test } from "bun:test";
import { isMiss, pickAddress, type Pick } from "./assign.ts";
import { EMPTY_STATE, keyOf, release, withAllocation, type BrokerState } from "./state.ts";
import { capacity } from "./test-fixtures.ts";
import { decideDrain, usageReport } from "./usage.ts";

const key = (c: string) => ({ networkName: "aws-cni", containerId: c, ifName: "eth0" });
function take(state: BrokerState, cap: ReturnType<typeof capacity>, c: string, now = 0): { state: BrokerState; pick: Pick } {
  const pick = pickAddress(state, cap, now, 30);
  if (isMiss(pick)) throw new Error(pick.message);
  return { state: withAllocation(state, { ...key(c), address: pick.address, allocatedAtNs: 1n }), pick };
}

describe("pickAddress", () => {
  const two = capacity([
    { id: "eni-a", device: 0, cidrs: ["10.0.1.1/32", "10.0.1.2/32"] },
    { id: "eni-b", device: 1, cidrs: ["10.0.2.1/32", "10.0.2.2/32", "10.0.2.3/32"] },
  ]);
  test("starts on the lowest device, then keeps filling the ENI already used", () => {
    let s = EMPTY_STATE;
    const got: string[] = [];
    for (const c of ["a", "b", "c"]) {
      const r = take(s, two, c);
      s = r.state;
      got.push(r.pick.address);
    }
    expect(got).toEqual(["10.0.1.1", "10.0.1.2", "10.0.2.1"]);
  });
  test("prefers the ENI already most used, so the emptier one stays drainable", () => {
    const s = withAllocation(EMPTY_STATE, { ...key("x"), address: "10.0.2.2", allocatedAtNs: 1n });
    expect((pickAddress(s, two, 0, 30) as Pick).address).toBe("10.0.2.1");
  });
  test("a /28 prefix hands out all 16 addresses, the fullest prefix first", () => {
    const cap = capacity([{ id: "eni-a", device: 0, cidrs: ["10.0.16.0/28", "10.0.32.0/28"] }]);
    let s = withAllocation(EMPTY_STATE, { ...key("x"), address: "10.0.32.5", allocatedAtNs: 1n });
    const got: string[] = [];
    for (let i = 0; i < 16; i++) {
      const r = take(s, cap, `c${i}`);
      s = r.state;
      got.push(r.pick.address);
    }
    expect(got.slice(0, 3)).toEqual(["10.0.32.0", "10.0.32.1", "10.0.32.2"]);
    expect(got).toContain("10.0.32.15");
    expect(got.filter((a) => a.startsWith("10.0.16.")).length).toBe(1);
    expect(new Set(got).size).toBe(16);
  });
  test("draining CIDRs, unusable ENIs and drained CIDRs are skipped", () => {
    const cap = capacity([
      { id: "eni-a", device: 0, usable: false, cidrs: ["10.0.1.1/32"] },
      { id: "eni-b", device: 1, cidrs: [{ cidr: "10.0.2.1/32", draining: true }, "10.0.2.2/32", "10.0.2.3/32"] },
    ]);
    const s: BrokerState = { ...EMPTY_STATE, drained: new Map([["10.0.2.2/32", 0]]) };
    expect((pickAddress(s, cap, 0, 30) as Pick).address).toBe("10.0.2.3");
  });
  test("IPv6 /80 prefix skips the all-zero address", () => {
    const cap = capacity([{ id: "eni-a", device: 0, cidrs: ["2001:db8:0:1:5::/80"] }], { family: "ipv6" });
    expect((pickAddress(EMPTY_STATE, cap, 0, 30) as Pick).address).toBe("2001:db8:0:1:5::1");
  });
  const misses: Array<[string, ReturnType<typeof capacity> | undefined, BrokerState, string, RegExp]> = [
    ["no capacity yet", undefined, EMPTY_STATE, "no-capacity", /no capacity from pool-manager/],
    ["pool-manager not ready", capacity([], { ready: false, shortage: "IMDS unreachable" }), EMPTY_STATE, "not-ready", /not ready.*IMDS unreachable/],
    ["empty pool with a shortage", capacity([{ id: "eni-a", device: 0, cidrs: [] }], { shortage: "subnet subnet-1 has no free addresses" }), EMPTY_STATE, "empty", /pool is empty.*subnet subnet-1 has no free/],
    [
      "all assigned",
      capacity([{ id: "eni-a", device: 0, cidrs: ["10.0.1.1/32"] }]),
      withAllocation(EMPTY_STATE, { ...key("x"), address: "10.0.1.1", allocatedAtNs: 1n }),
      "exhausted",
      /all 1 addresses are assigned/,
    ],
    [
      "all cooling",
      capacity([{ id: "eni-a", device: 0, cidrs: ["10.0.1.1/32"] }]),
      { ...EMPTY_STATE, cooling: new Map([["10.0.1.1", { address: "10.0.1.1", releasedAt: 0, until: 20_000 }]]) },
      "cooling",
      /cooling down.*free in 20s/,
    ],
  ];
  for (const [label, cap, state, kind, msg] of misses) {
    test(`miss: ${label}`, () => {
      const r = pickAddress(state, cap, 0, 30);
      expect(isMiss(r) && r.kind).toBe(kind as never);
      expect(isMiss(r) && r.message).toMatch(msg);
    });
  }
});

describe("release and cooldown", () => {
  const cap = capacity([{ id: "eni-a", device: 0, cidrs: ["10.0.1.1/32", "10.0.1.2/32"] }]);
  test("a released address is not handed out again until its cooldown ends", () => {
    let s = take(EMPTY_STATE, cap, "a").state;
    s = release(s, key("a"), 1000, 30_000).state;
    expect((pickAddress(s, cap, 2000, 30) as Pick).address).toBe("10.0.1.2");
    s = take(s, cap, "b", 2000).state;
    expect(isMiss(pickAddress(s, cap, 30_999, 30))).toBe(true);
    expect((pickAddress(s, cap, 31_000, 30) as Pick).address).toBe("10.0.1.1");
  });
  test("release without cooldown frees at once; releasing an unknown key changes nothing", () => {
    const s = take(EMPTY_STATE, cap, "a").state;
    const r = release(s, key("a"), 0, 0);
    expect(r.released?.address).toBe("10.0.1.1");
    expect(r.state.cooling.size).toBe(0);
    expect(release(s, key("zz"), 0, 30_000).state).toBe(s);
  });
});

describe("usage and drain", () => {
  const cap = capacity([{ id: "eni-a", device: 0, cidrs: ["10.0.16.0/28", "10.0.32.0/28", "10.0.48.0/28"] }]);
  let s = withAllocation(EMPTY_STATE, { ...key("a"), address: "10.0.16.3", allocatedAtNs: 1n });
  s = { ...s, cooling: new Map([["10.0.32.4", { address: "10.0.32.4", releasedAt: 0, until: 5000 }]]) };
  test("usage counts assigned and cooling per CIDR", () => {
    const u = usageReport(s, cap, 1000, 3, 0);
    expect(u).toMatchObject({ capacityVersion: 1, assigned: 1, cooling: 1, misses: 3 });
    expect(u.cidrs).toEqual([
      { cidr: "10.0.16.0/28", assigned: 1, cooling: 0 },
      { cidr: "10.0.32.0/28", assigned: 0, cooling: 1, coolingUntil: 5000 },
      { cidr: "10.0.48.0/28", assigned: 0, cooling: 0 },
    ]);
  });
  test("drain grants only empty CIDRs, which are then never handed out", () => {
    const d = decideDrain(s, ["10.0.16.0/28", "10.0.32.0/28", "10.0.48.0/28"], 1000);
    expect(d.granted).toEqual(["10.0.48.0/28"]);
    expect(d.refused.map((r) => r.cidr)).toEqual(["10.0.16.0/28", "10.0.32.0/28"]);
    expect(d.refused[0]?.reason).toContain("assigned");
    expect(d.refused[1]?.reason).toContain("cooling");
    let st = d.state;
    for (let i = 0; i < 31; i++) {
      const p = pickAddress(st, cap, 6000, 30);
      if (isMiss(p)) break;
      expect(p.cidr).not.toBe("10.0.48.0/28");
      st = withAllocation(st, { ...key(`p${i}`), address: p.address, allocatedAtNs: 1n });
    }
    expect(st.allocations.size).toBe(32);
    expect([...st.allocations.keys()]).toContain(keyOf(key("p30")));
  });
});
