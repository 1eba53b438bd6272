/** Test harness: a served simulated EC2 with a fake clock and a real EC2Client on it. */
import { EC2Client } from "@aws-sdk/client-ec2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FaultPatch } from "./faults.ts";
import { serveSimEc2 } from "./serve.ts";
import { testWorld } from "./test-world.ts";

export async function servedWorld(opts: { subnetCidr?: string; faults?: FaultPatch } = {}) {
  const world = testWorld({ subnetCidr: opts.subnetCidr ?? "10.0.0.0/20" });
  const controlSocket = join(tmpdir(), `sim-ec2-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
  const server = serveSimEc2({ host: "127.0.0.1", port: 0, controlSocket, model: world.model, faults: { attachDelayMs: 0, imdsDelayMs: 0, ...opts.faults } });
  const ec2 = new EC2Client({ region: "us-west-2", endpoint: server.endpoint, credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" }, maxAttempts: 1 });
  const control = (path: string, init: RequestInit = {}) => fetch(`http://localhost${path}`, { ...init, unix: controlSocket } as RequestInit);
  return { ...world, server, ec2, controlSocket, control, close: async () => { ec2.destroy(); await server.stop(); } };
}

/** The SDK's error name (= EC2 error code) and HTTP status of a failed call. */
export async function sdkError(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode };
  }
  return { name: "none", status: undefined };
}
