import { expect, test } from "bun:test";
import { failedLines, RETIRED_GROUP, RETIRED_PREFIX, VethReaper } from "./veth-reaper.ts";

test("retired names are valid interface names, recognisable and distinct", () => {
  const r = new VethReaper({ command: ["true"] });
  const names = Array.from({ length: 2000 }, () => r.retiredName());
  for (const n of names) {
    expect(n.length).toBeLessThanOrEqual(15);
    expect(n).toMatch(/^[a-z0-9]+$/);
    expect(VethReaper.isRetired(n)).toBe(true);
  }
  expect(new Set(names).size).toBe(names.length);
  expect(VethReaper.isRetired("eni0123456789a")).toBe(false);
});

test("only retired names are accepted; queued deletions run and idle() resolves", async () => {
  const r = new VethReaper({ command: ["true"] });
  expect(() => r.enqueue("eni0123456789a")).toThrow(/not a retired link name/);
  expect(() => r.enqueue(`${RETIRED_PREFIX}x; rm -rf`)).toThrow(/not a retired link name/);
  for (let i = 0; i < 5; i++) r.enqueue(r.retiredName());
  await r.idle();
  expect(r.pending()).toBe(0);
  expect(r.deleted).toBe(5);
});

test("a failing deletion is recorded, not thrown", async () => {
  const r = new VethReaper({ command: ["false"] });
  r.enqueue(r.retiredName());
  await r.idle();
  expect(r.failures).toHaveLength(1);
  expect(r.deleted).toBe(0);
});

test("ip's batch errors are read per line", () => {
  const stderr = 'Cannot find device "awsdelx2"\nCommand failed -:2\nRTNETLINK answers: Operation not permitted\nCommand failed -:4\n';
  expect([...failedLines(stderr)]).toEqual([
    [2, 'Cannot find device "awsdelx2"'],
    [4, "RTNETLINK answers: Operation not permitted"],
  ]);
  expect(failedLines("").size).toBe(0);
});

test("links queued while a child runs go to the next child together; a link already gone counts as deleted, a refused one is recorded", async () => {
  // Stands in for `ip -force -batch -`: the group's line first, then one line per link. A batch
  // of one succeeds; of three, the second link is gone and the third refused, reported as ip does.
  const fakeIp = [
    process.execPath,
    "-e",
    `const [group, ...lines] = (await Bun.stdin.text()).trim().split("\\n");
     if (group !== "link del group ${RETIRED_GROUP}") { console.error("no group line: " + group); process.exit(2); }
     if (!lines.every((l) => /^link del dev awsdel[a-z0-9]+$/.test(l))) { console.error("bad line"); process.exit(2); }
     if (lines.length === 1) process.exit(0);
     if (lines.length !== 3) { console.error("batch of " + lines.length); process.exit(2); }
     console.error('Cannot find device "x"\\nCommand failed -:3\\nRTNETLINK answers: Operation not permitted\\nCommand failed -:4');
     process.exit(1);`,
  ];
  const r = new VethReaper({ command: fakeIp });
  const links = Array.from({ length: 4 }, () => r.retiredName());
  for (const l of links) r.enqueue(l); // the first starts a child at once; the other three wait for it
  expect(r.pending()).toBe(4);
  await r.idle();
  expect(r.deleted).toBe(3);
  expect(r.failures).toEqual([{ link: links[3]!, error: "RTNETLINK answers: Operation not permitted" }]);
});
