import { describe, expect, test } from "bun:test";
import { MAX_LINK_NAME, NameError, nodeEniLink, nodeNetns, routerEniLink, stackNames } from "./names.ts";
import { linkLocalFromMac } from "./fabric.ts";

describe("stackNames", () => {
  test("is a function of the absolute DIR, and differs between DIRs", () => {
    expect(stackNames("/tmp/a")).toEqual(stackNames("/tmp/./a"));
    expect(stackNames("/tmp/a").prefix).not.toBe(stackNames("/tmp/b").prefix);
    expect(stackNames("/tmp/a").prefix).toMatch(/^v[0-9a-f]{4}$/);
  });

  test("every link name fits IFNAMSIZ and the mgmt /30 avoids reserved link-local ranges", () => {
    for (let i = 0; i < 500; i++) {
      const n = stackNames(`/tmp/dir-${i}`);
      expect(n.mgmtRootLink.length).toBeLessThanOrEqual(MAX_LINK_NAME);
      const [, , third, fourth] = n.mgmt.rootIp.split(".").map(Number) as [number, number, number, number];
      expect([1, 169, 170]).not.toContain(third);
      expect(fourth % 4).toBe(1);
      expect(n.mgmt.routerIp).toBe(`169.254.${third}.${fourth + 1}`);
    }
    expect(routerEniLink(999, 99).length).toBeLessThanOrEqual(MAX_LINK_NAME);
  });

  test("node and link names", () => {
    const n = stackNames("/tmp/a");
    expect(nodeNetns(n, 3)).toBe(`${n.prefix}-n3`);
    expect(routerEniLink(1, 2)).toBe("n1-eth2");
    expect(nodeEniLink(4)).toBe("eth4");
    // Other network cards number their devices from 0 too: the card is in the name.
    expect(routerEniLink(999, 99, 31)).toBe("n999-c31e99");
    expect(routerEniLink(999, 99, 99).length).toBeLessThanOrEqual(MAX_LINK_NAME);
    expect(nodeEniLink(0, 1)).toBe("c1eth0");
    expect(() => routerEniLink(1, 0, 100)).toThrow(NameError);
    expect(() => nodeEniLink(0, -1)).toThrow(/networkCard/);
  });

  test("out-of-range indexes are refused with a code naming the field", () => {
    expect(() => routerEniLink(1, 100)).toThrow(NameError);
    let caught: unknown;
    try {
      nodeNetns(stackNames("/tmp/a"), -1);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NameError);
    expect((caught as NameError).code).toBe("LOCAL_BAD_NAME");
    expect((caught as NameError).field).toBe("nodeIndex");
  });
});

test.each([
  ["02:00:00:00:00:0a", "fe80::0:ff:fe00:a"],
  ["0a:1b:2c:3d:4e:5f", "fe80::81b:2cff:fe3d:4e5f"],
])("linkLocalFromMac(%s) = %s", (mac, ll) => {
  expect(linkLocalFromMac(mac)).toBe(ll);
});
