// addr-broker's pod annotator without a Kubernetes API: none is created when no API is
// configured, and the broker never loads the client unless ANNOTATE_POD_IP asks for it.
// (Against the simulated API over HTTP: tests/addr-broker/pod-annotator.test.ts.)
import { describe, expect, test } from "bun:test";
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

  test("without ANNOTATE_POD_IP the broker never loads @kubernetes/client-node", async () => {
    const script = [
      `await import(${JSON.stringify(join(import.meta.dir, "..", "app", "app.ts"))});`,
      `await import(${JSON.stringify(join(import.meta.dir, "pod-annotator.ts"))});`,
      `console.log(Object.keys(require.cache).filter((k) => k.includes("@kubernetes/client-node")).length);`,
    ].join("\n");
    const p = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out.trim()).toBe("0");
  });
});
