/** A random unicast, locally administered MAC (upstream gives host veths one). Web Crypto: node:crypto costs ~2 MiB on import. */
export function randomLocalMac(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}
