import { expect, test } from "bun:test";
import { podsFromKernel } from "./kernel-pods.ts";

test("rules, routes and veths as `ip -j` prints them become pods", () => {
  const rules = [
    { priority: 0, src: "all", table: "local" },
    { priority: 512, src: "all", dst: "10.0.12.34", table: "main" },
    { priority: 1536, src: "10.0.12.34", table: "3" },
    { priority: 512, src: "all", dst: "10.0.12.40", table: "main" },
    { priority: 512, src: "all", dst: "10.0.0.0", dstlen: 16, table: "main" },
    { priority: 32766, src: "all", table: "main" },
  ];
  const routes = [
    { dst: "default", gateway: "192.0.2.1", dev: "eth0" },
    { dst: "10.0.12.34", dev: "eni0123456789a", scope: "link" },
    { dst: "10.0.12.50", dev: "eni0000000000b", scope: "link" },
    { dst: "10.0.13.0/24", dev: "eni0000000000b" },
  ];
  const links = [{ ifname: "eth0" }, { ifname: "eni0123456789a" }, { ifname: "eni0000000000b" }];
  const { pods, hostVeths } = podsFromKernel({ rules, routes, links }, "eni");
  expect(pods).toEqual([
    { address: "10.0.12.34", routeTable: 3, hostVeth: "eni0123456789a" },
    { address: "10.0.12.40" },
    { address: "10.0.12.50", hostVeth: "eni0000000000b" },
  ]);
  expect(hostVeths).toEqual(["eni0123456789a", "eni0000000000b"]);
});

test("a pod veth named with another prefix (a conflist's vethPrefix) counts; other links do not", () => {
  const routes = [
    { dst: "10.0.12.34", dev: "cfg0123456789a", scope: "link" },
    { dst: "10.0.12.35", dev: "eth1", scope: "link" },
    { dst: "10.0.12.36", dev: "cfg0123456789", scope: "link" }, // 10 hex: not a pod veth name
  ];
  const links = [{ ifname: "eth1" }, { ifname: "cfg0123456789a" }, { ifname: "cfg0123456789" }, { ifname: "lo" }];
  expect(podsFromKernel({ rules: [], routes, links }, "eni")).toEqual({ pods: [{ address: "10.0.12.34", hostVeth: "cfg0123456789a" }], hostVeths: ["cfg0123456789a"] });
});

test("garbage input yields nothing rather than throwing", () => {
  expect(podsFromKernel({ rules: "x", routes: null, links: [1, null] }, "eni")).toEqual({ pods: [], hostVeths: [] });
});
