/**
 * The image's base images, made from Debian's packages with mmdebstrap and imported into
 * podman's storage (no container registry). Each is tagged by a hash of everything that
 * shapes it (suite, variant, packages, dpkg and hook options), so a base is made once and
 * reused while its spec is unchanged; `refresh` makes it again (to pick up Debian's updates).
 *
 * - runtime: what the final image runs on. The Essential:yes set (dash, coreutils, util-linux
 *   for nsenter, glibc) plus iproute2 (`ip`), iptables (nft and legacy backends with their
 *   -save/-restore) and nftables (`nft`); merged /usr set up without the usrmerge package
 *   (which pulls Perl); no apt; no docs, man pages, locales or iconv modules.
 * - plugin-builder: Go 1.19 and the CNI plugins' Debian sources (the source package, patched
 *   as Debian builds it, and its Go dependencies as Debian -dev packages under
 *   /usr/share/gocode), so the build stage compiles static plugins with nothing fetched.
 *
 * The hook strings are mmdebstrap's interface (it runs them with sh, `$1` the chroot); they
 * are constants here, never built from input.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ImageBuildError, inspectImage, mustSucceed, podman, runTool } from "./podman.ts";

export interface BaseSpec {
  name: "runtime" | "plugin-builder";
  suite: string;
  variant: "essential" | "apt";
  include: readonly string[];
  dpkgopts: readonly string[];
  hookDirs: readonly string[];
  setupHooks: readonly string[];
  customizeHooks: readonly string[];
}

export const BASE_REPOSITORY = "localhost/aws-vpc-cni-base";
/** Every base carries it (value: the spec's name), and so does every image built on one. */
export const BASE_LABEL = "aws-vpc-cni.local/base";

const SLIM = [
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/locale/*",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/lintian/*",
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
];

/** podman provides these per container; the build host's copies must not be baked in. */
const FORGET_BUILD_HOST = 'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"';

export const RUNTIME_BASE: BaseSpec = {
  name: "runtime",
  suite: "bookworm",
  variant: "essential",
  include: ["iproute2", "iptables", "nftables"],
  dpkgopts: [...SLIM, "path-exclude=/usr/lib/*-linux-gnu/gconv/*"],
  hookDirs: ["/usr/share/mmdebstrap/hooks/merged-usr"],
  setupHooks: [],
  customizeHooks: [FORGET_BUILD_HOST],
};

/** Where the plugin-builder base holds the CNI plugins' patched Debian source tree. */
export const PLUGIN_SOURCES_DIR = "/usr/src/cni-plugins";

export const PLUGIN_BUILDER_BASE: BaseSpec = {
  name: "plugin-builder",
  suite: "bookworm",
  variant: "apt",
  include: [
    "golang-go",
    "golang-github-containernetworking-plugins-dev",
    // portmap's shell-word parsing; not a dependency of the -dev package (only the plugin uses it)
    "golang-github-mattn-go-shellwords-dev",
    // dpkg-source, to unpack and patch the source package
    "dpkg-dev",
  ],
  dpkgopts: SLIM,
  hookDirs: ["/usr/share/mmdebstrap/hooks/merged-usr"],
  // The same archives' source packages: each `deb` line again as `deb-src`.
  setupHooks: ['sed -n "s/^deb /deb-src /p" "$1/etc/apt/sources.list" > "$1/etc/apt/sources.list.d/deb-src.list"'],
  customizeHooks: [
    `chroot "$1" sh -c "mkdir -p ${PLUGIN_SOURCES_DIR} && cd ${PLUGIN_SOURCES_DIR} && apt-get source golang-github-containernetworking-plugins && ls -d */ | grep -q ."`,
    FORGET_BUILD_HOST,
  ],
};

export function baseTag(spec: BaseSpec): string {
  const hash = createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 16);
  return `${BASE_REPOSITORY}:${spec.name}-${hash}`;
}

export function mmdebstrapArgv(spec: BaseSpec, target: string): string[] {
  return [
    "mmdebstrap",
    "--quiet",
    "--mode=root",
    `--variant=${spec.variant}`,
    `--include=${spec.include.join(",")}`,
    ...spec.dpkgopts.map((o) => `--dpkgopt=${o}`),
    ...spec.hookDirs.map((d) => `--hook-dir=${d}`),
    ...spec.setupHooks.map((h) => `--setup-hook=${h}`),
    ...spec.customizeHooks.map((h) => `--customize-hook=${h}`),
    spec.suite,
    target,
  ];
}

export interface EnsuredBase {
  tag: string;
  built: boolean;
  seconds: number;
}

/** The base's tag, made (mmdebstrap → tar → podman import) only when missing or when `refresh`. */
export async function ensureBase(spec: BaseSpec, opts: { refresh?: boolean; onLine?: (line: string) => void } = {}): Promise<EnsuredBase> {
  const started = performance.now();
  const tag = baseTag(spec);
  if (!opts.refresh && (await inspectImage(tag))) return { tag, built: false, seconds: 0 };
  const dir = mkdtempSync(join("/var/tmp", `aws-vpc-cni-base-${spec.name}-`));
  try {
    const tar = join(dir, "rootfs.tar");
    const made = await runTool(mmdebstrapArgv(spec, tar), { timeoutMs: 30 * 60_000, onLine: opts.onLine });
    mustSucceed(`mmdebstrap (${spec.name} base)`, made, "BASE_MMDEBSTRAP_FAILED");
    const imported = await podman(["import", "--change", `LABEL ${BASE_LABEL}=${spec.name}`, "--message", `mmdebstrap ${spec.suite} ${spec.variant}: ${spec.name}`, tar, tag], { timeoutMs: 10 * 60_000 });
    mustSucceed(`podman import (${spec.name} base)`, imported, "BASE_IMPORT_FAILED");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!(await inspectImage(tag))) throw new ImageBuildError("BASE_IMPORT_FAILED", `${tag} is not in podman's storage after the import`);
  return { tag, built: true, seconds: (performance.now() - started) / 1000 };
}
