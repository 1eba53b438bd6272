// The pod's side of security groups for pods: which pods ask for a branch ENI, and the
// annotation's element 0 read with every one of its eight keys checked (a coded error naming the key).
import { describe, expect, test } from "bun:test";
import { CniCode, CniError } from "./cni-error.ts";
import { branchGateway, dummyInterfaceName, parsePodEniAnnotation, requestsPodEni, vlanIdFromPrevResult } from "./pod-eni.ts";

const ONE = { eniId: "eni-0abc", ifAddress: "0A:1B:2C:3D:4E:5F", privateIp: "10.0.3.17", ipv6Addr: "", vlanId: 1, subnetCidr: "10.0.0.0/19", subnetV6Cidr: "", associationID: "trunk-assoc-0abc" };
const text = (over: Record<string, unknown> = {}, drop?: string) => {
  const e: Record<string, unknown> = { ...ONE, ...over };
  if (drop) delete e[drop];
  return JSON.stringify([e]);
};
function refusal(t: string): { code: number; msg: string } {
  try {
    parsePodEniAnnotation(t, "ipv4");
  } catch (err) {
    if (err instanceof CniError) return { code: err.code, msg: err.message };
    throw err;
  }
  throw new Error("accepted");
}

describe("vpc.amazonaws.com/pod-eni", () => {
  test("element 0, MAC lower-cased, gateway = subnet network + 1", () => {
    const e = parsePodEniAnnotation(JSON.stringify([{ ...ONE }, { ...ONE, vlanId: 2 }]), "ipv4");
    expect(e).toEqual({ ...ONE, ifAddress: "0a:1b:2c:3d:4e:5f" });
    expect(branchGateway(e, "ipv4")).toBe("10.0.0.1");
    expect(branchGateway(e, "ipv6")).toBe("fe80:ec2::1");
  });

  const bad: Array<[string, string, string]> = [
    ["not JSON", "{", "not JSON"],
    ["empty array", "[]", "non-empty JSON array"],
    ["an object, not an array", JSON.stringify(ONE), "non-empty JSON array"],
    ...(["eniId", "ifAddress", "privateIp", "ipv6Addr", "vlanId", "subnetCidr", "subnetV6Cidr", "associationID"].map((k) => [`no ${k}`, text({}, k), `[0].${k} is missing`]) as Array<[string, string, string]>),
    ["vlanId 0", text({ vlanId: 0 }), "[0].vlanId"],
    ["vlanId 121", text({ vlanId: 121 }), "[0].vlanId"],
    ["vlanId as text", text({ vlanId: "3" }), "[0].vlanId"],
    ["bad MAC", text({ ifAddress: "0a:1b" }), "[0].ifAddress"],
    ["empty IP", text({ privateIp: "" }), "[0].privateIp"],
    ["IPv6 where IPv4 is wanted", text({ privateIp: "fd00::1" }), "[0].privateIp"],
    ["bad subnet", text({ subnetCidr: "10.0.0.0/33" }), "[0].subnetCidr"],
    ["bad ENI id", text({ eniId: "x" }), "[0].eniId"],
  ];
  for (const [name, t, names] of bad) {
    test(`refused with code 105 naming it: ${name}`, () => {
      const r = refusal(t);
      expect(r.code).toBe(CniCode.BRANCH_ENI_ANNOTATION);
      expect(r.msg).toContain(names);
    });
  }

  test("IPv6 mode reads ipv6Addr", () => {
    expect(parsePodEniAnnotation(text({ ipv6Addr: "2600:1f14::AB" }), "ipv6").ipv6Addr).toBe("2600:1f14::ab");
  });
});

describe("which pods ask for a branch ENI", () => {
  test("containers[0]'s requests or limits, any key starting with the resource name", () => {
    expect(requestsPodEni({ annotations: {}, firstContainer: { requests: { "vpc.amazonaws.com/pod-eni": "1" } } })).toBe(true);
    expect(requestsPodEni({ annotations: {}, firstContainer: { limits: { "vpc.amazonaws.com/pod-eni": "1" } } })).toBe(true);
    expect(requestsPodEni({ annotations: {}, firstContainer: { requests: { cpu: "1" } } })).toBe(false);
    expect(requestsPodEni({ annotations: {} })).toBe(false);
  });
});

describe("prevResult's dummy interface", () => {
  const name = dummyInterfaceName({ namespace: "ns", name: "p", containerId: "c", ifName: "eth0" });
  test("named dummy<sha1(ns.pod)[:11]>, its mac carries the VLAN id", () => {
    expect(name).toMatch(/^dummy[0-9a-f]{11}$/);
    expect(vlanIdFromPrevResult([{ name: "eth0" }, { name, mac: "17" }], name)).toBe(17);
    expect(vlanIdFromPrevResult([{ name, mac: "0" }], name)).toBeUndefined();
    expect(vlanIdFromPrevResult([{ name: "eth0" }], name)).toBeUndefined();
    expect(() => vlanIdFromPrevResult([{ name, mac: "x1" }], name)).toThrow("malformed VLAN id");
  });
});
