// kubectl and main.ts from the kubelet tests, always asynchronously: the API server they talk
// to runs in the test's own process.
import type { Stack } from "../../../deploy/local/stack.ts";

const MAIN = new URL("../../../deploy/local/main.ts", import.meta.url).pathname;

export interface Ran {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function spawn(argv: string[], stdin?: string, timeoutMs = 60_000): Promise<Ran> {
  const p = Bun.spawn(argv, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  try {
    const [stdout, stderr, exitCode] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { exitCode, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

export function kubectl(stack: Stack, args: string[], stdin?: string): Promise<Ran> {
  return spawn(["kubectl", "--kubeconfig", stack.kube.kubeconfig, ...args], stdin);
}

export async function apply(stack: Stack, object: unknown): Promise<void> {
  const r = await kubectl(stack, ["apply", "-f", "-"], JSON.stringify(object));
  if (r.exitCode !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
}

export async function getJson<T = Record<string, any>>(stack: Stack, kind: string, name: string, namespace = "default"): Promise<T | undefined> {
  const r = await kubectl(stack, ["get", kind, name, "-n", namespace, "-o", "json"]);
  if (r.exitCode !== 0) return undefined;
  return JSON.parse(r.stdout) as T;
}

export function mainTs(args: string[]): Promise<Ran> {
  return spawn([process.execPath, "run", MAIN, ...args]);
}
