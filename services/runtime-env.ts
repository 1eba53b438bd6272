/**
 * How the services' Bun runs: the environment every service starts with, under the local
 * deployment (deploy/local/node-services.ts) and in the aws-node image (its /app/bin/service
 * entry point, deploy/k8s/image/entrypoints.ts).
 * The services are I/O-bound (sockets, netlink, EC2 calls) and run little JS per request, so
 * JavaScriptCore's JIT tiers cost them memory more than they save CPU, and freed pages may go back at once:
 * - BUN_JSC_useDFGJIT=0: no optimizing DFG tier (nor FTL above it). Its compiled code, its
 *   compiler's work and the part of the Bun binary it touches: ~10 MiB across the four.
 * - BUN_JSC_thresholdForJITAfterWarmUp / thresholdForJITSoon 20000 (JSC's defaults 500 / 100):
 *   a function is baseline-compiled after ~40× more executions; what runs a few times per
 *   pod stays interpreted (the interpreter's extra cost is bounded by the threshold per
 *   function), hot loops still compile. ~4 MiB at 5000, ~7 MiB at 20000 across the four.
 * - MIMALLOC_PURGE_DELAY=0 (Bun's mimalloc: 100 ms): pages freed are given back at once
 *   rather than after a delay. Its effect is within the memory bench's noise (with 110 pods
 *   96.4–100.6 MiB vs 97.0–101.4 in three runs each, net-config's low state more often);
 *   service CPU per churn round unchanged (770–840 ms). Kept: it can only give pages back sooner.
 * Measured (bench/memory.ts; a churn probe of 110 ADDs then rounds of 110 DEL + 110 ADD,
 * reading the services' utime + stime): together idle, DFG off 120 → 108 MiB, then (with
 * services/build.ts's trimming at 103) threshold 5000 99–100, 20000 96 MiB; service CPU
 * per round 820–830 ms with JSC's defaults, 820–890 without the DFG, 720–860 with a 5000
 * threshold, 780–820 with 20000; bench/cni-add showed no difference beyond its noise. (No
 * baseline JIT at all, BUN_JSC_useBaselineJIT=0, cost +30 % CPU per round.) Set before the
 * node's own environment (the local deployment's `--env`, the pod spec's env), so either can
 * set JSC's defaults back (e.g. BUN_JSC_useDFGJIT=1).
 */
export const SERVICE_RUNTIME_ENV: Readonly<Record<string, string>> = {
  BUN_JSC_useDFGJIT: "0",
  BUN_JSC_thresholdForJITAfterWarmUp: "20000",
  BUN_JSC_thresholdForJITSoon: "20000",
  MIMALLOC_PURGE_DELAY: "0",
};
