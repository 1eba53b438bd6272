import { requires } from "../../tests/support/prerequisites.ts";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, closeSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../shared/config/index.ts";
import { decideInstall, installDurably, installFiles, planInstall, portabilityObstacle } from "./install-cni.ts";

const REPO = join(import.meta.dir, "../..");
const BUN = join(REPO, "node_modules/bun/bin/bun.exe");
// A static binary and one needing GLIBC_2.34, both Debian's (tests/setup-host.sh installs them).
const STATIC = "/bin/busybox";
const NEEDS_2_34 = "/usr/lib/cni/portmap";
const binaries = requires("busybox", "portmap");
const PLUGINS = ["portmap", "loopback", "host-local", "bandwidth", "tuning"];

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "install-cni-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** An image's worth of sources: every plugin a copy of `pluginBinary`, the shim a copy of `shim`. */
function sources(pluginBinary: string, shim = STATIC): { pluginsDir: string; shim: string } {
  const pluginsDir = join(dir, "image/cni");
  mkdirSync(pluginsDir, { recursive: true });
  for (const p of PLUGINS) copyFileSync(pluginBinary, join(pluginsDir, p));
  copyFileSync(shim, join(dir, "image/aws-cni"));
  return { pluginsDir, shim: join(dir, "image/aws-cni") };
}

describe("planInstall", () => {
  test("the shim and every chained plugin go to HOST_CNI_BIN_PATH, and no conflist", () => {
    const { config } = loadConfig({ HOST_CNI_BIN_PATH: "/host/opt/cni/bin" });
    const plan = planInstall(config, { pluginsDir: "/app/cni", shim: "/app/bin/aws-cni" });
    expect(plan.files).toEqual([
      { name: "aws-cni", from: "/app/bin/aws-cni", to: "/host/opt/cni/bin/aws-cni", mode: 0o755 },
      ...PLUGINS.map((p) => ({ name: p, from: `/app/cni/${p}`, to: `/host/opt/cni/bin/${p}`, mode: 0o755 })),
    ]);
    expect(plan.sysctls).toEqual([{ key: "net/ipv4/tcp_early_demux", value: "1" }]);
  });

  test("egress-cni (the shim under that name) is installed when the mode's egress is on: IPv6 mode by default, IPv4 mode with ENABLE_V6_EGRESS", () => {
    const names = (env: Record<string, string>) => planInstall(loadConfig(env).config, { pluginsDir: "/p", shim: "/s" }).files.filter((f) => f.from === "/s").map((f) => f.name);
    const v6 = { ENABLE_IPv6: "true", ENABLE_IPv4: "false", ENABLE_PREFIX_DELEGATION: "true" };
    expect(names(v6)).toEqual(["aws-cni", "egress-cni"]);
    expect(names({ ...v6, ENABLE_V4_EGRESS: "false" })).toEqual(["aws-cni"]);
    expect(names({ ENABLE_V6_EGRESS: "true" })).toEqual(["aws-cni", "egress-cni"]);
    expect(names({})).toEqual(["aws-cni"]);
  });

  test("sysctls follow DISABLE_TCP_EARLY_DEMUX and ENABLE_IPv6", () => {
    const { config } = loadConfig({ DISABLE_TCP_EARLY_DEMUX: "true", ENABLE_IPv6: "true", ENABLE_IPv4: "false", ENABLE_PREFIX_DELEGATION: "true" });
    expect(planInstall(config, { pluginsDir: "/p", shim: "/s" }).sysctls).toEqual([
      { key: "net/ipv4/tcp_early_demux", value: "0" },
      { key: "net/ipv6/conf/all/forwarding", value: "1" },
      { key: "net/ipv6/conf/all/accept_ra", value: "2" },
    ]);
  });
});

