import { expect, test } from "bun:test";
import { Registry } from "./registry.ts";
import { collectProcessMetrics, maxOpenFiles, procStatusBytes } from "./process.ts";

test("/proc/self/status fields in bytes", () => {
  const status = "Name:\tbun\nVmSize:\t 1000 kB\nVmRSS:\t   20 kB\nVmData:\t 300 kB\n";
  expect([procStatusBytes(status, "VmRSS"), procStatusBytes(status, "VmSize"), procStatusBytes(status, "VmData"), procStatusBytes(status, "VmSwap")]).toEqual([20480, 1024000, 307200, undefined]);
});

test("the soft open-files limit", () => {
  expect(maxOpenFiles("Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n")).toBe(1024);
  expect(maxOpenFiles("Max open files            unlimited            unlimited            files\n")).toBe(Infinity);
  expect(maxOpenFiles("")).toBeUndefined();
});

test("the process metrics under a prefix carry this process's facts, CPU time only growing", async () => {
  const r = new Registry();
  collectProcessMetrics({ register: r, prefix: "awscni_t_" });
  const read = async () => {
    const text = await r.metrics();
    const v = (n: string) => Number(new RegExp(`^awscni_t_${n} (\\S+)$`, "m").exec(text)?.[1]);
    return { rss: v("process_resident_memory_bytes"), fds: v("process_open_fds"), start: v("process_start_time_seconds"), cpu: v("process_cpu_seconds_total"), user: v("process_cpu_user_seconds_total") };
  };
  const a = await read();
  let x = 0;
  for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
  expect(x).toBeGreaterThan(0);
  const b = await read();
  expect(a.rss).toBeGreaterThan(10 * 1024 * 1024);
  expect(a.fds).toBeGreaterThan(2);
  expect(Math.abs(a.start - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
  expect(b.cpu).toBeGreaterThan(a.cpu);
  expect(b.user).toBeGreaterThanOrEqual(a.user);
  expect(b.cpu).toBeGreaterThanOrEqual(b.user);
});
