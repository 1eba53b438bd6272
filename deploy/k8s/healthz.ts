/** Liveness/readiness probe: GET /healthz on a service's socket; exit 0 when healthy. */
export {};
const service = process.argv[2] ?? "";
if (!/^(pool-manager|addr-broker|net-config|metrics)$/.test(service)) {
  process.stderr.write("usage: healthz.ts pool-manager|addr-broker|net-config|metrics\n");
  process.exit(2);
}
const runDir = process.env.AWS_VPC_CNI_RUN_DIR || "/var/run/aws-node";
try {
  const res = await fetch("http://localhost/healthz", { unix: `${runDir}/${service}.sock`, signal: AbortSignal.timeout(5000) });
  process.stdout.write(`${service}: ${res.status} ${await res.text()}\n`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  process.stdout.write(`${service}: unreachable: ${(err as Error).message}\n`);
  process.exit(1);
}
