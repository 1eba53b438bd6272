/**
 * The aws-node DaemonSet for real, on a two-node local deployment in daemonset mode: the image
 * built here (cached between runs), deploy/k8s/aws-node.yaml applied with kubectl, a pod per
 * node run by the nodes' kubelets; workloads made with kubectl, as a user of a cluster would.
 * - aws-node is Ready on both nodes (kubectl get ds: desired = ready), the nodes Ready only
 *   with the conflist addr-broker installed; the services log to their own files in the node's
 *   log directory and run with the capabilities the manifest gives them;
 * - pods get VPC addresses (on one of their node's ENIs in EC2, on eth0 in the pod), reach
 *   each other across nodes and the outside, seen there as their node's primary IP (SNAT);
 * - deleting a pod releases its address: it cools, and leaves the checkpoint and the kernel;
 * - `kubectl set env daemonset aws-node -c aws-node` rolls out one node at a time and reaches
 *   every service: the new cooldown in addr-broker, the new warm target in pool-manager and in
 *   EC2's addresses;
 * - a killed service container is restarted by the kubelet, and a pod made while it is down
 *   gets its address once it is back (the kubelet retries the ADD).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type RunningDeployment } from "../../deploy/local/deployment.ts";
import { awsNodeStatus, waitAwsNodeReady } from "../../deploy/local/aws-node-daemonset.ts";
import { LABEL } from "../../deploy/local/kubelet/names.ts";
import { writeStack } from "../../deploy/local/stack.ts";
import { stackNames } from "../../deploy/local/vpc/names.ts";
import { run } from "./podman/runtime.ts";
import { apply, getJson, kubectl, mainTs } from "./kubelet/kube.ts";
import { brokerDebug, checkpointAddresses, deploymentRemains, eniHolding, eventually, linkNames } from "./podman/node-state.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl", "mmdebstrap");

type PodJson = { metadata: { uid: string }; spec: { nodeName?: string }; status?: { phase?: string; podIP?: string; containerStatuses?: Array<{ name: string; restartCount: number; ready: boolean }> } };

gate.describe("the aws-node DaemonSet on a two-node local deployment (root)", () => {
  const base = mkdtempSync(join(tmpdir(), `e2e-daemonset-${process.pid}-`));
  const dir = join(base, "deploy");
  let dep: RunningDeployment;

  const stack = () => dep.stack;
  const node = (i: number) => dep.stack.nodes[i]!;
  const exec = (pod: string, argv: string[]) => mainTs(["exec", "--dir", dir, `default/${pod}`, "--", ...argv]);

  function busybox(name: string, nodeIndex: number, script = "exec sleep 3600") {
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default", labels: { app: "e2e-daemonset" } },
      spec: { nodeName: node(nodeIndex).name, terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sh", "-c", script] }] },
    };
  }

  async function runningWithIp(name: string, timeoutMs = 60_000): Promise<PodJson & { status: { podIP: string } }> {
    return eventually(`pod ${name} Running with an address`, timeoutMs, async () => {
      const p = await getJson<PodJson>(stack(), "pod", name);
      return p?.status?.phase === "Running" && p.status.podIP ? (p as PodJson & { status: { podIP: string } }) : undefined;
    });
  }

  async function awsNodePod(nodeIndex: number): Promise<PodJson & { metadata: { name: string } }> {
    const r = await kubectl(stack(), ["-n", "kube-system", "get", "pods", "-l", "k8s-app=aws-node", "-o", "json"]);
    const pods = (JSON.parse(r.stdout) as { items: Array<PodJson & { metadata: { name: string } }> }).items;
    const pod = pods.find((p) => p.spec.nodeName === node(nodeIndex).name);
    if (!pod) throw new Error(`no aws-node pod on ${node(nodeIndex).name}`);
    return pod;
  }

  async function poolDebug(nodeIndex: number): Promise<{ pool: { settings: { warmIpTarget: number; minimumIpTarget: number } } }> {
    const res = await fetch("http://localhost/debug", { unix: join(node(nodeIndex).runDir!, "pool-manager.sock"), signal: AbortSignal.timeout(5000) });
    return (await res.json()) as never;
  }

  async function ec2Addresses(instanceId: string): Promise<number> {
    const res = await fetch("http://localhost/state", { unix: stack().ec2.control, signal: AbortSignal.timeout(5000) });
    const state = (await res.json()) as { enis: Record<string, { secondaryIps: string[]; attachment: { instanceId: string } | null }> };
    return Object.values(state.enis).filter((e) => e.attachment?.instanceId === instanceId).reduce((n, e) => n + e.secondaryIps.length, 0);
  }

  beforeAll(async () => {
    dep = await startDeployment({
      dir,
      nodes: 2,
      mode: "daemonset",
      // A short cooldown so a release is seen within the test; the rest is the manifest's.
      env: { IP_COOLDOWN_PERIOD: "10" },
      // The kubelet's crash back-off starts at 10 s on a real node; 1 s keeps the test short.
      kubeletTuning: { restartBackoff: { baseMs: 1000, maxMs: 5000 }, setupBackoff: { baseMs: 500, maxMs: 3000 } },
    });
    await writeStack(dir, dep.stack); // what main.ts exec reads, as after `up`
  }, 30 * 60_000);

  afterAll(async () => {
    await kubectl(stack(), ["delete", "pods", "-l", "app=e2e-daemonset", "--wait=true", "--timeout=60s"]).catch(() => undefined);
    await dep?.stop();
    const remains = await deploymentRemains(dir);
    rmSync(base, { recursive: true, force: true });
    expect(remains).toEqual({ netns: [], containers: "" });
  }, 180_000);

  test("aws-node is Ready on both nodes; the nodes are Ready with the conflist addr-broker installed", async () => {
    const ds = await awsNodeStatus(stack());
    expect(ds.status).toMatchObject({ desiredNumberScheduled: 2, numberReady: 2, updatedNumberScheduled: 2 });
    const get = await kubectl(stack(), ["-n", "kube-system", "get", "ds", "aws-node"]);
    expect(get.stdout).toMatch(/aws-node\s+2\s+2\s+2\s+2\s+2/);
    for (const n of stack().nodes) {
      const conflist = JSON.parse(readFileSync(n.conflist!, "utf8")) as { name: string; plugins: Array<{ type: string }> };
      expect(conflist.name).toBe("aws-cni");
      expect(conflist.plugins[0]!.type).toBe("aws-cni");
      // Each service logs to its own file in the node's log directory (the hostPath volume).
      const logDir = join(n.runDir!, "..", "logs");
      expect(readdirSync(logDir)).toEqual(expect.arrayContaining(["ipamd.log", "addr-broker.log", "net-config.log", "metrics.log"]));
    }
    // pool-manager reaches the API server through the in-cluster config (CLUSTER_ENDPOINT, http:// here): it reads its
    // node. The manifest's upstream targets select the compat policy, which (as upstream) does not watch pods.
    for (const n of stack().nodes) {
      const kube = await eventually(`pool-manager on ${n.name} connected to the API server`, 30_000, async () => {
        const res = await fetch("http://localhost/debug", { unix: join(n.runDir!, "pool-manager.sock"), signal: AbortSignal.timeout(5000) });
        const k = ((await res.json()) as { pool: { kubernetes: { phase: string; node: string; pods: unknown } } }).pool.kubernetes;
        return k.phase === "connected" ? k : undefined;
      });
      expect(kube.node).toBe(n.name);
      expect(kube.pods).toBe("not watched (demand-aware growth off)");
    }
    const describe = await kubectl(stack(), ["-n", "kube-system", "describe", "pod", (await awsNodePod(0)).metadata.name]);
    expect(describe.stdout).toContain("Liveness:");
    expect(describe.stdout).toContain("/app/bin/probe pool-manager live");
    expect(describe.stdout).toContain("/app/bin/probe pool-manager ready");
  });

  test("only net-config runs privileged: the other services hold no capability", async () => {
    const { prefix } = stackNames(dir);
    const caps = async (container: string) => {
      const names = (await run(["podman", "ps", "--filter", `label=${LABEL.stack}=${prefix}`, "--filter", `label=io.kubernetes.container.name=${container}`, "--format", "{{.Names}}"])).stdout.trim().split("\n");
      const status = await run(["podman", "exec", names[0]!, "/bin/sh", "-c", "grep CapEff /proc/1/status"]);
      return status.stdout.trim().split(/\s+/)[1];
    };
    for (const c of ["aws-node", "addr-broker", "metrics"]) expect({ c, eff: await caps(c) }).toEqual({ c, eff: "0000000000000000" });
    expect(BigInt(`0x${await caps("net-config")}`) & 1n << 12n).toBe(1n << 12n); // CAP_NET_ADMIN
    expect(await caps("policy-agent")).toBe("0000000000001000"); // CAP_NET_ADMIN alone (nftables)
  });

  test("pods made with kubectl get VPC addresses, reach each other across nodes and the outside (SNAT)", async () => {
    await apply(stack(), busybox("a0", 0, "nc -ll -p 9000 -e /bin/sh /www/reply & exec sleep 3600"));
    await apply(stack(), busybox("b1", 1));
    const a0 = await runningWithIp("a0");
    const b1 = await runningWithIp("b1");
    for (const [pod, p, i] of [["a0", a0, 0], ["b1", b1, 1]] as const) {
      expect(await eniHolding(stack(), node(i).instanceId, p.status.podIP)).toMatch(/^eni-/);
      const inPod = await exec(pod, ["ip", "addr", "show", "eth0"]);
      expect({ pod, out: inPod.stdout, err: inPod.stderr }).toMatchObject({ pod, out: expect.stringContaining(`inet ${p.status.podIP}/32`) });
    }
    expect((await exec("b1", ["ping", "-c", "1", "-W", "2", a0.status.podIP])).exitCode).toBe(0);
    expect((await exec("a0", ["ping", "-c", "1", "-W", "2", b1.status.podIP])).exitCode).toBe(0);
    const reply = await eventually("TCP across nodes", 15_000, async () => {
      const r = await exec("b1", ["sh", "-c", `echo hi | nc -w 3 ${a0.status.podIP} 9000`]);
      return r.stdout.includes("pong") ? r.stdout.trim() : undefined;
    });
    expect(reply).toBe("pong hi");
    const [host, port] = stack().outside.echo.split(":");
    for (const [pod, i] of [["a0", 0], ["b1", 1]] as const) {
      const r = await exec(pod, ["sh", "-c", `nc -w 3 ${host} ${port} </dev/null`]);
      expect(r.stdout).toMatch(new RegExp(`^from ${node(i).primaryIp.replaceAll(".", "\\.")}:\\d+$`, "m"));
    }
  }, 180_000);

  test("deleting a pod releases its address: it cools, and leaves the checkpoint and the node's links", async () => {
    await apply(stack(), busybox("c0", 0));
    const c0 = await runningWithIp("c0");
    const held = (await brokerDebug(node(0))).assignments.find((a) => a.address === c0.status.podIP);
    expect(held?.podName).toBe("c0");
    expect(await checkpointAddresses(node(0))).toContain(c0.status.podIP);
    const del = await kubectl(stack(), ["delete", "pod", "c0", "--wait=true", "--timeout=60s"]);
    expect(del.exitCode).toBe(0);
    const after = await brokerDebug(node(0));
    expect(after.assignments.map((a) => a.address)).not.toContain(c0.status.podIP);
    expect(after.cooling.map((c) => c.address)).toContain(c0.status.podIP);
    expect(await checkpointAddresses(node(0))).not.toContain(c0.status.podIP);
    expect(await linkNames(node(0).netns)).not.toContain(held!.hostVeth!);
  }, 120_000);

  test("kubectl set env -c aws-node rolls out one node at a time and reaches every service and the pool", async () => {
    const before = await ec2Addresses(node(0).instanceId);
    const oldPods = [(await awsNodePod(0)).metadata.uid, (await awsNodePod(1)).metadata.uid];
    const set = await kubectl(stack(), ["-n", "kube-system", "set", "env", "daemonset/aws-node", "-c", "aws-node", "WARM_IP_TARGET=2", "MINIMUM_IP_TARGET=2", "IP_COOLDOWN_PERIOD=7"]);
    expect(set.exitCode).toBe(0);
    // Never both nodes without aws-node at once (maxUnavailable 10 % of 2 → 1).
    let bothDown = false;
    const watching = (async () => {
      for (let i = 0; i < 2400; i++) {
        const s = (await awsNodeStatus(stack())).status;
        if ((s.numberReady ?? 0) === 0) bothDown = true;
        if (s.updatedNumberScheduled === 2 && s.numberReady === 2) return;
        await Bun.sleep(100);
      }
    })();
    const rollout = await kubectl(stack(), ["-n", "kube-system", "rollout", "status", "daemonset/aws-node", "--timeout=240s"]);
    await watching;
    expect(rollout.exitCode).toBe(0);
    expect(bothDown).toBe(false);
    await waitAwsNodeReady(stack(), 120_000);
    expect([(await awsNodePod(0)).metadata.uid, (await awsNodePod(1)).metadata.uid].some((u) => oldPods.includes(u))).toBe(false);
    for (const i of [0, 1]) {
      expect((await poolDebug(i)).pool.settings).toMatchObject({ warmIpTarget: 2, minimumIpTarget: 2 });
      expect((await fetch("http://localhost/debug", { unix: join(node(i).runDir!, "addr-broker.sock") }).then((r) => r.json()) as { settings: { cooldownSeconds: number } }).settings.cooldownSeconds).toBe(7);
    }
    // WARM_ENI_TARGET=1 kept a whole spare ENI's addresses; two warm addresses are far fewer.
    const after = await eventually("the pool shrinks to the new warm target", 120_000, async () => {
      const n = await ec2Addresses(node(0).instanceId);
      return n < before ? n : undefined;
    });
    expect(after).toBeLessThan(before);
  }, 420_000);

  test("a killed service container is restarted; a pod made meanwhile gets its address once it is back", async () => {
    const { prefix } = stackNames(dir);
    const pod = await awsNodePod(1);
    const restartsBefore = pod.status?.containerStatuses?.find((c) => c.name === "addr-broker")?.restartCount ?? 0;
    const name = (await run(["podman", "ps", "--filter", `label=${LABEL.stack}=${prefix}`, "--filter", `label=io.kubernetes.pod.uid=${pod.metadata.uid}`, "--filter", "label=io.kubernetes.container.name=addr-broker", "--format", "{{.Names}}"])).stdout.trim();
    expect(name).not.toBe("");
    expect((await run(["podman", "kill", name])).exitCode).toBe(0);
    await apply(stack(), busybox("d1", 1));
    const d1 = await runningWithIp("d1", 120_000);
    expect(await eniHolding(stack(), node(1).instanceId, d1.status.podIP)).toMatch(/^eni-/);
    // Its first ADD found addr-broker down (try again later), the kubelet retried it.
    const events = await kubectl(stack(), ["get", "events", "--field-selector", "involvedObject.name=d1", "-o", "json"]);
    const reasons = (JSON.parse(events.stdout) as { items: Array<{ reason: string; message: string }> }).items;
    console.log(`daemonset e2e: d1 events ${JSON.stringify(reasons.map((e) => `${e.reason}: ${e.message.slice(0, 120)}`))}`);
    expect(reasons.some((e) => e.reason === "FailedCreatePodSandBox")).toBe(true);
    const restarted = await eventually("addr-broker's restart counted", 60_000, async () => {
      const p = await awsNodePod(1);
      const s = p.status?.containerStatuses?.find((c) => c.name === "addr-broker");
      return s && s.restartCount > restartsBefore && s.ready ? s.restartCount : undefined;
    });
    expect(restarted).toBe(restartsBefore + 1);
  }, 240_000);
});
