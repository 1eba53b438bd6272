/**
 * The image's build context, curated: a directory holding only what the build stage compiles
 * (sources, package.json, node_modules without the dev-only packages) and nothing else (.git,
 * tests, benchmarks, docs, .build, a stray .env or bunfig.toml), made of hard links into the
 * working tree (copies across file systems). The build stage bind-mounts it, so podman never
 * copies or hashes it; the cache key is contextHash(), a hash over the same files' contents,
 * which the Containerfile's compile step is keyed by and the image is labelled with.
 */
import { createHash } from "node:crypto";
import { copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** What the build stage copies, relative to the repository root. */
export const CONTEXT_INCLUDE = ["package.json", "tsconfig.json", "node_modules", "shared", "services", "cni-shim", "deploy/k8s"] as const;

/** Left out of what is included (globs; a directory matching one goes whole). */
export const CONTEXT_EXCLUDE = [
  "node_modules/typescript",
  "node_modules/bun-types",
  "node_modules/@types",
  "node_modules/.cache",
  // a second copy of Bun (a hard link to bun.exe in the package)
  "node_modules/bun/bin/bunx.exe",
  "deploy/k8s/*.yaml",
  "deploy/k8s/Containerfile",
  "**/*.test.ts",
  "**/*.md",
] as const;

const excludeGlobs = CONTEXT_EXCLUDE.map((p) => new Bun.Glob(p));

function excluded(rel: string): boolean {
  // a pattern matching a directory leaves out everything below it
  const parts = rel.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join("/");
    if (excludeGlobs.some((g) => g.match(prefix))) return true;
  }
  return false;
}

export interface ContextFile {
  /** Relative to the repository root. */
  rel: string;
  mode: number;
  ino: bigint;
  /** Changes whenever the file's content, mode or identity may have: inode, size, mtime, ctime (ns). */
  stamp: string;
  /** A symlink's target. */
  link?: string;
}

/** Every file of the context, sorted by path (symlinks as files, by their target). */
export function contextFiles(root: string): ContextFile[] {
  const out: ContextFile[] = [];
  const walk = (rel: string) => {
    if (excluded(rel)) return;
    const path = join(root, rel);
    const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      for (const name of readdirSync(path).sort()) walk(`${rel}/${name}`);
      return;
    }
    const stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    out.push({ rel, mode: Number(st.mode), ino: st.ino, stamp, ...(st.isSymbolicLink() ? { link: readlinkSync(path) } : {}) });
  };
  for (const p of CONTEXT_INCLUDE) walk(p);
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

type DigestCache = Record<string, { stamp: string; digest: string }>;

function readDigestCache(path: string | undefined): DigestCache {
  if (!path) return {};
  try {
    return JSON.parse(readFileSync(path, "utf8")) as DigestCache;
  } catch {
    return {};
  }
}

/**
 * A hash over the context's paths, modes and contents (a symlink by its target) plus `extra`
 * (the Containerfile, the build arguments): equal hashes build equal images. With
 * `digestCachePath`, a file whose inode, size, mtime and ctime are those recorded there is
 * not read again (as git's index does); the cache is rewritten with what was read.
 */
export function contextHash(root: string, extra: readonly string[], files: readonly ContextFile[] = contextFiles(root), digestCachePath?: string): string {
  const cache = readDigestCache(digestCachePath);
  const next: DigestCache = {};
  const h = createHash("sha256");
  for (const e of extra) h.update(`extra\0${e}\0`);
  for (const f of files) {
    let digest = f.link === undefined ? (cache[f.rel]?.stamp === f.stamp ? cache[f.rel]!.digest : undefined) : `link:${f.link}`;
    if (digest === undefined) digest = createHash("sha256").update(readFileSync(join(root, f.rel))).digest("hex");
    if (f.link === undefined) next[f.rel] = { stamp: f.stamp, digest };
    h.update(`${f.rel}\0${f.mode}\0${digest}\0`);
  }
  if (digestCachePath) {
    mkdirSync(dirname(digestCachePath), { recursive: true });
    writeFileSync(digestCachePath, JSON.stringify(next));
  }
  return h.digest("hex");
}

/**
 * Makes `dir` hold exactly `files`: hard links into the working tree (copies where linking
 * fails across file systems) and the same symlinks. Entries already right (same inode, same
 * link target) stay; everything else there is removed.
 */
export function stageContext(root: string, dir: string, files: readonly ContextFile[] = contextFiles(root)): void {
  const staged = new Map<string, { ino: bigint; link?: string }>();
  const walk = (rel: string) => {
    const path = join(dir, rel);
    const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      for (const name of readdirSync(path)) walk(rel ? `${rel}/${name}` : name);
      return;
    }
    staged.set(rel, { ino: st.ino, ...(st.isSymbolicLink() ? { link: readlinkSync(path) } : {}) });
  };
  walk("");
  const wanted = new Set(files.map((f) => f.rel));
  for (const rel of staged.keys()) if (!wanted.has(rel)) rmSync(join(dir, rel), { force: true });
  for (const f of files) {
    const have = staged.get(f.rel);
    if (have && (f.link === undefined ? have.link === undefined && have.ino === f.ino : have.link === f.link)) continue;
    const to = join(dir, f.rel);
    // a file where a directory must go (or the reverse) goes whole
    rmSync(to, { recursive: true, force: true });
    mkdirSync(dirname(to), { recursive: true });
    if (f.link !== undefined) {
      symlinkSync(f.link, to);
      continue;
    }
    try {
      linkSync(join(root, f.rel), to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
      copyFileSync(join(root, f.rel), to);
    }
  }
}
