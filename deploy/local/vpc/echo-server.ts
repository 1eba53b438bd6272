// Runs inside the outside namespace: answers every TCP connection and every UDP datagram with
// the source address it saw, `from <ip>:<port>\n`, so a test sees what SNAT did (or did not).
// Usage: bun run echo-server.ts <listen-ip> <port> (IPv4 or IPv6). Prints `listening <ip>:<port>` when ready.
import { isIp } from "../../../shared/ip.ts";

const [host, portText] = process.argv.slice(2);
const port = Number(portText);
if (!host || !isIp(host)) throw new Error(`listen-ip: invalid ${JSON.stringify(host)}`);
if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`port: invalid ${JSON.stringify(portText)}`);

const answer = (ip: string, p: number) => `from ${ip}:${p}\n`;

Bun.listen({
  hostname: host,
  port,
  socket: {
    open(socket) {
      socket.end(answer(socket.remoteAddress, socket.remotePort));
    },
    data() {},
  },
});

await Bun.udpSocket({
  hostname: host,
  port,
  socket: {
    data(socket, _data, remotePort, remoteAddress) {
      socket.send(answer(remoteAddress, remotePort), remotePort, remoteAddress);
    },
  },
});

process.stdout.write(`listening ${host}:${port}\n`);
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
