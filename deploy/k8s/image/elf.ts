/**
 * What a Linux executable needs from the C library, read from its ELF file without binutils:
 * whether it is static (no program interpreter, nothing to load), the libraries it needs
 * (DT_NEEDED) and the symbol versions it needs from each (the version-needs table,
 * `.gnu.version_r`). Both tables are found the way the loader finds them, through the
 * dynamic segment, so a binary whose section headers were stripped reads the same.
 * 64-bit little-endian ELF only (x86_64, aarch64); anything else is an ElfError.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export type ElfErrorCode = "ELF_NOT_ELF" | "ELF_UNSUPPORTED" | "ELF_MALFORMED";

export class ElfError extends Error {
  constructor(
    readonly code: ElfErrorCode,
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = "ElfError";
  }
}

export interface ElfDependencies {
  /** No program interpreter and no needed library: runs on any Linux of its architecture. */
  static: boolean;
  interpreter?: string;
  /** DT_NEEDED, in file order. */
  needed: string[];
  /** Library → the symbol versions needed from it (e.g. libc.so.6 → GLIBC_2.2.5, GLIBC_2.34). */
  versions: Record<string, string[]>;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const DT_VERNEED = 0x6ffffffen;
const DT_VERNEEDNUM = 0x6fffffffn;
/** Bounds for counts read from the file, so a corrupt file cannot loop for long. */
const MAX_ENTRIES = 4096;

interface Segment {
  type: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
}

/** Positional reads with every range checked against the file's size. */
class Reader {
  constructor(
    private readonly fd: number,
    readonly size: number,
    readonly path: string,
  ) {}

  bytes(offset: number, length: number, what: string): Buffer {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new ElfError("ELF_MALFORMED", this.path, `${what} lies outside the file (offset ${offset}, length ${length}, size ${this.size})`);
    }
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) throw new ElfError("ELF_MALFORMED", this.path, `${what}: unexpected end of file`);
      done += n;
    }
    return buf;
  }

  /** A NUL-terminated string inside [tableOffset, tableOffset + tableSize). */
  cstring(tableOffset: number, tableSize: number, index: number, what: string): string {
    if (index >= tableSize) throw new ElfError("ELF_MALFORMED", this.path, `${what}: string index ${index} past the string table (${tableSize})`);
    const chunk = this.bytes(tableOffset + index, Math.min(4096, tableSize - index), what);
    const end = chunk.indexOf(0);
    if (end < 0) throw new ElfError("ELF_MALFORMED", this.path, `${what}: unterminated string`);
    return chunk.toString("latin1", 0, end);
  }
}

function toNumber(value: bigint, r: Reader, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError("ELF_MALFORMED", r.path, `${what} is out of range`);
  return Number(value);
}

function readSegments(r: Reader): Segment[] {
  const ident = r.bytes(0, Math.min(64, r.size), "ELF header");
  if (ident.length < 16 || ident.readUInt32BE(0) !== 0x7f454c46) throw new ElfError("ELF_NOT_ELF", r.path, "not an ELF file");
  if (ident[4] !== 2 || ident[5] !== 1) throw new ElfError("ELF_UNSUPPORTED", r.path, `ELF class ${ident[4]}, data ${ident[5]}: only 64-bit little-endian is read`);
  if (ident.length < 64) throw new ElfError("ELF_MALFORMED", r.path, "ELF header is truncated");
  const phoff = toNumber(ident.readBigUInt64LE(0x20), r, "e_phoff");
  const phentsize = ident.readUInt16LE(0x36);
  const phnum = ident.readUInt16LE(0x38);
  if (phnum > 0 && phentsize < 56) throw new ElfError("ELF_MALFORMED", r.path, `program header entry size ${phentsize} < 56`);
  const table = r.bytes(phoff, phentsize * phnum, "program headers");
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    segments.push({
      type: table.readUInt32LE(at),
      offset: toNumber(table.readBigUInt64LE(at + 8), r, "p_offset"),
      vaddr: table.readBigUInt64LE(at + 16),
      filesz: toNumber(table.readBigUInt64LE(at + 32), r, "p_filesz"),
    });
  }
  return segments;
}

/** File offset of a virtual address, through the loadable segment that holds it. */
function fileOffset(segments: Segment[], vaddr: bigint, r: Reader, what: string): number {
  for (const s of segments) {
    if (s.type === PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + BigInt(s.filesz)) return s.offset + Number(vaddr - s.vaddr);
  }
  throw new ElfError("ELF_MALFORMED", r.path, `${what} (address 0x${vaddr.toString(16)}) is in no loadable segment`);
}

