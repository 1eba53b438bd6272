// netConfigClient's host veth listing: a net-config serving the route is asked; one whose
// router (the services' frame) does not serve it answers a plain 404, and addr-broker then
// reads the links itself.
import { afterAll, afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { listPodLinks } from "../../../../shared/contracts/netconfig.ts";
import { handle, serveUnix, type UnixServer } from "../../../../shared/ipc/server.ts";
import { createFrame } from "../../../../shared/service.ts";
import type { KernelScan } from "./kernel-scan.ts";
import { netConfigClient } from "./peers.ts";

const dir = mkdtempSync(join(tmpdir(), "broker-peers-"));
const socket = join(dir, "net-config.sock");
const kernel: KernelScan = { scan: async () => ({ pods: [], hostVeths: ["eni0000000000a"] }) };
let server: UnixServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a net-config that lists its pod links is asked", async () => {
  const app = new Hono();
  handle(app, listPodLinks, () => ({ hostVeths: ["eni0000000000b"] }));
  server = await serveUnix(app, socket);
  expect(await netConfigClient(socket, { kernel, vethPrefix: "eni" }).hostVeths()).toEqual(new Set(["eni0000000000b"]));
});

test("a net-config without the route (a plain 404) makes the broker scan the links itself", async () => {
  server = await serveUnix(createFrame({ name: "net-config", debug: () => ({}) }).app, socket);
  expect(await netConfigClient(socket, { kernel, vethPrefix: "eni" }).hostVeths()).toEqual(new Set(["eni0000000000a"]));
});

test("an unreachable net-config lists nothing (the caller retries)", async () => {
  expect(await netConfigClient(join(dir, "none.sock"), { kernel, vethPrefix: "eni" }).hostVeths()).toBeUndefined();
});
