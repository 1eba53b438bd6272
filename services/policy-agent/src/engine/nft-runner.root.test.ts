/**
 * The nft runner against the real kernel, in a network namespace of the test's own: a
 * transaction lands in the named namespace and nowhere else, a failing one changes nothing and
 * carries nft's own message, and a bad namespace name is refused before anything runs.
 */
import { expect } from "bun:test";
import { Namespaces } from "../../../net-config/test-support/namespaces.ts";
import { requires } from "../../../../tests/support/prerequisites.ts";
import { nftRunner } from "./nft-runner.ts";

const gate = requires("root", "ip", "nft", "nsenter");
const spaces = new Namespaces();
let ns = "";

gate.beforeAll(() => {
  ns = spaces.add("nr").name;
});
gate.afterAll(() => spaces.cleanup());

const listed = (table: string) => spaces.exec(ns, ["nft", "list", "table", "inet", table], true);

gate.test("a transaction lands in the named namespace, not in the caller's", async () => {
  const nft = nftRunner(ns);
  const r = await nft.run(["-f", "-"], "add table inet nrt1\nadd chain inet nrt1 c\nadd rule inet nrt1 c tcp dport 8080 accept\n");
  expect(r).toEqual({ code: 0, out: "", err: "" });
  expect(listed("nrt1").out).toContain("tcp dport 8080 accept");
  expect(Bun.spawnSync(["nft", "list", "table", "inet", "nrt1"]).exitCode).not.toBe(0);
  expect((await nft.run(["delete", "table", "inet", "nrt1"])).code).toBe(0);
  expect(listed("nrt1").code).not.toBe(0);
});

gate.test("a failing transaction changes nothing and carries nft's own message", async () => {
  const nft = nftRunner(ns);
  expect((await nft.run(["-f", "-"], "add table inet nrt2\nadd chain inet nrt2 c\n")).code).toBe(0);
  const r = await nft.run(["-f", "-"], "add rule inet nrt2 c tcp dport 1 accept\nadd chain inet nrt2 d\nadd rule inet nrt2 nochain tcp dport 2 accept\n");
  expect(r.code).toBe(1);
  expect(r.err).toContain("Error: Could not process rule: No such file or directory");
  const after = listed("nrt2").out;
  expect(after).not.toContain("dport 1");
  expect(after).not.toContain("chain d");
  const syntax = await nft.run(["-f", "-"], "add rule inet nrt2 c tcp dport eighty accept\n");
  expect(syntax.code).toBe(1);
  expect(syntax.err).toContain("Error:");
  expect((await nft.run(["delete", "table", "inet", "nrt2"])).code).toBe(0);
});

gate.test("bad input: a namespace name that is not one is refused before anything runs", () => {
  expect(() => nftRunner("../etc")).toThrow(/netns/);
});
