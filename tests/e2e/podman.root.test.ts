/**
 * End to end with a real container runtime: podman 4.3 (CNI backend,
 * runc, a busybox root filesystem) runs containers on the aws-cni network of a two-node
 * local deployment. Every CNI call is podman's own: VERSION, ADD with
 * CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=<name>, DEL with prevResult, through the compiled
 * aws-cni shim and the chained Debian portmap plugin.
 *
 * podman runs on the node: in the node's network namespace, via `nsenter --net` (not
 * `ip netns exec`, whose private mount namespace hides podman's netns bind mount from
 * net-config: the ADD then fails with "setns failed: errno 22"; see runtime.ts).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type RunningDeployment } from "../../deploy/local/deployment.ts";
import type { StackNode } from "../../deploy/local/stack.ts";
import { leftovers } from "../local/up-process.ts";
import { brokerDebug, checkpointAddresses, eniHolding, eventually, freeAddresses, linkNames, natRules, onNode } from "./podman/node-state.ts";
import { NodePodman, processesMentioning, type ContainerInfo } from "./podman/runtime.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";

const COOLDOWN_S = 10;
const HOST_PORT = 18080;
const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter");

gate.describe("podman on the aws-cni network of a local deployment (root)", () => {
  const base = !gate.met ? "" : mkdtempSync(join(tmpdir(), `e2e-podman-${process.pid}-`));
  const depDir = join(base, "deploy");
  let dep: RunningDeployment | undefined;
  const pm: NodePodman[] = [];
  const seen: ContainerInfo[] = [];
  let n0: StackNode;
  let n1: StackNode;
  let a0: ContainerInfo;
  let b1: ContainerInfo;
  const t0 = performance.now();
  const mark = (what: string) => console.log(`podman e2e: ${what} at ${Math.round(performance.now() - t0)} ms`);

  let torn: Promise<string[]> | undefined;
  /** Containers first (their DEL must reach the node's services), then the deployment, then files. */
  const teardown = () =>
    (torn ??= (async () => {
      const problems: string[] = [];
      for (const p of pm) problems.push(...(await p.removeAll().catch((e: Error) => [e.message])));
      for (const p of pm) {
        const debug = await brokerDebug(p.node).catch(() => undefined);
        for (const a of debug?.assignments ?? []) problems.push(`${p.node.netns}: ${a.address} still assigned to ${a.containerId}`);
        for (const l of await linkNames(p.node.netns).catch(() => [])) if (l.startsWith("eni")) problems.push(`${p.node.netns}: veth ${l}`);
      }
      await dep?.stop();
      for (const p of pm) p.destroy();
      problems.push(...(await leftovers(depDir)));
      for (const c of seen) if (existsSync(c.sandboxKey)) problems.push(`container netns ${c.sandboxKey}`);
      for (const c of seen) if (existsSync(`/var/lib/cni/results/aws-cni-${c.id}-eth0`)) problems.push(`CNI cache of ${c.name}`);
      problems.push(...processesMentioning(base).map((p) => `process ${p}`));
      rmSync(base, { recursive: true, force: true });
      return problems;
    })());

  const track = (c: ContainerInfo) => (seen.push(c), c);
  /** busybox httpd listens dual-stack: REMOTE_ADDR of an IPv4 peer reads [::ffff:a.b.c.d]. */
  const peerOf = (r: { stdout: string; stderr: string; exitCode: number }) =>
    r.exitCode === 0 ? r.stdout.trim().replace(/^\[::ffff:(.*)\]$/, "$1") : `failed (${r.exitCode}): ${r.stderr.trim()}`;
  /** HTTP/1.0 GET from inside a container with busybox nc (busybox wget segfaults, exit 139, on the CGI answer). */
  const podGet = async (p: NodePodman, name: string, host: string, port: number, path: string) => {
    const r = await p.exec(name, ["sh", "-c", `printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port}`]);
    const body = r.stdout.replace(/^[\s\S]*?\r?\n\r?\n/, ""); // CGI headers end with a bare \n\n
    return { ...r, exitCode: r.stdout.startsWith("HTTP/1.") ? 0 : r.exitCode || 1, stdout: body };
  };
  const coolingNow = async (node: StackNode) =>
    (await brokerDebug(node)).cooling.filter((c) => Date.parse(c.until) > Date.now()).map((c) => c.address);

  beforeAll(async () => {
    dep = await startDeployment({ dir: depDir, nodes: 2, env: { IP_COOLDOWN_PERIOD: String(COOLDOWN_S) } });
    mark("deployment up");
    [n0, n1] = [dep.stack.nodes[0]!, dep.stack.nodes[1]!];
    pm.push(await NodePodman.create(n0, join(base, "podman-n0")), await NodePodman.create(n1, join(base, "podman-n1")));
    // a0: web server (published on the node's port) + a line-reply TCP server; b1: a client.
    a0 = track(await pm[0]!.start("a0", "httpd -f -p 80 -h /www & nc -ll -p 9000 -e /bin/sh /www/reply & exec sleep 600", ["-p", `${HOST_PORT}:80`]));
    b1 = track(await pm[1]!.start("b1", "exec sleep 600"));
    mark("a0, b1 running");
  }, 90_000);

  afterAll(async () => {
    const problems = await teardown();
    if (problems.length) console.error(`podman e2e teardown left: ${problems.join("; ")}`);
  }, 90_000);

  test("podman sees the conflist's network as aws-cni", async () => {
    const r = await pm[0]!.podman(["network", "inspect", "aws-cni", "--format", "{{.Name}} {{.Driver}}"]);
    expect(r.stdout.trim()).toBe("aws-cni aws-cni");
  });

  test("containers get VPC addresses from an ENI of their own node's instance", async () => {
    for (const [c, node, other, p] of [[a0, n0, n1, pm[0]!], [b1, n1, n0, pm[1]!]] as const) {
      expect(await eniHolding(dep!.stack, node.instanceId, c.ip)).toBeDefined();
      expect(await eniHolding(dep!.stack, other.instanceId, c.ip)).toBeUndefined();
      const held = (await brokerDebug(node)).assignments.find((a) => a.containerId === c.id);
      expect(held?.address).toBe(c.ip);
      expect(held?.netns).toBe(c.sandboxKey);
      // podman sends K8S_POD_NAME=<container name> and no namespace
      expect(held?.podName).toBe(c.name);
      expect(held?.podNamespace).toBeUndefined();
      // the container's own view agrees with podman's result (address /32, mac)
      const inside = await p.exec(c.name, ["sh", "-c", "ip -4 -o addr show eth0; cat /sys/class/net/eth0/address"]);
      expect(inside.stdout).toContain(`inet ${c.ip}/32`);
      expect(inside.stdout).toContain(c.mac);
    }
    expect(a0.ip).not.toBe(b1.ip);
  });

  test("container to container across nodes: ping both ways, TCP, and no NAT between pods", async () => {
    expect((await pm[1]!.exec("b1", ["ping", "-c", "1", "-W", "2", a0.ip])).exitCode).toBe(0);
    expect((await pm[0]!.exec("a0", ["ping", "-c", "1", "-W", "2", b1.ip])).exitCode).toBe(0);
    const reply = await eventually("TCP reply from a0:9000", 10_000, async () => {
      const r = await pm[1]!.exec("b1", ["sh", "-c", `echo ping-b1 | nc -w 3 ${a0.ip} 9000`]);
      return r.stdout.includes("pong") ? r.stdout : undefined;
    });
    expect(reply.trim()).toBe("pong ping-b1");
    const peer = await podGet(pm[1]!, "b1", a0.ip, 80, "/cgi-bin/peer");
    expect(peerOf(peer)).toBe(b1.ip);
  });

  test("container to the outside echo is seen as its node's primary IP (SNAT)", async () => {
    const [host, port] = dep!.stack.outside.echo.split(":");
    for (const [c, node, p] of [[a0, n0, pm[0]!], [b1, n1, pm[1]!]] as const) {
      const r = await p.exec(c.name, ["sh", "-c", `nc -w 3 ${host} ${port} </dev/null`]);
      expect(r.stdout).toMatch(new RegExp(`^from ${node.primaryIp.replaceAll(".", "\\.")}:\\d+$`, "m"));
    }
  });

  test(`-p ${HOST_PORT}:80 works through the chained portmap plugin, on the node's iptables only`, async () => {
    const nodeNat = await natRules(n0.netns);
    expect(nodeNat).toContain(a0.id);
    expect(nodeNat).toContain(`--to-destination ${a0.ip}:80`);
    expect(await natRules(undefined)).not.toContain(a0.id);
    // from node 1's namespace (a client on the other host) to node 0's primary IP
    const url = `http://${n0.primaryIp}:${HOST_PORT}`;
    const body = await onNode(n1.netns, ["curl", "-sS", "-m", "5", `${url}/`]);
    expect(body.stdout).toBe("hello from the container\n");
    expect(peerOf(await onNode(n1.netns, ["curl", "-sS", "-m", "5", `${url}/cgi-bin/peer`]))).toBe(n1.primaryIp);
    // from a container on node 1: its own VPC address arrives (VPC traffic is not SNATed)
    expect((await podGet(pm[1]!, "b1", n0.primaryIp, HOST_PORT, "/")).stdout).toBe("hello from the container\n");
    const fromPod = await podGet(pm[1]!, "b1", n0.primaryIp, HOST_PORT, "/cgi-bin/peer");
    expect(peerOf(fromPod)).toBe(b1.ip);
  });

  test("podman rm releases the address (veth, netns, checkpoint) and it is reused only after the cooldown", async () => {
    const c0 = track(await pm[0]!.start("c0", "exec sleep 600"));
    const held = (await brokerDebug(n0)).assignments.find((a) => a.containerId === c0.id);
    expect(held?.address).toBe(c0.ip);
    expect(held?.hostVeth).toBeString();
    expect(await linkNames(n0.netns)).toContain(held!.hostVeth!);
    expect(await checkpointAddresses(n0)).toContain(c0.ip);

    await pm[0]!.remove("c0");
    mark("c0 removed");
    const after = await brokerDebug(n0);
    expect(after.assignments.map((a) => a.address)).not.toContain(c0.ip);
    expect(await coolingNow(n0)).toContain(c0.ip);
    expect(await checkpointAddresses(n0)).not.toContain(c0.ip);
    expect(await linkNames(n0.netns)).not.toContain(held!.hostVeth!);
    expect(existsSync(c0.sandboxKey)).toBe(false);

    // While it cools, new containers get other addresses: take every free one, then one
    // more (only the cooling address is left: the ADD must wait for the pool to grow or fail).
    const during: string[] = [];
    for (let i = 0; i < 8; i++) {
      const free = freeAddresses(await brokerDebug(n0));
      const name = `d${i}`;
      const r = await pm[0]!.podman(["run", "-d", "--network", "aws-cni", "--name", name, "--rootfs", pm[0]!.rootfs, "/bin/sh", "-c", "exec sleep 600"]);
      if (r.exitCode === 0) during.push(track(await pm[0]!.inspect(name)).ip);
      else during.push(`failed: ${r.stderr.trim().split("\n").pop()}`);
      console.log(`podman e2e: ${name} with ${free} free before it: ${during.at(-1)}`);
      if (free === 0) break;
    }
    mark(`${c0.ip} cooled while the node gave out ${during.join(", ")}`);
    expect(during).not.toContain(c0.ip);
    expect(await coolingNow(n0)).toContain(c0.ip); // so all of them were placed during the cooldown

    // after the cooldown it is free again and handed out (the pool has few free addresses)
    // (/debug keeps an expired entry until the next state change prunes it: judge by `until`)
    await eventually(`${c0.ip} leaves the cooldown`, COOLDOWN_S * 1000 + 10_000, async () =>
      (await coolingNow(n0)).includes(c0.ip) ? undefined : true);
    mark("cooldown over");
    const got: string[] = [];
    for (let i = 0; i < 8 && !got.includes(c0.ip); i++) got.push(track(await pm[0]!.start(`e${i}`, "exec sleep 600")).ip);
    expect(got).toContain(c0.ip);
    mark(`reused after ${got.length} containers`);
  }, 60_000);

  test("podman rm of the publishing container removes its portmap rules from the node", async () => {
    await pm[0]!.remove("a0");
    const nodeNat = await natRules(n0.netns);
    expect(nodeNat).not.toContain(a0.id);
    expect(nodeNat).not.toContain(`--to-destination ${a0.ip}:80`);
    const r = await onNode(n1.netns, ["curl", "-sS", "-m", "3", `http://${n0.primaryIp}:${HOST_PORT}/`]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toBe("");
  });

  test("teardown: podman rm -a, then the deployment, leaves nothing behind", async () => {
    const problems = await teardown();
    mark("torn down");
    expect(problems).toEqual([]);
  }, 90_000);
});
