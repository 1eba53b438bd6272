import { describe, expect, test } from "bun:test";
import { attr, decodeAttrs, decodeMessages, encodeMessage, formatIpBytes, ipBytes, read } from "./codec.ts";

describe("netlink codec", () => {
  test("a message with nested attributes decodes back", () => {
    const m = encodeMessage(16, 0x605, 7, new Uint8Array(16), [attr.str(3, "eth0"), attr.u32(4, 1500), attr.nested(18, [attr.str(1, "veth")])]);
    expect(m.length % 4).toBe(0);
    const [msg] = decodeMessages(m, m.length);
    expect(msg).toMatchObject({ type: 16, flags: 0x605, seq: 7 });
    const attrs = decodeAttrs(msg!.body, 16);
    expect(read.str(attrs.get(3))).toBe("eth0");
    expect(read.u32(attrs.get(4))).toBe(1500);
    expect(read.str(decodeAttrs(attrs.get(18)!, 0).get(1))).toBe("veth");
  });

  test.each(["10.0.1.5", "169.254.1.1", "fe80::1", "2001:db8::7", "::", "2001:db8:0:1:2:3:4:5"])("IP %s round-trips", (ip) => {
    expect(formatIpBytes(ipBytes(ip))).toBe(ip);
  });
});
