import { randomBytes } from "node:crypto";

/** A random unicast, locally administered MAC (upstream gives host veths one). */
export function randomLocalMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}
