/**
 * The kubelet of a one-node local deployment (processes mode: the services run as processes
 * in the node's namespace, the kubelet runs pods with podman on the busybox root filesystem)
 * driven with kubectl, as a user of a cluster would:
 * - a pod on the pod network gets a VPC address: status.podIP in the VPC, on one of the
 *   node's ENIs (per the simulated EC2), really on eth0 of its sandbox namespace; Ready;
 *   env from the downward API and a ConfigMap; `main.ts exec` and `main.ts logs` reach it;
 * - a hostNetwork pod sees the node's own interfaces and reports the node's IP;
 * - an aws-node-like pod: a privileged init container writing through a hostPath (mapped to
 *   the node's own log dir) and an emptyDir, httpGet readiness and tcpSocket liveness probes;
 * - graceful deletion: the kubelet stops the containers, runs CNI DEL, deletes the object;
 * - an exec liveness probe that starts failing gets the container restarted (restartCount 1,
 *   lastState terminated, Unhealthy and Killing events);
 * - `kubectl delete pod`: CNI DEL ran (the address cools in addr-broker), sandbox namespace,
 *   containers and pod directory gone;
 * - a kubelet restarted with its pods left running adopts them (same containers, same
 *   address) and cleans up after a pod deleted while it was away (CNI DEL, namespace);
 * - a kubelet stopped with its pods left running: `down` removes their containers and namespaces.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeployment, type RunningDeployment } from "../../deploy/local/deployment.ts";
import { down } from "../../deploy/local/down.ts";
import { Kubelet } from "../../deploy/local/kubelet/kubelet.ts";
import { LABEL, kubeletFiles, sandboxNetns } from "../../deploy/local/kubelet/names.ts";
import { Podman } from "../../deploy/local/kubelet/podman.ts";
import { nodeLayout } from "../../deploy/local/node-services.ts";
import { writeStack } from "../../deploy/local/stack.ts";
import { listNetns, runCommand } from "../../deploy/local/vpc/command.ts";
import { leftovers } from "../local/up-process.ts";
import { apply, getJson, kubectl, mainTs } from "./kubelet/kube.ts";
import { LOCAL_DEPLOYMENT, requires } from "../support/prerequisites.ts";
import { brokerDebug, eniHolding, eventually } from "./podman/node-state.ts";

const gate = requires(...LOCAL_DEPLOYMENT, "podman", "runc", "conmon", "nsenter", "kubectl");

type PodJson = { metadata: { uid: string }; status?: Record<string, any> };

gate.describe("the kubelet of a local deployment (root)", () => {
  const base = mkdtempSync(join(tmpdir(), `e2e-kubelet-${process.pid}-`));
  const dir = join(base, "deploy");
  let dep: RunningDeployment;
  let prefix = "";
  let podman: Podman;
  const stackContainers = () => podman.list({ [LABEL.stack]: prefix });

  const waitRunning = (name: string, timeoutMs = 60_000) =>
    eventually(`${name} Running and Ready`, timeoutMs, async () => {
      const p = await getJson<PodJson>(dep.stack, "pod", name);
      const ready = p?.status?.conditions?.find((c: { type: string }) => c.type === "Ready")?.status === "True";
      return p?.status?.phase === "Running" && ready && p.status.podIP ? p : undefined;
    });

  beforeAll(async () => {
    dep = await startDeployment({ dir, nodes: 1, env: { IP_COOLDOWN_PERIOD: "60" } });
    await writeStack(dir, dep.stack);
    prefix = dep.cloud.names.prefix;
    podman = new Podman(kubeletFiles(dir).containersConf, base);
  }, 120_000);

  afterAll(async () => {
    await dep?.stop();
    const left = [...(await leftovers(dir)), ...(await stackContainers()).map((c) => `container ${c.name}`)];
    rmSync(base, { recursive: true, force: true });
    expect(left).toEqual([]);
  }, 120_000);

  test("the node is Ready once its CNI configuration is there", async () => {
    const node = await getJson(dep.stack, "node", dep.stack.nodes[0]!.name, "");
    const ready = node?.status?.conditions?.find((c: { type: string }) => c.type === "Ready");
    expect(ready).toMatchObject({ status: "True", reason: "KubeletReady" });
    expect(typeof ready.lastHeartbeatTime).toBe("string");
  });

  test("a pod on the pod network gets a VPC address on eth0 of its sandbox, is Ready, and exec/logs reach it", async () => {
    const node = dep.stack.nodes[0]!;
    await apply(dep.stack, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "web-settings", namespace: "default" }, data: { GREETING: "hello from a configmap" } });
    await apply(dep.stack, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", namespace: "default" },
      spec: {
        nodeName: node.name,
        terminationGracePeriodSeconds: 1,
        containers: [{
          name: "main",
          image: "busybox:1.36",
          command: ["sh", "-c", 'echo "started as $POD_NAME on $NODE"; echo "$GREETING"; touch /tmp/ready; exec sleep 3600'],
          env: [
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
            { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
            { name: "MY_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
            { name: "GREETING", valueFrom: { configMapKeyRef: { name: "web-settings", key: "GREETING" } } },
          ],
          readinessProbe: { exec: { command: ["cat", "/tmp/ready"] }, periodSeconds: 1 },
          resources: { requests: { cpu: "10m" } },
        }],
      },
    });
    const pod = await waitRunning("web");
    const ip = pod.status!.podIP as string;
    expect(ip).toMatch(/^10\.0\.\d+\.\d+$/);
    expect(ip).not.toBe(node.primaryIp);
    expect(await eniHolding(dep.stack, node.instanceId, ip)).toBeDefined();
    const netns = sandboxNetns(prefix, pod.metadata.uid);
    const addr = await runCommand(["ip", "-n", netns, "-4", "-o", "addr", "show", "eth0"]);
    expect(addr.stdout).toContain(` ${ip}/`);
    expect(pod.status).toMatchObject({ hostIP: node.primaryIp, podIPs: [{ ip }] });
    expect(pod.status!.containerStatuses[0]).toMatchObject({ name: "main", ready: true, started: true, restartCount: 0, state: { running: {} } });

    const inPod = await mainTs(["exec", "--dir", dir, "default/web", "--", "sh", "-c", 'ip -4 -o addr show eth0; echo "ip=$MY_IP"']);
    expect(inPod.exitCode).toBe(0);
    expect(inPod.stdout).toContain(` ${ip}/`);
    expect(inPod.stdout).toContain(`ip=${ip}`);
    expect((await mainTs(["exec", "--dir", dir, "default/web", "-c", "main", "--", "sh", "-c", "exit 7"])).exitCode).toBe(7);
    const logs = await mainTs(["logs", "--dir", dir, "default/web"]);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).toBe(`started as web on ${node.name}\nhello from a configmap\n`);
  }, 90_000);

  test("exec/logs: a pod or container that does not exist is exit 1", async () => {
    const noPod = await mainTs(["exec", "--dir", dir, "default/nope", "--", "true"]);
    expect(noPod.exitCode).toBe(1);
    expect(noPod.stderr).toContain("LOCAL_NO_POD");
    const noContainer = await mainTs(["logs", "--dir", dir, "default/web", "-c", "sidecar"]);
    expect(noContainer.exitCode).toBe(1);
    expect(noContainer.stderr).toContain("container sidecar is not valid for pod web");
  }, 30_000);

  test("a hostNetwork pod sees the node's interfaces and reports the node's IP", async () => {
    const node = dep.stack.nodes[0]!;
    await apply(dep.stack, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "on-host", namespace: "default" },
      spec: { nodeName: node.name, hostNetwork: true, terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"], securityContext: { capabilities: { add: ["NET_ADMIN"] } } }] },
    });
    const pod = await waitRunning("on-host");
    expect(pod.status!.podIP).toBe(node.primaryIp);
    const inPod = await mainTs(["exec", "--dir", dir, "default/on-host", "--", "ip", "-4", "-o", "addr", "show", "eth0"]);
    const onNode = await runCommand(["ip", "-n", node.netns, "-4", "-o", "addr", "show", "eth0"]);
    expect(inPod.stdout).toContain(` ${node.primaryIp}/`);
    expect(inPod.stdout.split(/\s+/).slice(0, 4)).toEqual(onNode.stdout.split(/\s+/).slice(0, 4));
    expect((await kubectl(dep.stack, ["delete", "pod", "on-host"])).exitCode).toBe(0);
  }, 90_000);

  test("an aws-node-like pod: privileged init container, hostPath and emptyDir volumes, httpGet and tcpSocket probes", async () => {
    const node = dep.stack.nodes[0]!;
    const layout = nodeLayout(dir, 0);
    await apply(dep.stack, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "node-agent", namespace: "kube-system" },
      spec: {
        nodeName: node.name,
        hostNetwork: true,
        terminationGracePeriodSeconds: 1,
        volumes: [
          { name: "log-dir", hostPath: { path: "/var/log/aws-routed-eni", type: "DirectoryOrCreate" } },
          { name: "state", hostPath: { path: "/var/lib/agent", type: "DirectoryOrCreate" } },
          { name: "scratch", emptyDir: {} },
        ],
        initContainers: [{
          name: "install",
          image: "busybox",
          securityContext: { privileged: true },
          command: ["sh", "-c", "echo installed > /host/var/log/aws-routed-eni/kubelet-e2e.txt; echo init-ran > /scratch/marker; grep CapEff /proc/self/status"],
          volumeMounts: [{ name: "log-dir", mountPath: "/host/var/log/aws-routed-eni" }, { name: "scratch", mountPath: "/scratch" }],
        }],
        containers: [{
          name: "agent",
          image: "busybox",
          command: ["sh", "-c", "cat /scratch/marker; mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p 18181 -h /www"],
          readinessProbe: { httpGet: { path: "/index.html", port: 18181 }, periodSeconds: 1 },
          livenessProbe: { tcpSocket: { port: 18181 }, initialDelaySeconds: 1, periodSeconds: 1 },
          volumeMounts: [{ name: "scratch", mountPath: "/scratch" }, { name: "state", mountPath: "/var/lib/agent" }],
        }],
      },
    });
    const pod = await eventually("node-agent Running and Ready", 60_000, async () => {
      const p = await getJson<PodJson>(dep.stack, "pod", "node-agent", "kube-system");
      return p?.status?.phase === "Running" && p.status.containerStatuses?.[0]?.ready ? p : undefined;
    });
    expect(pod.status!.initContainerStatuses[0]).toMatchObject({ name: "install", ready: true, state: { terminated: { exitCode: 0, reason: "Completed" } } });
    expect(await Bun.file(join(layout.logDir, "kubelet-e2e.txt")).text()).toBe("installed\n");
    expect(existsSync(join(layout.root, "host/var/lib/agent"))).toBe(true);
    const initLog = await mainTs(["logs", "--dir", dir, "kube-system/node-agent", "-c", "install"]);
    const capEff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(initLog.stdout)?.[1] ?? "0"}`);
    expect(capEff & (1n << 12n)).toBe(1n << 12n); // NET_ADMIN: privileged
    expect(capEff & (1n << 21n)).toBe(1n << 21n); // SYS_ADMIN: privileged
    expect((await mainTs(["logs", "--dir", dir, "kube-system/node-agent"])).stdout).toBe("init-ran\n");
    expect((await kubectl(dep.stack, ["delete", "pod", "node-agent", "-n", "kube-system"])).exitCode).toBe(0);
  }, 90_000);

  test("graceful deletion (deletionTimestamp set): containers stopped, CNI DEL, then the kubelet deletes the pod", async () => {
    const node = dep.stack.nodes[0]!;
    await apply(dep.stack, { apiVersion: "v1", kind: "Pod", metadata: { name: "graceful", namespace: "default" }, spec: { nodeName: node.name, terminationGracePeriodSeconds: 5, containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"] }] } });
    const pod = await waitRunning("graceful");
    const ip = pod.status!.podIP as string;
    // What the API server does on a graceful DELETE of a bound pod: mark it, keep it.
    const store = dep.cloud.faults.kube.store;
    const stored = store.get("pods", "default", "graceful")!;
    store.update("pods", { ...stored, metadata: { ...stored.metadata, deletionTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"), deletionGracePeriodSeconds: 5 } });
    await eventually("graceful deleted by its kubelet", 30_000, async () => (store.get("pods", "default", "graceful") === undefined ? true : undefined));
    expect(await podman.list({ [LABEL.uid]: pod.metadata.uid })).toEqual([]);
    expect(await listNetns()).not.toContain(sandboxNetns(prefix, pod.metadata.uid));
    expect((await brokerDebug(node)).cooling.map((c) => c.address)).toContain(ip);
    const events = JSON.parse((await kubectl(dep.stack, ["get", "events", "-o", "json"])).stdout).items as Array<{ reason: string; message: string; involvedObject: { name: string } }>;
    expect(events.filter((e) => e.involvedObject.name === "graceful").map((e) => `${e.reason}: ${e.message}`)).toContain("Killing: Stopping container main");
  }, 60_000);

  test("a failing exec liveness probe gets the container restarted", async () => {
    const node = dep.stack.nodes[0]!;
    // The first run stops being alive after 3 s; the marker on the emptyDir keeps the second one alive.
    const script = "touch /tmp/alive; if [ ! -e /data/failed-once ]; then touch /data/failed-once; (sleep 3; rm /tmp/alive) & fi; exec sleep 3600";
    await apply(dep.stack, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "flaky", namespace: "default" },
      spec: {
        nodeName: node.name,
        terminationGracePeriodSeconds: 1,
        volumes: [{ name: "data", emptyDir: {} }],
        containers: [{
          name: "main",
          image: "busybox",
          command: ["sh", "-c", script],
          volumeMounts: [{ name: "data", mountPath: "/data" }],
          livenessProbe: { exec: { command: ["cat", "/tmp/alive"] }, periodSeconds: 1, failureThreshold: 2 },
        }],
      },
    });
    const restarted = await eventually("flaky restarted once and running again", 60_000, async () => {
      const p = await getJson<PodJson>(dep.stack, "pod", "flaky");
      const s = p?.status?.containerStatuses?.[0];
      return s?.restartCount === 1 && s.state?.running && s.ready ? s : undefined;
    });
    expect(restarted.lastState.terminated).toMatchObject({ reason: "Error" });
    expect(restarted.lastState.terminated.exitCode).toBeGreaterThan(0);
    const events = await kubectl(dep.stack, ["get", "events", "-o", "json"]);
    const reasons = (JSON.parse(events.stdout).items as Array<{ reason: string; message: string; involvedObject: { name: string } }>)
      .filter((e) => e.involvedObject.name === "flaky")
      .map((e) => `${e.reason}: ${e.message}`);
    expect(reasons.some((r) => r.startsWith("Unhealthy: Liveness probe failed"))).toBe(true);
    expect(reasons).toContain("Killing: Container main failed liveness probe, will be restarted");
    await Bun.sleep(4000);
    expect((await getJson<PodJson>(dep.stack, "pod", "flaky"))?.status?.containerStatuses?.[0]?.restartCount).toBe(1);
  }, 90_000);

  test("kubectl delete pod: CNI DEL ran (the address cools), sandbox, containers and files are gone", async () => {
    const node = dep.stack.nodes[0]!;
    const pod = (await getJson<PodJson>(dep.stack, "pod", "web"))!;
    const ip = pod.status!.podIP as string;
    const uid = pod.metadata.uid;
    expect((await brokerDebug(node)).assignments.map((a) => a.address)).toContain(ip);
    const del = await kubectl(dep.stack, ["delete", "pod", "web", "--wait=true"]);
    expect(del.exitCode).toBe(0);
    await eventually("web's containers gone", 30_000, async () => ((await podman.list({ [LABEL.uid]: uid })).length === 0 ? true : undefined));
    const debug = await eventually("web's address cooling", 30_000, async () => {
      const d = await brokerDebug(node);
      return d.cooling.some((c) => c.address === ip) ? d : undefined;
    });
    expect(debug.assignments.map((a) => a.address)).not.toContain(ip);
    // After DEL: the sandbox namespace, then the pod's directory.
    await eventually("web's sandbox namespace and directory gone", 10_000, async () =>
      !(await listNetns()).includes(sandboxNetns(prefix, uid)) && !existsSync(join(dir, "nodes/0/pods", uid)) ? true : undefined);
  }, 60_000);

  test("a restarted kubelet adopts the pods left running and cleans up after one deleted meanwhile", async () => {
    const node = dep.stack.nodes[0]!;
    const sleeper = (name: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default" }, spec: { nodeName: node.name, terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] } });
    await apply(dep.stack, sleeper("kept"));
    await apply(dep.stack, sleeper("gone-meanwhile"));
    const kept = await waitRunning("kept");
    const gone = await waitRunning("gone-meanwhile");
    const keptId = kept.status!.containerStatuses[0].containerID;
    expect(await dep.kubelets[0]!.stop({ leavePods: true })).toEqual([]);
    expect((await kubectl(dep.stack, ["delete", "pod", "gone-meanwhile", "--wait=false"])).exitCode).toBe(0);
    const successor = new Kubelet(dep.kubelets[0]!.opts);
    dep.kubelets[0] = successor;
    await successor.start();
    await eventually("gone-meanwhile's containers, sandbox and address released", 30_000, async () => {
      const containers = await podman.list({ [LABEL.uid]: gone.metadata.uid });
      const netnsLeft = (await listNetns()).includes(sandboxNetns(prefix, gone.metadata.uid));
      const cooling = (await brokerDebug(node)).cooling.some((c) => c.address === gone.status!.podIP);
      return containers.length === 0 && !netnsLeft && cooling ? true : undefined;
    });
    const after = (await getJson<PodJson>(dep.stack, "pod", "kept"))!;
    expect(after.status).toMatchObject({ phase: "Running", podIP: kept.status!.podIP });
    expect(after.status!.containerStatuses[0]).toMatchObject({ containerID: keptId, restartCount: 0, ready: true });
    expect((await podman.list({ [LABEL.uid]: kept.metadata.uid })).map((c) => `podman://${c.id}`)).toEqual([keptId]);
  }, 90_000);

  test("a kubelet stopped with its pods left running: down removes their containers and namespaces", async () => {
    const node = dep.stack.nodes[0]!;
    await apply(dep.stack, { apiVersion: "v1", kind: "Pod", metadata: { name: "left", namespace: "default" }, spec: { nodeName: node.name, terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] } });
    const pod = await waitRunning("left");
    expect(await dep.kubelets[0]!.stop({ leavePods: true })).toEqual([]);
    expect((await podman.list({ [LABEL.uid]: pod.metadata.uid })).map((c) => c.running)).toEqual([true]);
    expect(await listNetns()).toContain(sandboxNetns(prefix, pod.metadata.uid));
    expect(await down(dir)).toEqual([]);
    expect(await stackContainers()).toEqual([]);
    expect((await listNetns()).filter((n) => n.startsWith(`${prefix}-`))).toEqual([]);
  }, 90_000);
});
