// The local deployment end to end through its CLI (root, real namespaces):
// `up` with 2 nodes → ready line and a valid stack.json; IMDS per node; the AWS SDK inside a
// node creates/attaches/assigns and the link appears; a secondary IP is reachable from the
// other node only while assigned; the outside echo sees the node's address; SIGTERM and
// `down` leave nothing behind.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { Stack } from "../../deploy/local/stack.ts";
import { askEcho, execIn, linksIn, ping } from "../../deploy/local/vpc/test-support.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { leftovers, runDown, startUp, tempDir, type UpProcess } from "./up-process.ts";

const EC2_SCRIPT = new URL("./ec2-in-node.ts", import.meta.url).pathname;

async function sdkInNode(netns: string, args: string[]): Promise<Record<string, unknown>> {
  const r = await execIn(netns, [process.execPath, "run", EC2_SCRIPT, ...args]);
  if (r.exitCode !== 0) throw new Error(`ec2-in-node ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

const gate = requires(...LOCAL_DEPLOYMENT);

gate.describe("local deployment via the CLI (root)", () => {
  const dir = tempDir("up");
  let up: UpProcess | undefined;
  let echoPids: number[] = [];

  beforeAll(async () => {
    up = await startUp(dir, ["--nodes", "2", "--cloud-only"]);
    console.log(`up --nodes 2: ready after ${up.readyMs.toFixed(0)} ms (spawn to ready line)`);
  });

  afterAll(async () => {
    try {
      if (up && up.proc.exitCode === null) {
        up.proc.kill("SIGTERM");
        const code = await up.proc.exited;
        expect(code).toBe(0);
      }
      expect(await leftovers(dir, echoPids)).toEqual([]);
    } finally {
      await runDown(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("prints one ready line and writes a valid stack.json", () => {
    expect(up!.readyLine).toBe(`ready ${dir}/stack.json\n`);
    const stack = Stack.parse(up!.stack);
    expect(stack.dir).toBe(dir);
    expect(stack.nodes.length).toBe(2);
    expect(stack.vpc.cidrs).toEqual(["10.0.0.0/16"]);
    expect(new URL(stack.ec2.endpoint).hostname).toMatch(/^169\.254\./);
    for (const n of stack.nodes) {
      expect(n.name).toBe(`ip-${n.primaryIp.replaceAll(".", "-")}.us-west-2.compute.internal`);
      expect(n.instanceType).toBe("m5.large");
    }
  });

  test("IMDS at 169.254.169.254 answers each node with its own instance", async () => {
    for (const node of up!.stack.nodes) {
      const r = await execIn(node.netns, ["curl", "-s", "-m", "5", "169.254.169.254/latest/meta-data/instance-id"]);
      expect(r.stdout).toBe(node.instanceId);
      const ip = await execIn(node.netns, ["curl", "-s", "-m", "5", "http://169.254.169.254/latest/meta-data/local-ipv4"]);
      expect(ip.stdout).toBe(node.primaryIp);
    }
  });

  test("the Kubernetes API is usable from the root namespace with the kubeconfig; nodes are registered", async () => {
    const r = await Bun.spawn(["kubectl", "--kubeconfig", up!.stack.kube.kubeconfig, "get", "nodes", "-o", "json"], { stdout: "pipe", stderr: "pipe" });
    const body = JSON.parse(await new Response(r.stdout).text()) as { items: Array<{ metadata: { name: string; labels: Record<string, string> }; spec: { providerID: string } }> };
    const byName = new Map(body.items.map((n) => [n.metadata.name, n]));
    for (const node of up!.stack.nodes) {
      const k = byName.get(node.name);
      expect(k?.spec.providerID).toBe(`aws:///us-west-2a/${node.instanceId}`);
      expect(k?.metadata.labels["topology.kubernetes.io/zone"]).toBe("us-west-2a");
      expect(k?.metadata.labels["node.kubernetes.io/instance-type"]).toBe("m5.large");
    }
    // and from inside a node namespace
    const inside = await execIn(up!.stack.nodes[0]!.netns, ["curl", "-s", "-m", "5", `${up!.stack.kube.endpoint}/api/v1/nodes`]);
    expect((JSON.parse(inside.stdout) as { items: unknown[] }).items.length).toBe(2);
  });

  test("the outside echo service reports the node's address as the source", async () => {
    const node = up!.stack.nodes[0]!;
    expect(await askEcho(node.netns, up!.stack.outside.echo, "tcp")).toMatch(new RegExp(`^from ${node.primaryIp.replaceAll(".", "\\.")}:\\d+\\n$`));
    expect(await askEcho(node.netns, up!.stack.outside.echo, "udp")).toMatch(new RegExp(`^from ${node.primaryIp.replaceAll(".", "\\.")}:\\d+\\n$`));
    const pids = await execIn(up!.stack.outside.netns, ["true"]); // namespace is alive
    expect(pids.exitCode).toBe(0);
    const manifest = (await Bun.file(`${dir}/local-manifest.json`).json()) as { pids: number[] };
    echoPids = manifest.pids;
  });

  test("a second up for the same DIR is refused and changes nothing", async () => {
    const second = Bun.spawn([process.execPath, "run", new URL("../../deploy/local/main.ts", import.meta.url).pathname, "up", "--dir", dir], { stdout: "pipe", stderr: "pipe" });
    expect(await second.exited).toBe(1);
    expect(await new Response(second.stdout).text()).toBe("");
    expect(await new Response(second.stderr).text()).toContain("LOCAL_STACK_EXISTS");
    const node = up!.stack.nodes[0]!;
    const r = await execIn(node.netns, ["curl", "-s", "-m", "5", "169.254.169.254/latest/meta-data/instance-id"]);
    expect(r.stdout).toBe(node.instanceId);
    expect(await Bun.file(`${dir}/local-manifest.json`).exists()).toBe(true);
  });

  test("the AWS SDK inside a node creates, attaches and assigns; the link and the address follow EC2", async () => {
    const node0 = up!.stack.nodes[0]!;
    const node1 = up!.stack.nodes[1]!;
    const endpoint = up!.stack.ec2.endpoint;
    const eni = await sdkInNode(node1.netns, ["create-attach", endpoint, node1.subnetId, node1.instanceId, "1"]);
    expect(eni.eniId).toMatch(/^eni-/);
    const mac = String(eni.mac);
    const link = await waitFor("eth1 in node 1", async () => (await linksIn(node1.netns)).find((l) => l.ifname === "eth1" && l.address === mac));
    expect(link.flags).not.toContain("UP");

    // What net-config will do; done by hand here.
    const secondary = "10.0.0.200";
    for (const argv of [
      ["ip", "link", "set", "eth1", "up"],
      ["ip", "addr", "add", `${secondary}/32`, "dev", "eth1"],
      ["ip", "rule", "add", "from", secondary, "table", "101"],
      ["ip", "route", "add", "default", "via", "10.0.0.1", "dev", "eth1", "onlink", "table", "101"],
    ]) expect((await execIn(node1.netns, argv)).exitCode).toBe(0);

    expect(await ping(node0.netns, secondary)).toBe(false);
    const assigned = await sdkInNode(node0.netns, ["assign", endpoint, String(eni.eniId), secondary]);
    expect(assigned.assigned).toEqual([secondary]);
    await waitFor("route to the secondary IP", async () => ((await ping(node0.netns, secondary)) ? true : undefined));
    await sdkInNode(node0.netns, ["unassign", endpoint, String(eni.eniId), secondary]);
    await waitFor("secondary IP unreachable", async () => ((await ping(node0.netns, secondary)) ? undefined : true));
  });
});

gate.describe("down after a crashed up (root)", () => {
  const dir = tempDir("crash");
  afterAll(async () => {
    await runDown(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  test("SIGKILL to up, then down: no namespace, link, mount, process or file is left", async () => {
    const up = await startUp(dir, ["--nodes", "1", "--cloud-only"]);
    const manifest = (await Bun.file(`${dir}/local-manifest.json`).json()) as { pids: number[] };
    up.proc.kill("SIGKILL");
    await up.proc.exited;
    expect((await leftovers(dir)).length).toBeGreaterThan(0);
    const d = await runDown(dir);
    expect(d.stderr).toBe("");
    expect(d.exitCode).toBe(0);
    expect(await leftovers(dir, [up.proc.pid, ...manifest.pids])).toEqual([]);
  });
});
