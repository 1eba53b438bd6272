// Label and field selectors as the API server parses them. Pure functions.
import { badRequest } from "./status.ts";

export type LabelRequirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists" };

export type LabelSelector = LabelRequirement[];

/** Splits on commas that are not inside a `(...)` value set. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of text) {
    if (char === "(") depth += 1;
    if (char === ")") depth -= 1;
    if (char === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== "");
}

const SET_REQUIREMENT = /^([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)$/;
const EQUALITY_REQUIREMENT = /^([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)$/;
const EXISTS_REQUIREMENT = /^(!?)([A-Za-z0-9_./-]+)$/;

export function parseLabelSelector(text: string | undefined): LabelSelector {
  if (text === undefined) return [];
  return splitTopLevel(text).map((part): LabelRequirement => {
    const set = SET_REQUIREMENT.exec(part);
    if (set) {
      const values = (set[3] ?? "").split(",").map((value) => value.trim()).filter((value) => value !== "");
      return { key: set[1]!, op: set[2] as "in" | "notin", values };
    }
    const equality = EQUALITY_REQUIREMENT.exec(part);
    if (equality) return { key: equality[1]!, op: equality[2] === "!=" ? "!=" : "=", value: equality[3] ?? "" };
    const exists = EXISTS_REQUIREMENT.exec(part);
    if (exists) return { key: exists[2]!, op: exists[1] === "!" ? "!exists" : "exists" };
    throw badRequest(`unable to parse requirement: labelSelector: invalid requirement "${part}"`);
  });
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  return selector.every((requirement) => {
    const value = have[requirement.key];
    switch (requirement.op) {
      case "=":
        return value === requirement.value;
      case "!=":
        return value !== requirement.value;
      case "in":
        return value !== undefined && requirement.values.includes(value);
      case "notin":
        return value === undefined || !requirement.values.includes(value);
      case "exists":
        return value !== undefined;
      case "!exists":
        return value === undefined;
    }
  });
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** Parses `a=b,c!=d`; every field must be one of `supported` (else 400, as the server does). */
export function parseFieldSelector(text: string | undefined, supported: readonly string[]): FieldRequirement[] {
  if (text === undefined) return [];
  return text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part) => {
      const match = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
      if (!match) throw badRequest(`invalid selector: '${part}'; can't understand '${part}'`);
      const field = match[1]!;
      if (!supported.includes(field)) {
        throw badRequest(`field label not supported: ${field}`);
      }
      return { field, op: match[2] === "!=" ? "!=" : "=", value: match[3] ?? "" };
    });
}

export function matchesFields(
  requirements: readonly FieldRequirement[],
  fieldValue: (field: string) => string,
): boolean {
  return requirements.every((requirement) => {
    const value = fieldValue(requirement.field);
    return requirement.op === "=" ? value === requirement.value : value !== requirement.value;
  });
}
