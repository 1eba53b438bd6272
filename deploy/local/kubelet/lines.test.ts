import { expect, test } from "bun:test";
import { lines } from "./lines.ts";

test("lines split across chunks (and a character split across chunks) come out whole; blanks are skipped", async () => {
  const bytes = new TextEncoder().encode('{"a":1}\n\n{"b":"é"}\r\ntail');
  const chunks = [bytes.slice(0, 3), bytes.slice(3, 12), bytes.slice(12, 14), bytes.slice(14)];
  async function* stream() {
    for (const c of chunks) yield c;
  }
  const out: string[] = [];
  for await (const l of lines(stream())) out.push(l);
  expect(out).toEqual(['{"a":1}', '{"b":"é"}', "tail"]);
});
