/**
 * The far end of a root test's network: a TCP listener in a namespace the test made (the
 * "outside"), which reports the source address of the one connection it gets. Tells what
 * SNAT did by looking where the traffic arrives, not at the rules.
 */
import { Namespaces, run } from "./namespaces.ts";

const SERVER = `
const [host, port] = process.argv.slice(-2);
Bun.listen({ hostname: host, port: Number(port), socket: { open(s) { console.log("from " + s.remoteAddress); s.end(); process.exit(0); }, data() {} } });
console.log("ready");
`;
const CLIENT = `
const [host, port] = process.argv.slice(-2);
await Bun.connect({ hostname: host, port: Number(port), socket: { open(s) { s.write("x"); }, data() {}, close() { process.exit(0); } } });
setTimeout(() => process.exit(3), 3000);
`;

/** The source address `listenIp` sees for a TCP connection made from namespace `fromNs`; undefined when none arrives. */
export async function sourceSeenFarEnd(nss: Namespaces, outsideNs: string, listenIp: string, fromNs: string, port = 40000 + Math.floor(Math.random() * 20000)): Promise<string | undefined> {
  const server = Bun.spawn(["ip", "netns", "exec", outsideNs, process.execPath, "-e", SERVER, listenIp, String(port)], { stdout: "pipe", stderr: "pipe" });
  try {
    const reader = server.stdout.getReader();
    let text = "";
    while (!text.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      text += new TextDecoder().decode(value);
    }
    run(["ip", "netns", "exec", fromNs, process.execPath, "-e", CLIENT, listenIp, String(port)], true);
    const deadline = Date.now() + 3000;
    while (!text.includes("from ") && Date.now() < deadline) {
      const r = await Promise.race([reader.read(), Bun.sleep(3000).then(() => ({ value: undefined, done: true }))]);
      if (r.done) break;
      text += new TextDecoder().decode(r.value);
    }
    const m = /from (\S+)/.exec(text);
    return m?.[1]?.replace(/^::ffff:/, "");
  } finally {
    server.kill();
    await server.exited;
  }
}
