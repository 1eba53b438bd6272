import { requires } from "../../../tests/support/prerequisites.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ElfError, glibcObstacle, newestGlibc, readElfDependencies, type ElfDependencies } from "./elf.ts";

const BUN = join(import.meta.dir, "../../../node_modules/bun/bin/bun.exe");
// Debian's busybox-static and containernetworking-plugins (tests/setup-host.sh installs both).
const BUSYBOX = "/bin/busybox";
const DEBIAN_PORTMAP = "/usr/lib/cni/portmap";
const AL2: readonly [number, number] = [2, 26];
const dir = mkdtempSync(join(tmpdir(), "elf-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function elfErrorCode(path: string): string | undefined {
  try {
    readElfDependencies(path);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ElfError);
    return (err as ElfError).code;
  }
}

describe("readElfDependencies on real binaries", () => {
  requires("busybox").test("Debian's busybox-static is static: no interpreter, nothing needed", () => {
    const deps = readElfDependencies(BUSYBOX);
    expect(deps).toEqual({ static: true, needed: [], versions: {} });
    expect(glibcObstacle(deps, AL2)).toBeUndefined();
  });

  test("Bun needs only glibc, nothing newer than GLIBC_2.17", () => {
    const deps = readElfDependencies(BUN);
    expect(deps.static).toBe(false);
    expect(deps.interpreter).toMatch(/^\/lib64\/ld-linux-x86-64\.so\.2$|^\/lib\/ld-linux-aarch64\.so\.1$/);
    expect(deps.needed).toContain("libc.so.6");
    expect(deps.versions["libc.so.6"]).toContain("GLIBC_2.17");
    expect(newestGlibc(deps)).toEqual([2, 17]);
    expect(glibcObstacle(deps, AL2)).toBeUndefined();
  });

  requires("portmap").test("Debian's portmap needs GLIBC_2.34: not for a glibc 2.26 node", () => {
    const deps = readElfDependencies(DEBIAN_PORTMAP);
    expect(deps.static).toBe(false);
    expect(deps.needed).toEqual(["libc.so.6"]);
    expect(newestGlibc(deps)).toEqual([2, 34]);
    expect(glibcObstacle(deps, AL2)).toBe("needs GLIBC_2.34 (> GLIBC_2.26)");
    expect(glibcObstacle(deps, [2, 36])).toBeUndefined();
  });

  requires("portmap").test("reads the same without section headers (found through the dynamic segment)", () => {
    const bytes = readFileSync(DEBIAN_PORTMAP);
    bytes.writeBigUInt64LE(0n, 0x28); // e_shoff
    bytes.writeUInt16LE(0, 0x3c); // e_shnum
    bytes.writeUInt16LE(0, 0x3e); // e_shstrndx
    const stripped = join(dir, "portmap-no-sections");
    writeFileSync(stripped, bytes);
    expect(readElfDependencies(stripped)).toEqual(readElfDependencies(DEBIAN_PORTMAP));
  });
});

describe("readElfDependencies on bad input", () => {
  test("a file that is not ELF: ELF_NOT_ELF", () => {
    const script = join(dir, "script");
    writeFileSync(script, "#!/bin/sh\necho hi\n");
    expect(elfErrorCode(script)).toBe("ELF_NOT_ELF");
    const empty = join(dir, "empty");
    writeFileSync(empty, "");
    expect(elfErrorCode(empty)).toBe("ELF_NOT_ELF");
  });

  test("32-bit or big-endian ELF: ELF_UNSUPPORTED", () => {
    const header = Buffer.alloc(64);
    header.writeUInt32BE(0x7f454c46, 0);
    header[4] = 1; // ELFCLASS32
    header[5] = 1;
    const elf32 = join(dir, "elf32");
    writeFileSync(elf32, header);
    expect(elfErrorCode(elf32)).toBe("ELF_UNSUPPORTED");
    header[4] = 2;
    header[5] = 2; // big-endian
    writeFileSync(elf32, header);
    expect(elfErrorCode(elf32)).toBe("ELF_UNSUPPORTED");
  });

  test("truncated or pointing outside itself: ELF_MALFORMED", () => {
    const truncated = join(dir, "truncated");
    writeFileSync(truncated, readFileSync(BUN).subarray(0, 4096));
    expect(elfErrorCode(truncated)).toBe("ELF_MALFORMED");
    const header = readFileSync(BUN).subarray(0, 64);
    header.writeBigUInt64LE(1n << 40n, 0x20); // e_phoff far past the end
    const wild = join(dir, "wild");
    writeFileSync(wild, header);
    expect(elfErrorCode(wild)).toBe("ELF_MALFORMED");
  });

  test("a missing file: the file system's error", () => {
    expect(() => readElfDependencies(join(dir, "absent"))).toThrow(/ENOENT/);
  });
});

describe("glibcObstacle", () => {
  const dynamic = (needed: string[], versions: Record<string, string[]>): ElfDependencies => ({ static: false, interpreter: "/lib64/ld-linux-x86-64.so.2", needed, versions });

  test("the newest version counts, from any glibc library; patch levels compare by x.y", () => {
    const deps = dynamic(["libm.so.6", "libc.so.6"], { "libc.so.6": ["GLIBC_2.2.5", "GLIBC_2.14"], "libm.so.6": ["GLIBC_2.27"] });
    expect(newestGlibc(deps)).toEqual([2, 27]);
    expect(glibcObstacle(deps, [2, 26])).toBe("needs GLIBC_2.27 (> GLIBC_2.26)");
    expect(glibcObstacle(deps, [2, 27])).toBeUndefined();
    expect(newestGlibc(dynamic(["libc.so.6"], { "libc.so.6": ["GLIBC_2.3.4", "GLIBC_2.2.5"] }))).toEqual([2, 3]);
  });

  test("GLIBC_PRIVATE and libraries outside glibc are obstacles", () => {
    expect(glibcObstacle(dynamic(["libc.so.6"], { "libc.so.6": ["GLIBC_PRIVATE"] }), [2, 99])).toBe("needs GLIBC_PRIVATE (> GLIBC_2.99)");
    expect(glibcObstacle(dynamic(["libssl.so.3", "libc.so.6"], {}), [2, 26])).toBe("needs libssl.so.3 (not part of glibc)");
  });

  test("a dynamic binary needing no versioned symbol runs anywhere", () => {
    expect(glibcObstacle(dynamic(["libc.so.6"], {}), [2, 17])).toBeUndefined();
  });
});
