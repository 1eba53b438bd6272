/**
 * A runtime in a private mount namespace (podman under `ip netns exec`, a runtime in its own
 * container) bind-mounts the pod's netns file where net-config sees only the empty mount
 * point. net-config must then open the caller's view (/proc/<caller>/root<path>) — and say
 * clearly what is wrong when it cannot.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureHostProc, resolveNetnsPath } from "../adapters/netns.ts";
import { NetlinkKernel } from "../adapters/netlink-kernel.ts";
import { PodService } from "./pod-service.ts";
import { DEFAULT_SETTINGS, type NetConfigSettings } from "../core/settings.ts";
import { Namespaces } from "../../test-support/namespaces.ts";
import { NAMESPACES, requires } from "../../../../tests/support/prerequisites.ts";


const settings: NetConfigSettings = { ...DEFAULT_SETTINGS, vethPrefix: "eni", podMtu: 1500 };
const nss = new Namespaces();
let kernel: NetlinkKernel;
let pods: PodService;
let holder: ReturnType<typeof Bun.spawn> | undefined;
const podNs = `vis${process.pid}`;

requires(...NAMESPACES, "nsenter", "unshare").describe("pod netns made in another mount namespace (root)", () => {
  beforeAll(async () => {
    const node = nss.add("n");
    kernel = new NetlinkKernel({ path: node.path });
    pods = new PodService(kernel, () => settings);
    // A "runtime" in its own mount namespace: creates the pod netns there and stays alive,
    // as the shim stays alive while its request is served.
    holder = Bun.spawn(["unshare", "--mount", "--propagation", "slave", "sh", "-c", `ip netns add ${podNs} && echo ready && exec sleep 60`], { stdout: "pipe" });
    const reader = (holder.stdout as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    reader.releaseLock();
  });
  afterAll(() => {
    if (holder) Bun.spawnSync(["nsenter", `--mount=/proc/${holder.pid}/ns/mnt`, "ip", "netns", "del", podNs]);
    holder?.kill("SIGKILL");
    kernel?.close();
    nss.cleanup();
    Bun.spawnSync(["rm", "-f", `/run/netns/${podNs}`]);
  });

  const req = () => ({ containerId: `vis${process.pid}`, ifName: "eth0", netns: `/run/netns/${podNs}`, address: "10.0.9.9", routeTable: 254, podNamespace: "default", podName: `vis-${process.pid}` });

  test("without the caller's pid: a clear NETNS_NOT_FOUND, not a bare setns errno", () => {
    expect(existsSync(`/run/netns/${podNs}`)).toBe(true); // the empty mount point is visible here
    let err: unknown;
    try {
      pods.wire(req());
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe("NETNS_NOT_FOUND");
    expect(String((err as Error).message)).toContain("is not a network namespace");
  });

  test("with the caller's pid: wired through the caller's view, CHECK clean, unwire clean", () => {
    const r = { ...req(), netnsPid: holder!.pid };
    const answer = pods.wire(r);
    expect(answer.hostVeth).toMatch(/^eni[0-9a-f]{11}$/);
    const inPod = Bun.spawnSync(["nsenter", `--net=/proc/${holder!.pid}/root/run/netns/${podNs}`, "ip", "-br", "addr", "show", "eth0"]).stdout.toString();
    expect(inPod).toContain("10.0.9.9/32");
    expect(pods.check(r)).toEqual({ ok: true, problems: [] });
    pods.unwire(r);
    expect(pods.check(r).ok).toBe(false);
  });

  test("in a container that sees the host's /proc elsewhere (the DaemonSet's /host/proc): both path forms resolve through it", () => {
    const dir = mkdtempSync(join(tmpdir(), "hostproc-"));
    const hostProc = join(dir, "proc");
    symlinkSync("/proc", hostProc); // what the container's hostPath mount of the host's /proc gives
    configureHostProc(hostProc);
    try {
      expect(resolveNetnsPath(`/run/netns/${podNs}`, holder!.pid)).toBe(`${hostProc}/${holder!.pid}/root/run/netns/${podNs}`);
      const byRoot = { ...req(), netnsPid: holder!.pid };
      expect(pods.wire(byRoot).hostVeth).toMatch(/^eni[0-9a-f]{11}$/);
      expect(pods.check(byRoot)).toEqual({ ok: true, problems: [] });
      pods.unwire(byRoot);
      // A runtime that passes /proc/<pid>/ns/net names a host pid: the host's /proc is where to look.
      const sleeper = Bun.spawnSync(["nsenter", `--net=/proc/${holder!.pid}/root/run/netns/${podNs}`, "sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"]).stdout.toString().trim();
      try {
        const byPid = { ...req(), netns: `/proc/${sleeper}/ns/net` };
        expect(resolveNetnsPath(byPid.netns)).toBe(`${hostProc}/${sleeper}/ns/net`);
        pods.wire(byPid);
        expect(pods.check(byPid)).toEqual({ ok: true, problems: [] });
        pods.unwire(byPid);
      } finally {
        Bun.spawnSync(["kill", "-9", sleeper]);
      }
      expect(() => configureHostProc("relative/proc")).toThrow("hostProc");
    } finally {
      configureHostProc("/proc");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
