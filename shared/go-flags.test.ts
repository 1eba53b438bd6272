import { describe, expect, test } from "bun:test";
import { GoFlagError, goBind, goBool, goDurationMs, goInt, parseGoFlags } from "./go-flags.ts";

const KNOWN = { on: "bool", size: "int", name: "string" } as const;

describe("parseGoFlags reads a command line as Go's flag package does", () => {
  test("one or two dashes; the value after = or as the next argument; the last one given wins", () => {
    const p = parseGoFlags(["-size", "5", "--name=a=b", "-on", "--size=7"], KNOWN);
    expect(p.values).toEqual({ size: "7", name: "a=b", on: "true" });
    expect(p.given.map((g) => `${g.name}:${g.value}`)).toEqual(["size:5", "name:a=b", "on:true", "size:7"]);
  });

  test("a bare boolean flag is true and never takes the next argument, which is then a stray argument", () => {
    expect(parseGoFlags(["--on"], KNOWN).values.on).toBe("true");
    expect(() => parseGoFlags(["--on", "false"], KNOWN)).toThrow('unexpected argument "false"');
  });

  test.each([
    [["--size"], "--size: a value is required"],
    [["--size=ten"], "--size: expected a non-negative integer"],
    [["--on=yes"], "--on: expected true or false"],
    [["--nope=1"], "--nope: unknown flag (known: on, size, name)"],
    [["plain"], 'unexpected argument "plain"'],
    [["--constructor=1"], "--constructor: unknown flag"],
  ])("%j is refused: %s", (argv, message) => {
    expect(() => parseGoFlags(argv, KNOWN)).toThrow(GoFlagError);
    expect(() => parseGoFlags(argv, KNOWN)).toThrow(message);
  });
});

describe("values", () => {
  test("booleans as strconv.ParseBool spells them", () => {
    for (const t of ["1", "t", "T", "true", "TRUE", "True"]) expect(goBool("x", t)).toBe(true);
    for (const f of ["0", "f", "F", "false", "FALSE", "False"]) expect(goBool("x", f)).toBe(false);
    expect(() => goBool("x", "tRuE")).toThrow("--x: expected true or false");
  });

  test("integers within their range; durations; listen addresses", () => {
    expect(goInt("n", "64", 1, 64)).toBe(64);
    expect(() => goInt("n", "65", 1, 64)).toThrow("--n: must be an integer 1..64");
    expect([goDurationMs("d", "250ms"), goDurationMs("d", "1.5s"), goDurationMs("d", "2m")]).toEqual([250, 1500, 120_000]);
    expect(() => goDurationMs("d", "1h")).toThrow("--d: must be a duration");
    expect(() => goDurationMs("d", "11m")).toThrow("--d: at most 600s");
    expect([goBind("b", ":8080"), goBind("b", "[::1]:0"), goBind("b", "localhost:9")]).toEqual([
      { host: "0.0.0.0", port: 8080 },
      { host: "::1", port: 0 },
      { host: "localhost", port: 9 },
    ]);
    expect(() => goBind("b", "8080")).toThrow("--b: must be [host]:port");
  });
});