describe("the install rule", () => {
  test("a portable binary is installed over whatever is there; one that might not run never replaces the node's", () => {
    expect(decideInstall("portmap", undefined, true)).toEqual({ action: "install" });
    expect(decideInstall("portmap", undefined, false)).toEqual({ action: "install" });
    expect(decideInstall("portmap", "needs GLIBC_2.34 (> GLIBC_2.26)", true)).toEqual({ action: "keep", warning: "kept the node's portmap: ours needs GLIBC_2.34 (> GLIBC_2.26)" });
    expect(decideInstall("portmap", "needs GLIBC_2.34 (> GLIBC_2.26)", false)).toEqual({
      action: "install",
      warning: "installed portmap, which needs GLIBC_2.34 (> GLIBC_2.26): it may not run on this node",
    });
  });

  binaries.test("Debian's static busybox is portable, its portmap (GLIBC_2.34) is not", () => {
    expect(portabilityObstacle(STATIC)).toBeUndefined();
    expect(portabilityObstacle(NEEDS_2_34)).toBe("needs GLIBC_2.34 (> GLIBC_2.26)");
  });

  test("what is portable is read from the binary: Bun is, a script is not", () => {
    expect(portabilityObstacle(BUN)).toBeUndefined();
    const script = join(dir, "script");
    writeFileSync(script, "#!/bin/sh\n");
    expect(portabilityObstacle(script)).toMatch(/^cannot be checked \(ELF_NOT_ELF: /);
  });

  binaries.test("static plugins replace the node's; each file whole, 0755, no temp file left", () => {
    const bin = join(dir, "host/opt/cni/bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "portmap"), "the node's own portmap");
    const { config } = loadConfig({ HOST_CNI_BIN_PATH: bin });
    const outcomes = installFiles(planInstall(config, sources(STATIC)).files);
    expect(outcomes.map((o) => [o.name, o.action, o.warning])).toEqual(["aws-cni", ...PLUGINS].map((n) => [n, "install", undefined]));
    for (const name of ["aws-cni", ...PLUGINS]) {
      expect(readFileSync(join(bin, name)).equals(readFileSync(STATIC))).toBe(true);
      expect(statSync(join(bin, name)).mode & 0o777).toBe(0o755);
    }
    expect(readdirSync(bin).sort()).toEqual(["aws-cni", ...PLUGINS].sort());
  });

  binaries.test("plugins needing GLIBC_2.34 keep the node's plugins and fill only the gaps, with warnings", () => {
    const bin = join(dir, "host/opt/cni/bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "portmap"), "the node's own portmap");
    writeFileSync(join(bin, "loopback"), "the node's own loopback");
    const { config } = loadConfig({ HOST_CNI_BIN_PATH: bin });
    const outcomes = installFiles(planInstall(config, sources(NEEDS_2_34)).files);
    const byName = Object.fromEntries(outcomes.map((o) => [o.name, o]));
    expect(byName["aws-cni"]).toMatchObject({ action: "install" });
    expect(byName["aws-cni"]!.warning).toBeUndefined();
    expect(byName.portmap).toMatchObject({ action: "keep", warning: "kept the node's portmap: ours needs GLIBC_2.34 (> GLIBC_2.26)" });
    expect(byName.loopback).toMatchObject({ action: "keep" });
    expect(byName.tuning).toMatchObject({ action: "install", warning: "installed tuning, which needs GLIBC_2.34 (> GLIBC_2.26): it may not run on this node" });
    expect(readFileSync(join(bin, "portmap"), "utf8")).toBe("the node's own portmap");
    expect(readFileSync(join(bin, "loopback"), "utf8")).toBe("the node's own loopback");
    expect(readFileSync(join(bin, "tuning")).equals(readFileSync(NEEDS_2_34))).toBe(true);
  });
});

describe("installDurably", () => {
  test("replaces the directory entry, not the inode: a reader of the old file keeps reading it whole", () => {
    const to = join(dir, "bin/plugin");
    mkdirSync(join(dir, "bin"));
    writeFileSync(to, "old binary");
    const fd = openSync(to, "r");
    try {
      writeFileSync(join(dir, "new"), "new binary, longer");
      installDurably(join(dir, "new"), to, 0o755);
      const buf = Buffer.alloc(64);
      expect(buf.toString("utf8", 0, readSync(fd, buf, 0, 64, 0))).toBe("old binary");
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(to, "utf8")).toBe("new binary, longer");
    expect(readdirSync(join(dir, "bin"))).toEqual(["plugin"]);
  });

  test("a source that cannot be read leaves the target as it was and no temp file", () => {
    const to = join(dir, "bin/plugin");
    mkdirSync(join(dir, "bin"));
    writeFileSync(to, "old binary");
    expect(() => installDurably(join(dir, "absent"), to, 0o755)).toThrow(/ENOENT/);
    expect(readFileSync(to, "utf8")).toBe("old binary");
    expect(readdirSync(join(dir, "bin"))).toEqual(["plugin"]);
  });
});

describe("the install-cni command", () => {
  async function run(args: string[], env: Record<string, string>) {
    const p = Bun.spawn([process.execPath, join(import.meta.dir, "install-cni.ts"), ...args], { env, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { stdout, stderr, code };
  }

  binaries.test("sets the sysctls under --proc-sys and installs into HOST_CNI_BIN_PATH", async () => {
    const src = sources(STATIC);
    const procSys = join(dir, "proc-sys");
    mkdirSync(join(procSys, "net/ipv4"), { recursive: true });
    writeFileSync(join(procSys, "net/ipv4/tcp_early_demux"), "1");
    const bin = join(dir, "host/opt/cni/bin");
    const r = await run(["--plugins-dir", src.pluginsDir, "--shim", src.shim, "--proc-sys", procSys], { HOST_CNI_BIN_PATH: bin, DISABLE_TCP_EARLY_DEMUX: "true" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(join(procSys, "net/ipv4/tcp_early_demux"), "utf8")).toBe("0");
    expect(readdirSync(bin).sort()).toEqual(["aws-cni", ...PLUGINS].sort());
    expect(r.stdout).toContain(`install-cni: installed ${join(bin, "portmap")}\n`);
  });

  test("a missing source fails naming it, before anything is touched", async () => {
    const standIn = join(dir, "stand-in");
    writeFileSync(standIn, "#!/bin/sh\n");
    const src = sources(standIn, standIn);
    rmSync(join(src.pluginsDir, "tuning"));
    const bin = join(dir, "host/opt/cni/bin");
    const r = await run(["--plugins-dir", src.pluginsDir, "--shim", src.shim, "--proc-sys", join(dir, "no-proc-sys")], { HOST_CNI_BIN_PATH: bin });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`install-cni: INSTALL_SOURCE_MISSING: ${join(src.pluginsDir, "tuning")}\n`);
    expect(existsSync(bin)).toBe(false);
  });
});
