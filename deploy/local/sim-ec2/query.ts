/** Reading EC2 Query protocol parameters: `Name`, `Name.N`, `Name.N.Member`, filters, tags. */
import { invalid, missing } from "./errors.ts";

export interface Filter {
  name: string;
  values: string[];
}

export class QueryParams {
  constructor(private readonly p: URLSearchParams) {}

  has(name: string): boolean {
    return this.p.has(name);
  }

  str(name: string): string | undefined {
    return this.p.get(name) ?? undefined;
  }

  required(name: string): string {
    const v = this.p.get(name);
    if (v === null || v === "") throw missing(name);
    return v;
  }

  int(name: string): number | undefined {
    const v = this.p.get(name);
    if (v === null) return undefined;
    if (!/^-?\d+$/.test(v)) throw invalid(`Invalid value '${v}' for ${name}`);
    return Number(v);
  }

  bool(name: string): boolean | undefined {
    const v = this.p.get(name);
    if (v === null) return undefined;
    if (v !== "true" && v !== "false") throw invalid(`Invalid value '${v}' for ${name}`);
    return v === "true";
  }

  /** The indices N present as `prefix.N` or `prefix.N.*`, ascending. */
  indices(prefix: string): number[] {
    const out = new Set<number>();
    const re = new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.(\\d+)(\\.|$)`);
    for (const key of this.p.keys()) {
      const m = re.exec(key);
      if (m) out.add(Number(m[1]));
    }
    return [...out].sort((a, b) => a - b);
  }

  /** `prefix.1`, `prefix.2`, ... as a list. */
  list(prefix: string): string[] {
    return this.indices(prefix).flatMap((i) => {
      const v = this.p.get(`${prefix}.${i}`);
      return v === null ? [] : [v];
    });
  }

  filters(): Filter[] {
    return this.indices("Filter").map((i) => {
      const name = this.p.get(`Filter.${i}.Name`);
      if (!name) throw missing(`Filter.${i}.Name`);
      return { name, values: this.list(`Filter.${i}.Value`) };
    });
  }

  /** `Tag.N.Key` / `Tag.N.Value` under a prefix. */
  tags(prefix: string): { key: string; value?: string }[] {
    return this.indices(prefix).map((i) => {
      const key = this.p.get(`${prefix}.${i}.Key`);
      if (key === null) throw missing(`${prefix}.${i}.Key`);
      const value = this.p.get(`${prefix}.${i}.Value`);
      return value === null ? { key } : { key, value };
    });
  }
}
