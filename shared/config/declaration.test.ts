// The declarations (variables/) and build.ts's DERIVED set each Config field exactly once.
import { expect, test } from "bun:test";
import { DERIVED } from "./build.ts";
import { configFieldsOf } from "./docs.ts";
import { ENV_NAMES, VARIABLES } from "./index.ts";

const ownSets = ENV_NAMES.filter((n) => !VARIABLES[n].combined).map((n) => VARIABLES[n].sets as string);
const derived = Object.keys(DERIVED);

const overlaps = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);

test("no Config field is set twice, nor inside another that is set", () => {
  const all = [...ownSets, ...derived];
  const clashes = all.flatMap((a, i) => all.slice(i + 1).filter((b) => overlaps(a, b)).map((b) => `${a} / ${b}`));
  expect(clashes).toEqual([]);
});

test("a combined variable's field is derived, and reads it", () => {
  for (const name of ENV_NAMES.filter((n) => VARIABLES[n].combined)) {
    const d = DERIVED[VARIABLES[name].sets as keyof typeof DERIVED];
    expect({ name, derivedFrom: d?.from }).toEqual({ name, derivedFrom: expect.arrayContaining([name]) });
  }
});

test("the README's Config fields of a variable lead with its own", () => {
  expect(configFieldsOf("AWS_VPC_CNI_RUN_DIR")).toEqual(["runDir", "sockets", "checkpoint.path"]);
  expect(configFieldsOf("POD_MTU")).toEqual(["network.podMtu"]);
  expect(configFieldsOf("KUBERNETES_SERVICE_PORT")).toEqual(["kubernetes.apiServer"]);
});

test("a declaration's field parses its own default text", () => {
  // "" = no default; "(...)" = a default that depends on something else.
  for (const name of ENV_NAMES) {
    const text = VARIABLES[name].doc.default;
    if (text === "" || text.startsWith("(") || text === "AWS_VPC_ENI_MTU" || text === '""') continue;
    expect({ name, parses: VARIABLES[name].field.read(text).ok }).toEqual({ name, parses: true });
  }
});
