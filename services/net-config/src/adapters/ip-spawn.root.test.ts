/**
 * The two ways of performing a plan agree: a pod wired with one `ip` process per
 * operation passes the CHECK that the netlink adapter makes, and vice versa the netlink
 * unwiring removes it. Needs root.
 */
import { afterAll, expect, test } from "bun:test";
import { NetlinkKernel } from "./netlink-kernel.ts";
import { runWithSpawns } from "./ip-spawn.ts";
import { PodService } from "../app/pod-service.ts";
import { planWire } from "../core/pod-wiring.ts";
import { DEFAULT_SETTINGS } from "../core/settings.ts";
import { Namespaces } from "../../test-support/namespaces.ts";
import { NAMESPACES, requires } from "../../../../tests/support/prerequisites.ts";

const nss = new Namespaces();
let kernel: NetlinkKernel | undefined;
afterAll(() => {
  kernel?.close();
  nss.cleanup();
});

requires(...NAMESPACES, "nsenter").describe("ip processes and rtnetlink perform the same plan (root)", () => {
  for (const address of ["10.0.1.5", "2001:db8::5"]) {
    test(`wired by ip processes, checked and unwired over netlink (${address})`, async () => {
      const node = nss.add("s");
      const pod = nss.add("p");
      kernel = new NetlinkKernel({ path: node.path });
      const pods = new PodService(kernel, () => DEFAULT_SETTINGS);
      const req = { containerId: "c1", ifName: "eth0", netns: pod.path, podNamespace: "a", podName: "b", address, routeTable: 5 };
      await runWithSpawns(planWire(req, DEFAULT_SETTINGS, "02:00:00:00:00:aa").steps, node.path, pod.path);
      expect(pods.check(req)).toEqual({ ok: true, problems: [] });
      expect(pods.unwire(req).removed.length).toBeGreaterThanOrEqual(3);
      expect(nss.ip(node.name, [address.includes(":") ? "-6" : "-4", "rule"])).not.toContain(address);
      kernel.close();
      kernel = undefined;
    });
  }
});
