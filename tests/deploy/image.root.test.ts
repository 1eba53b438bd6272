/**
 * The aws-node image, built here (ensureImage: cached, so a warm run costs seconds): what it
 * carries, what its init container installs on a node (run against a temp host dir, as the
 * DaemonSet mounts /opt/cni/bin), a service and its probe run from it, and the DaemonSet
 * pinned to the architecture it is built for. Root, podman and mmdebstrap are needed
 * (tests/support/prerequisites.ts: a strict run fails without them, naming what is missing).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { glibcObstacle, newestGlibc, readElfDependencies } from "../../deploy/k8s/image/elf.ts";
import { ensureImage, formatMB, IMAGE_SIZE_BUDGET_BYTES, imageTag, type EnsuredImage } from "../../deploy/k8s/image/build.ts";
import { CHAINED_PLUGINS, MIN_NODE_GLIBC } from "../../deploy/k8s/image/layout.ts";
import { podman, TOOL_PATH } from "../../deploy/k8s/image/podman.ts";
import { requires } from "../support/prerequisites.ts";

const REPO = join(import.meta.dir, "../..");
const NAME_PREFIX = `awscni-imagetest-${process.pid}`;

requires("root", "podman", "mmdebstrap").describe("the aws-node image", () => {
  let image: EnsuredImage;
  const dirs: string[] = [];
  const tempDir = (what: string) => {
    const d = mkdtempSync(join(tmpdir(), `image-test-${what}-`));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    image = await ensureImage();
    console.log(`image: ${image.tag} ${formatMB(image.sizeBytes)}, ${image.built ? "built" : "up to date"} in ${image.seconds.toFixed(1)} s`);
  }, 45 * 60_000);

  afterAll(async () => {
    const listed = await podman(["ps", "-a", "--format", "{{.Names}}", "--filter", `name=^${NAME_PREFIX}`]);
    for (const name of listed.stdout.split("\n").filter(Boolean)) await podman(["rm", "-f", "-t", "0", name]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("tagged with the package version, within its size budget, for the architecture the DaemonSet pins", () => {
    expect(image.tag).toBe(imageTag(REPO));
    expect(image.tag).toBe(`localhost/aws-vpc-cni:${JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version}`);
    expect(image.sizeBytes).toBeLessThanOrEqual(IMAGE_SIZE_BUDGET_BYTES);
    const docs = Bun.YAML.parse(readFileSync(join(REPO, "deploy/k8s/aws-node.yaml"), "utf8")) as Array<{ kind: string; spec?: any }>;
    const ds = docs.find((d) => d.kind === "DaemonSet")!;
    const terms = ds.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms as Array<{ matchExpressions: Array<{ key: string; operator: string; values: string[] }> }>;
    for (const term of terms) {
      expect(term.matchExpressions).toContainEqual({ key: "kubernetes.io/arch", operator: "In", values: [image.architecture] });
    }
  });

  test("carries what runs and nothing else: no sources, node_modules, package manager or node", async () => {
    const inImage = (script: string) => podman(["run", "--rm", "--network", "none", image.tag, "sh", "-c", script], { timeoutMs: 60_000 });
    const strays = await inImage("find / -xdev \\( -name node_modules -o -name .git -o -name '*.ts' -o -name package.json \\) -print; for c in npm node apt apt-get tsc gcc go; do command -v $c || true; done");
    expect(strays).toMatchObject({ exitCode: 0, stdout: "", stderr: "" });
    const listed = await inImage("ls /app/bin; ls /app/cni; test -x /app/bin/install-cni && test -x /app/bin/service && test -x /app/bin/probe && echo executable");
    expect(listed.stdout.trim().split("\n")).toEqual(["aws-cni", "bun", "install-cni", "policy-controller", "probe", "service", ...[...CHAINED_PLUGINS].sort(), "executable"]);
    const tools = await inImage("bun --version; ip -V; iptables-nft --version; ip6tables-legacy-restore --version; nft --version; nsenter --version");
    expect(tools.stderr).toBe("");
    expect(tools.stdout).toMatch(/^1\.\d+\.\d+\nip utility, iproute2-.*\niptables v[\d.]+ \(nf_tables\)\nip6tables-restore v[\d.]+ \(legacy\)\nnftables v.*\nnsenter from util-linux/);
  });

  test("the init container installs on the node only binaries a glibc 2.26 node runs, and they answer VERSION", async () => {
    const hostBin = tempDir("cni-bin");
    const r = await podman(["run", "--rm", "--network", "none", "--privileged", "-v", `${hostBin}:/host/opt/cni/bin`, image.tag, "/app/bin/install-cni"], { timeoutMs: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(readdirSync(hostBin).sort()).toEqual(["aws-cni", ...CHAINED_PLUGINS].sort());
    for (const name of CHAINED_PLUGINS) {
      const deps = readElfDependencies(join(hostBin, name));
      expect({ name, static: deps.static }).toEqual({ name, static: true });
    }
    const shim = readElfDependencies(join(hostBin, "aws-cni"));
    expect(glibcObstacle(shim, MIN_NODE_GLIBC)).toBeUndefined();
    expect(newestGlibc(shim)![1]).toBeLessThanOrEqual(MIN_NODE_GLIBC[1]);
    for (const name of ["aws-cni", ...CHAINED_PLUGINS]) {
      const p = Bun.spawn([join(hostBin, name)], { env: { CNI_COMMAND: "VERSION", PATH: TOOL_PATH }, stdin: new Blob(['{"cniVersion":"1.0.0"}']), stdout: "pipe", stderr: "pipe" });
      const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
      expect({ name, code }).toEqual({ name, code: 0 });
      expect(JSON.parse(out).supportedVersions).toContain("1.0.0");
    }
  });

  test("a service runs from its bundle, the probe reads it, and a stop reaches Bun", async () => {
    const runDir = tempDir("run");
    const name = `${NAME_PREFIX}-metrics`;
    const started = await podman(["run", "-d", "--name", name, "--network", "none", "-v", `${runDir}:/var/run/aws-node`, image.tag, "/app/bin/service", "metrics"]);
    expect(started.exitCode).toBe(0);
    const probe = (...args: string[]) => podman(["exec", name, "/app/bin/probe", ...args]);
    let live = await probe("metrics", "live");
    for (let i = 0; i < 100 && live.exitCode !== 0; i++) {
      await Bun.sleep(200);
      live = await probe("metrics", "live");
    }
    expect(live).toMatchObject({ exitCode: 0, stdout: `metrics live (GET /livez on /var/run/aws-node/metrics.sock): 200 {"ok":true}\n` });
    expect((await probe("metrics", "ready")).exitCode).toBe(0);
    expect(await probe("pool-manager", "live")).toMatchObject({ exitCode: 1, stdout: "pool-manager live (GET /livez on /var/run/aws-node/pool-manager.sock): unreachable (ENOENT)\n" });
    expect((await probe("ipamd", "live")).exitCode).toBe(2);
    const t0 = performance.now();
    expect((await podman(["stop", "-t", "10", name])).exitCode).toBe(0);
    expect(performance.now() - t0).toBeLessThan(8000);
    expect((await podman(["inspect", "--format", "{{.State.ExitCode}}", name])).stdout.trim()).toBe("0");
  }, 60_000);

  test("asked again with nothing changed, it is not rebuilt", async () => {
    const again = await ensureImage();
    expect(again.built).toBe(false);
    expect(again.id).toBe(image.id);
    expect(again.seconds).toBeLessThan(30);
  }, 120_000);
});