function readDynamic(r: Reader, segments: Segment[], dynamic: Segment): Pick<ElfDependencies, "needed" | "versions"> {
  const count = Math.min(Math.floor(dynamic.filesz / 16), MAX_ENTRIES);
  const table = r.bytes(dynamic.offset, count * 16, "dynamic segment");
  const neededAt: number[] = [];
  let strtab: bigint | undefined;
  let strsz = 0;
  let verneed: bigint | undefined;
  let verneednum = 0;
  for (let i = 0; i < count; i++) {
    const tag = table.readBigInt64LE(i * 16);
    const val = table.readBigUInt64LE(i * 16 + 8);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) neededAt.push(toNumber(val, r, "DT_NEEDED"));
    else if (tag === DT_STRTAB) strtab = val;
    else if (tag === DT_STRSZ) strsz = toNumber(val, r, "DT_STRSZ");
    else if (tag === DT_VERNEED) verneed = val;
    else if (tag === DT_VERNEEDNUM) verneednum = toNumber(val, r, "DT_VERNEEDNUM");
  }
  if (strtab === undefined) {
    if (neededAt.length > 0 || verneed !== undefined) throw new ElfError("ELF_MALFORMED", r.path, "dynamic segment has no string table");
    return { needed: [], versions: {} };
  }
  const strOff = fileOffset(segments, strtab, r, "DT_STRTAB");
  const str = (index: number, what: string) => r.cstring(strOff, strsz, index, what);
  const needed = neededAt.map((i) => str(i, "DT_NEEDED"));
  const versions: Record<string, string[]> = {};
  if (verneed === undefined) return { needed, versions };
  if (verneednum > MAX_ENTRIES) throw new ElfError("ELF_MALFORMED", r.path, `DT_VERNEEDNUM ${verneednum} is implausible`);
  let entry = fileOffset(segments, verneed, r, "DT_VERNEED");
  for (let i = 0; i < verneednum; i++) {
    const vn = r.bytes(entry, 16, "version need entry");
    const cnt = vn.readUInt16LE(2);
    const file = str(vn.readUInt32LE(4), "version need file");
    const names = (versions[file] ??= []);
    let aux = entry + vn.readUInt32LE(8);
    for (let j = 0; j < cnt && j < MAX_ENTRIES; j++) {
      const vna = r.bytes(aux, 16, "version need aux entry");
      names.push(str(vna.readUInt32LE(8), "version name"));
      const next = vna.readUInt32LE(12);
      if (next === 0) break;
      aux += next;
    }
    const next = vn.readUInt32LE(12);
    if (next === 0) break;
    entry += next;
  }
  return { needed, versions };
}

/** Reads what `path` needs to run; throws ElfError (or the file system's error). */
export function readElfDependencies(path: string): ElfDependencies {
  const fd = openSync(path, "r");
  try {
    const r = new Reader(fd, fstatSync(fd).size, path);
    const segments = readSegments(r);
    const interp = segments.find((s) => s.type === PT_INTERP);
    const interpreter = interp ? r.bytes(interp.offset, interp.filesz, "PT_INTERP").toString("latin1").replace(/\0.*$/s, "") : undefined;
    const dynamic = segments.find((s) => s.type === PT_DYNAMIC);
    const { needed, versions } = dynamic ? readDynamic(r, segments, dynamic) : { needed: [], versions: {} };
    return { static: interpreter === undefined && needed.length === 0, ...(interpreter === undefined ? {} : { interpreter }), needed, versions };
  } finally {
    closeSync(fd);
  }
}

export type GlibcVersion = readonly [major: number, minor: number];

/**
 * The newest GLIBC_x.y symbol version the binary needs (from any library: libc, libm,
 * libpthread, the loader), or undefined when it needs none. GLIBC_PRIVATE ties a binary to
 * one exact glibc build: reported as Infinity so no host floor accepts it.
 */
export function newestGlibc(deps: ElfDependencies): GlibcVersion | undefined {
  let newest: GlibcVersion | undefined;
  for (const names of Object.values(deps.versions)) {
    for (const name of names) {
      if (name === "GLIBC_PRIVATE") return [Infinity, Infinity];
      const m = /^GLIBC_(\d+)\.(\d+)(?:\.\d+)?$/.exec(name);
      if (!m) continue;
      const v: GlibcVersion = [Number(m[1]), Number(m[2])];
      if (!newest || compareGlibc(v, newest) > 0) newest = v;
    }
  }
  return newest;
}

export function compareGlibc(a: GlibcVersion, b: GlibcVersion): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

export function formatGlibc(v: GlibcVersion): string {
  return Number.isFinite(v[0]) ? `GLIBC_${v[0]}.${v[1]}` : "GLIBC_PRIVATE";
}

/** The libraries glibc itself provides: every glibc host has them. */
const GLIBC_LIBRARY = /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libresolv\.so\.2|libutil\.so\.1|ld-linux[-.\w]*\.so\.\d+)$/;

/**
 * Why `deps` might not run on a host whose glibc is at least `floor` (undefined: it runs):
 * a static binary always runs; a dynamic one must need only glibc's own libraries, and no
 * symbol version newer than the floor.
 */
export function glibcObstacle(deps: ElfDependencies, floor: GlibcVersion): string | undefined {
  if (deps.static) return undefined;
  const foreign = deps.needed.filter((lib) => !GLIBC_LIBRARY.test(lib));
  if (foreign.length > 0) return `needs ${foreign.join(", ")} (not part of glibc)`;
  const newest = newestGlibc(deps);
  if (newest !== undefined && compareGlibc(newest, floor) > 0) return `needs ${formatGlibc(newest)} (> ${formatGlibc(floor)})`;
  return undefined;
}
