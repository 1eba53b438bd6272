// addr-broker's pod annotator without a Kubernetes API: none is created when no API is
// configured, and the broker never loads the client unless ANNOTATE_POD_IP asks for it.
// (Against the simulated API over HTTP: tests/addr-broker/pod-annotator.test.ts.)
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLog } from "../core/ports.ts";
import { createPodAnnotator } from "./pod-annotator.ts";

describe("ANNOTATE_POD_IP", () => {
  test("no API configured: no annotator (and the caller is told why in the log)", async () => {
    const warned: string[] = [];
    const log = { ...silentLog, warn: (_o: object, msg?: string) => void warned.push(msg ?? "") };
    expect(await createPodAnnotator({ kubeconfig: undefined, apiServer: undefined, clusterEndpoint: undefined, nodeName: undefined, annotatePodIp: true }, { log })).toBeUndefined();
    expect(warned.join()).toContain("no Kubernetes API is configured");
  });

  /** The @kubernetes/client-node modules a fresh process has loaded after `lines`. */
  async function clientNodeModules(lines: string[]): Promise<string[]> {
    const script = [...lines, `console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes("@kubernetes/client-node")).map((k) => k.split("@kubernetes/client-node/")[1])));`].join("\n");
    const p = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    return JSON.parse(out) as string[];
  }

  test("without ANNOTATE_POD_IP the broker never loads @kubernetes/client-node", async () => {
    const app = JSON.stringify(join(import.meta.dir, "..", "app", "app.ts"));
    expect(await clientNodeModules([`await import(${app});`, `await import(${JSON.stringify(join(import.meta.dir, "pod-annotator.ts"))});`])).toEqual([]);
  });

  test("with ANNOTATE_POD_IP and a token kubeconfig, only client-node's kubeconfig readers are loaded", async () => {
    const dir = mkdtempSync(join(tmpdir(), `ab-annotator-${process.pid}-`));
    try {
      const kc = join(dir, "kubeconfig");
      const one = (kind: string, body: object) => [{ name: "x", [kind]: body }];
      writeFileSync(kc, JSON.stringify({ clusters: one("cluster", { server: "http://127.0.0.1:9" }), users: one("user", { token: "t" }), contexts: one("context", { cluster: "x", user: "x" }), "current-context": "x" }));
      const k = JSON.stringify({ kubeconfig: kc, apiServer: undefined, clusterEndpoint: undefined, nodeName: "n", annotatePodIp: true });
      const log = `{ debug() {}, info() {}, warn() {}, error() {} }`;
      const made = `const a = await (await import(${JSON.stringify(join(import.meta.dir, "pod-annotator.ts"))})).createPodAnnotator(${k}, { log: ${log} }); if (!a) throw new Error("no annotator");`;
      expect(await clientNodeModules([made])).toEqual(["dist/config_types.js"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
