import { expect, test } from "bun:test";
import { listenTcp } from "./tcp-listener.ts";

test("an empty host listens dual-stack: IPv4 and IPv6 clients both reach it", async () => {
  const server = listenTcp("", 0, () => new Response("metrics"));
  try {
    expect(await (await fetch(`http://127.0.0.1:${server.port}/`)).text()).toBe("metrics");
    expect(await (await fetch(`http://[::1]:${server.port}/`)).text()).toBe("metrics");
  } finally {
    server.stop(true);
  }
});

test("an explicit host listens only there", async () => {
  const server = listenTcp("127.0.0.1", 0, () => new Response("metrics"));
  try {
    expect(await (await fetch(`http://127.0.0.1:${server.port}/`)).text()).toBe("metrics");
    await expect(fetch(`http://[::1]:${server.port}/`)).rejects.toThrow();
  } finally {
    server.stop(true);
  }
});
