// Runs inside a namespace: one TCP connection or UDP datagram to an echo service (echo-server.ts),
// optionally from a given source address (a branch ENI's, a secondary IP), printing the answer.
// Exit 0 with the answer, 2 on timeout or refusal. Usage:
//   bun run probe.ts <tcp|udp> <ip> <port> <source-ip|-> <timeout-ms>
import dgram from "node:dgram";
import net from "node:net";
import { isIp } from "../../../shared/ip.ts";

const [proto, host, portText, source, timeoutText] = process.argv.slice(2);
const port = Number(portText);
const timeoutMs = Number(timeoutText);
if (proto !== "tcp" && proto !== "udp") throw new Error(`proto: tcp or udp, got ${JSON.stringify(proto)}`);
if (!host || !isIp(host)) throw new Error(`ip: invalid ${JSON.stringify(host)}`);
if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`port: invalid ${JSON.stringify(portText)}`);
if (source !== "-" && (!source || !isIp(source))) throw new Error(`source-ip: invalid ${JSON.stringify(source)}`);
if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new Error(`timeout-ms: invalid ${JSON.stringify(timeoutText)}`);

setTimeout(() => process.exit(2), timeoutMs);
const answer = (d: Buffer | string) => {
  process.stdout.write(String(d));
  process.exit(0);
};
if (proto === "tcp") {
  const c = net.connect({ host, port, ...(source !== "-" ? { localAddress: source } : {}) });
  c.on("data", answer);
  c.on("error", () => process.exit(2));
} else {
  const s = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  s.on("message", answer);
  s.bind({ port: 0, ...(source !== "-" ? { address: source } : {}) }, () => s.send("hi", port, host));
}
