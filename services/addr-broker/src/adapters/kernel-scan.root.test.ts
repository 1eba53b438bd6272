// Needs root: creates a namespace with a pod's host-side rules, route and veth, then scans it.
import { expect } from "bun:test";
import { ipKernelScan } from "./kernel-scan.ts";
import { NAMESPACES, requires } from "../../../../tests/support/prerequisites.ts";

const gate = requires(...NAMESPACES);
const ns = `abscan${process.pid}`;
const ip = (...a: string[]) => Bun.spawnSync(["ip", "-n", ns, ...a]).exitCode;

gate.afterAll(() => {
  Bun.spawnSync(["ip", "netns", "del", ns]);
});

gate.test("scan finds the pod wiring upstream leaves in the node namespace", async () => {
  expect(Bun.spawnSync(["ip", "netns", "add", ns]).exitCode).toBe(0);
  expect(ip("link", "add", "enitestscan1", "type", "veth", "peer", "name", "podside1")).toBe(0);
  expect(ip("link", "set", "enitestscan1", "up")).toBe(0);
  expect(ip("route", "add", "10.0.12.34/32", "dev", "enitestscan1", "scope", "link")).toBe(0);
  expect(ip("rule", "add", "to", "10.0.12.34/32", "lookup", "main", "prio", "512")).toBe(0);
  expect(ip("rule", "add", "from", "10.0.12.34/32", "lookup", "3", "prio", "1536")).toBe(0);
  const got = await ipKernelScan(ns).scan("eni");
  expect(got.pods).toEqual([{ address: "10.0.12.34", routeTable: 3, hostVeth: "enitestscan1" }]);
  expect(got.hostVeths).toEqual(["enitestscan1"]);
});
