/**
 * Merges Prometheus text expositions from several services into one: each metric family
 * appears once (HELP and TYPE from its first source), samples keep their order. A family
 * that two services both export (e.g. a shared build-info gauge) is emitted once with the
 * samples of both.
 */

interface Family {
  help?: string;
  type?: string;
  samples: string[];
}

/** The family a sample line belongs to: histogram/summary suffixes fold into their base name. */
function familyOf(sampleName: string, known: Map<string, Family>): string {
  for (const suffix of ["_bucket", "_sum", "_count", "_total", "_created"]) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      if (known.has(base)) return base;
    }
  }
  return sampleName;
}

export function mergeExpositions(texts: string[]): string {
  const families = new Map<string, Family>();
  const get = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const text of texts) {
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (meta) {
        const f = get(meta[2]!);
        if (meta[1] === "HELP") f.help ??= meta[3] ?? "";
        else f.type ??= meta[3] ?? "untyped";
        continue;
      }
      if (line.startsWith("#")) continue;
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
      if (!name) continue;
      get(familyOf(name, families)).samples.push(line);
    }
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    if (f.help !== undefined) out.push(`# HELP ${name} ${f.help}`);
    if (f.type !== undefined) out.push(`# TYPE ${name} ${f.type}`);
    out.push(...new Set(f.samples));
  }
  return out.join("\n") + "\n";
}
