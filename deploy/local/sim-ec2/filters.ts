/** EC2 Describe filters: any value matches (`*` and `?` wildcards); all filters must match. */
import { invalid } from "./errors.ts";
import type { Filter } from "./query.ts";
import type { Tags } from "./types.ts";

function wildcard(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`);
}

/**
 * `fields(name)` gives the resource's values for a filter name, or undefined when the
 * filter is unknown for this resource type (EC2 answers InvalidParameterValue).
 */
export function matches(filters: Filter[], tags: Tags, fields: (name: string) => string[] | undefined): boolean {
  return filters.every((f) => {
    let have: string[] | undefined;
    if (f.name === "tag-key") have = Object.keys(tags);
    else if (f.name.startsWith("tag:")) {
      const v = tags[f.name.slice(4)];
      have = v === undefined ? [] : [v];
    } else have = fields(f.name);
    if (have === undefined) throw invalid(`The filter '${f.name}' is invalid`);
    const values = have;
    return f.values.some((want) => {
      const re = wildcard(want);
      return values.some((v) => re.test(v));
    });
  });
}

/** Validates filter names up front, so an empty result set still rejects a bad filter. */
export function checkFilterNames(filters: Filter[], known: readonly string[]): void {
  for (const f of filters)
    if (f.name !== "tag-key" && !f.name.startsWith("tag:") && !known.includes(f.name)) throw invalid(`The filter '${f.name}' is invalid`);
}

/** Page of `items` after `nextToken` (an offset), `maxResults` long. */
export function paginate<T>(items: T[], maxResults: number | undefined, nextToken: string | undefined, range: [number, number]): { page: T[]; nextToken?: string } {
  let start = 0;
  if (nextToken !== undefined) {
    const m = /^o(\d+)$/.exec(Buffer.from(nextToken, "base64url").toString());
    if (!m) throw invalid(`Invalid value '${nextToken}' for NextToken`);
    start = Number(m[1]);
  }
  if (maxResults === undefined) return { page: items.slice(start) };
  if (maxResults < range[0] || maxResults > range[1])
    throw invalid(`Value (${maxResults}) for parameter maxResults is invalid. Expecting a value between ${range[0]} and ${range[1]}.`);
  const end = start + maxResults;
  return end < items.length ? { page: items.slice(start, end), nextToken: Buffer.from(`o${end}`).toString("base64url") } : { page: items.slice(start) };
}
