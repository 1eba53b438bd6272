import { describe, expect, test } from "bun:test";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.ts";

describe("label selectors", () => {
  const labels = { app: "web", tier: "front", "k8s.io/role": "x" };
  test.each([
    ["", true],
    ["app=web", true],
    ["app==web,tier=front", true],
    ["app!=web", false],
    ["app in (web, db)", true],
    ["app notin (web)", false],
    ["tier,!missing", true],
    ["missing", false],
    ["k8s.io/role=x", true],
    ["app in (db),tier=front", false],
  ])("%s → %p", (selector, expected) => {
    expect(matchesLabels(parseLabelSelector(selector), labels)).toBe(expected);
  });

  test("garbage is a 400 naming the requirement", () => {
    expect(() => parseLabelSelector("app=(")).toThrow(/app=\(/);
  });
});

describe("field selectors", () => {
  const values: Record<string, string> = { "spec.nodeName": "n1", "metadata.name": "p" };
  const supported = Object.keys(values);
  test.each([
    ["spec.nodeName=n1", true],
    ["spec.nodeName==n1,metadata.name=p", true],
    ["spec.nodeName!=n1", false],
    ["spec.nodeName=", false],
  ])("%s → %p", (selector, expected) => {
    expect(matchesFields(parseFieldSelector(selector, supported), (field) => values[field] ?? "")).toBe(expected);
  });

  test("an unsupported field is refused by name", () => {
    expect(() => parseFieldSelector("spec.hostname=x", supported)).toThrow("field label not supported: spec.hostname");
  });
});
