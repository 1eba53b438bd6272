/**
 * The nft runner against the real kernel, in a network namespace of the test's own: libnftables
 * in process (transactions all or nothing, nft's error text, the named namespace programmed and
 * the thread back in its own), large scripts and listings through a spawned nft, and the
 * fallback to spawning when the library cannot be loaded.
 */
import { expect } from "bun:test";
import { readlinkSync } from "node:fs";
import { Namespaces } from "../../../net-config/test-support/namespaces.ts";
import { requires, type Prerequisite } from "../../../../tests/support/prerequisites.ts";
import { openNftContext } from "./nft-lib.ts";
import { nftRunner, spawnNftRunner } from "./nft-runner.ts";

const LIBNFTABLES: Prerequisite = {
  missing: "libnftables.so.1 missing",
  present: () => {
    try {
      openNftContext().free();
      return true;
    } catch {
      return false;
    }
  },
};
const gate = requires("root", "ip", "nft", LIBNFTABLES);
const spaces = new Namespaces();
let ns = "";
const runners: Array<{ close?(): void }> = [];

gate.beforeAll(() => {
  ns = spaces.add("nr").name;
});
gate.afterAll(() => {
  for (const r of runners) r.close?.();
  spaces.cleanup();
});

const listed = (table: string) => spaces.exec(ns, ["nft", "list", "table", "inet", table], true);
const open = (opts: Parameters<typeof nftRunner>[1] = {}) => {
  const r = nftRunner(ns, opts);
  runners.push(r);
  return r;
};

gate.test("a transaction in process lands in the named namespace, and the thread stays in its own", async () => {
  const own = readlinkSync("/proc/thread-self/ns/net");
  const nft = open();
  expect(nft.inProcess).toBe(true);
  expect(readlinkSync("/proc/thread-self/ns/net")).toBe(own);
  const r = await nft.run(["-f", "-"], "add table inet nrt1\nadd chain inet nrt1 c\nadd rule inet nrt1 c tcp dport 8080 accept\n");
  expect(r).toEqual({ code: 0, out: "", err: "" });
  expect(listed("nrt1").out).toContain("tcp dport 8080 accept");
  // the root namespace has no such table: the context's socket is the named namespace's
  expect(Bun.spawnSync(["nft", "list", "table", "inet", "nrt1"]).exitCode).not.toBe(0);
  expect(readlinkSync("/proc/thread-self/ns/net")).toBe(own);
  // a command without a script, in process too
  expect((await nft.run(["delete", "table", "inet", "nrt1"])).code).toBe(0);
  expect(listed("nrt1").code).not.toBe(0);
});

gate.test("a failing transaction changes nothing and carries nft's own message, as the spawned nft does", async () => {
  const nft = open();
  expect((await nft.run(["-f", "-"], "add table inet nrt2\nadd chain inet nrt2 c\n")).code).toBe(0);
  const bad = "add rule inet nrt2 c tcp dport 1 accept\nadd chain inet nrt2 d\nadd rule inet nrt2 nochain tcp dport 2 accept\n";
  const r = await nft.run(["-f", "-"], bad);
  expect(r.code).toBe(1);
  expect(r.err).toContain("Error: Could not process rule: No such file or directory");
  const after = listed("nrt2").out;
  expect(after).not.toContain("dport 1");
  expect(after).not.toContain("chain d");
  const spawned = await spawnNftRunner(ns).run(["-f", "-"], bad);
  expect(spawned.code).toBe(1);
  expect(r.err.split("\n")[0]).toBe(spawned.err.split("\n")[0]!.replace(/^\/dev\/stdin:\d+:\d+-\d+: /, ""));
  // a syntax error, before the kernel is asked
  const syntax = await nft.run(["-f", "-"], "add rule inet nrt2 c tcp dport eighty accept\n");
  expect(syntax.code).toBe(1);
  expect(syntax.err).toContain("Error:");
  expect((await nft.run(["delete", "table", "inet", "nrt2"])).code).toBe(0);
});

gate.test("the context keeps working across transactions and reads what it wrote", async () => {
  const nft = open();
  expect((await nft.run(["-f", "-"], "add table inet nrt3\nadd chain inet nrt3 c\n")).code).toBe(0);
  for (let i = 0; i < 20; i++) expect((await nft.run(["-f", "-"], `add rule inet nrt3 c tcp dport ${1000 + i} accept\n`)).code).toBe(0);
  const list = await nft.run(["-j", "list", "table", "inet", "nrt3"]); // listings spawn nft
  expect(list.code).toBe(0);
  const rules = (JSON.parse(list.out).nftables as Array<{ rule?: unknown }>).filter((x) => x.rule);
  expect(rules.length).toBe(20);
  expect((await nft.run(["delete", "table", "inet", "nrt3"])).code).toBe(0);
});

gate.test("a script over the in-process limit runs through a spawned nft with the same outcome", async () => {
  const nft = open({ syncMaxBytes: 64 });
  const script = `add table inet nrt4\nadd chain inet nrt4 c\n${Array.from({ length: 50 }, (_, i) => `add rule inet nrt4 c udp dport ${2000 + i} accept`).join("\n")}\n`;
  expect((await nft.run(["-f", "-"], script)).code).toBe(0);
  expect(listed("nrt4").out.match(/udp dport/g)?.length).toBe(50);
  const bad = await nft.run(["-f", "-"], `${script}add rule inet nrt4 nochain accept\n`);
  expect(bad.code).toBe(1);
  expect(bad.err).toContain("No such file or directory");
  expect(listed("nrt4").out.match(/udp dport/g)?.length).toBe(50);
  expect((await nft.run(["delete", "table", "inet", "nrt4"])).code).toBe(0);
});

gate.test("without the library: nft is spawned, reported once, and transactions still work", async () => {
  const warnings: Array<Record<string, unknown>> = [];
  const log = { warn: (obj: object) => void warnings.push(obj as Record<string, unknown>) };
  const nft = open({ library: "/nonexistent/libnftables.so.1", log });
  expect(nft.inProcess).toBe(false);
  const again = open({ library: "/nonexistent/libnftables.so.1", log });
  expect(again.inProcess).toBe(false);
  expect(warnings.length).toBe(1);
  expect(warnings[0]!.library).toBe("/nonexistent/libnftables.so.1");
  expect((await nft.run(["-f", "-"], "add table inet nrt5\nadd chain inet nrt5 c\nadd rule inet nrt5 c tcp dport 7 accept\n")).code).toBe(0);
  expect(listed("nrt5").out).toContain("tcp dport 7 accept");
  const bad = await again.run(["-f", "-"], "add rule inet nrt5 nochain accept\n");
  expect(bad.code).toBe(1);
  expect(bad.err).toContain("No such file or directory");
  expect((await nft.run(["delete", "table", "inet", "nrt5"])).code).toBe(0);
});

gate.test("bad input: a namespace name that is not one is refused before anything runs", () => {
  expect(() => nftRunner("../etc")).toThrow(/netns/);
});
