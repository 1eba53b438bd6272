/**
 * `npm run image` (this file's CLI) and ensureImage(): the aws-node image,
 * localhost/aws-vpc-cni:<package.json version>, built with podman from deploy/k8s/Containerfile
 * only when needed.
 *
 * Cached by content at every level: the bases are tagged by a hash of their spec (./bases.ts);
 * the image carries a label with a hash of its build context, the Containerfile and the build
 * arguments (./context.ts), and is not rebuilt while that matches; when it does not, podman's
 * layer cache rebuilds only the stages whose inputs changed (the Go plugins only when their
 * base changes). What a build leaves behind of this image's earlier builds (the image it
 * replaced, stage results no later build can reuse) is removed, unless a container uses it.
 *
 * Usage: npm run image [-- --force] [--refresh-bases] [--quiet]
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BASE_LABEL, ensureBase, PLUGIN_BUILDER_BASE, RUNTIME_BASE } from "./bases.ts";
import { contextFiles, contextHash, stageContext } from "./context.ts";
import { CHAINED_PLUGINS } from "./layout.ts";
import { ImageBuildError, inspectImage, mustSucceed, podman, TOOL_PATH } from "./podman.ts";

export const IMAGE_REPOSITORY = "localhost/aws-vpc-cni";
export const CONTEXT_LABEL = "aws-vpc-cni.local/context";
/** What the image should stay within (podman's uncompressed size). */
export const IMAGE_SIZE_BUDGET_BYTES = 250_000_000;
const REPO_ROOT = resolve(import.meta.dir, "../../..");
const CONTAINERFILE = "deploy/k8s/Containerfile";
/** The curated context, brought up to date with the working tree before each build. */
const CONTEXT_DIR = ".build/image/context";
/** Content digests of the context's files, by inode and times (./context.ts). */
const DIGEST_CACHE = ".build/image/digests.json";
const TAG_VERSION = /^[0-9A-Za-z][0-9A-Za-z_.-]{0,127}$/;

export interface EnsureImageOptions {
  /** The repository to build from (default: this one). */
  root?: string;
  /** Build even when the image's context label matches. */
  force?: boolean;
  /** Make the Debian bases again (new package versions). */
  refreshBases?: boolean;
  /** Progress lines (mmdebstrap, podman build). */
  onLine?: (line: string) => void;
}

export interface EnsuredImage {
  tag: string;
  id: string;
  sizeBytes: number;
  architecture: string;
  /** Whether podman build ran (false: the tagged image already matched the tree). */
  built: boolean;
  seconds: number;
}

/** The tag for the repository's package.json version; ImageBuildError IMAGE_BAD_VERSION when it cannot be a tag. */
export function imageTag(root: string = REPO_ROOT): string {
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: unknown }).version;
  if (typeof version !== "string" || !TAG_VERSION.test(version)) {
    throw new ImageBuildError("IMAGE_BAD_VERSION", `package.json version ${JSON.stringify(version)} is not usable as an image tag ([0-9A-Za-z_.-], at most 128)`);
  }
  return `${IMAGE_REPOSITORY}:${version}`;
}

/** What this machine lacks to build the image: root (mmdebstrap's root mode, podman's shared storage) and the tools. */
export function missingPrerequisites(): string[] {
  const missing: string[] = process.getuid?.() === 0 ? [] : ["root"];
  for (const tool of ["podman", "runc", "mmdebstrap"]) if (Bun.which(tool, { PATH: TOOL_PATH }) === null) missing.push(tool);
  return missing;
}

/** Builds the image unless the tagged one already matches the tree; see the header. */
export async function ensureImage(opts: EnsureImageOptions = {}): Promise<EnsuredImage> {
  const started = performance.now();
  const root = resolve(opts.root ?? REPO_ROOT);
  if (!existsSync(join(root, CONTAINERFILE))) throw new ImageBuildError("IMAGE_BAD_ROOT", `${root} has no ${CONTAINERFILE}`);
  const tag = imageTag(root);
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    const hint = missing.some((m) => m !== "root") ? " (tests/setup-host.sh installs the packages)" : "";
    throw new ImageBuildError("IMAGE_PREREQUISITE_MISSING", `building the image needs ${missing.join(", ")}${hint}`);
  }
  const [runtime, builder] = await Promise.all([
    ensureBase(RUNTIME_BASE, { refresh: opts.refreshBases, onLine: opts.onLine }),
    ensureBase(PLUGIN_BUILDER_BASE, { refresh: opts.refreshBases, onLine: opts.onLine }),
  ]);
  const buildArgs = {
    RUNTIME_BASE: runtime.tag,
    PLUGIN_BUILDER: builder.tag,
    CNI_PLUGINS: CHAINED_PLUGINS.join(" "),
    VERSION: tag.slice(tag.lastIndexOf(":") + 1),
  };
  const files = contextFiles(root);
  const hash = contextHash(root, [readFileSync(join(root, CONTAINERFILE), "utf8"), JSON.stringify(buildArgs)], files, join(root, DIGEST_CACHE));
  const before = await inspectImage(tag);
  if (before && !opts.force && before.labels[CONTEXT_LABEL] === hash) {
    return { tag, id: before.id, sizeBytes: before.sizeBytes, architecture: before.architecture, built: false, seconds: (performance.now() - started) / 1000 };
  }
  const contextDir = join(root, CONTEXT_DIR);
  stageContext(root, contextDir, files);
  const argv = ["build", "--network", "none", "--layers", "--file", join(root, CONTAINERFILE)];
  for (const [k, v] of Object.entries({ ...buildArgs, CONTEXT_HASH: hash })) argv.push("--build-arg", `${k}=${v}`);
  argv.push("--label", `${CONTEXT_LABEL}=${hash}`, "--tag", tag, contextDir);
  const built = mustSucceed(`podman build ${tag}`, await podman(argv, { timeoutMs: 30 * 60_000, onLine: opts.onLine }), "IMAGE_BUILD_FAILED");
  const after = await inspectImage(tag);
  if (!after) throw new ImageBuildError("IMAGE_BUILD_FAILED", `${tag} is not in podman's storage after the build`);
  await removeSupersededImages([after.id, ...stageImageIds(built.stdout)]);
  return { tag, id: after.id, sizeBytes: after.sizeBytes, architecture: after.architecture, built: true, seconds: (performance.now() - started) / 1000 };
}

/** The images podman build committed or reused, from its `--> <id>` lines. */
export function stageImageIds(buildOutput: string): string[] {
  return [...buildOutput.matchAll(/^--> (?:Using cache )?([0-9a-f]{11,64})\s*$/gm)].map((m) => m[1]!);
}

/**
 * Removes untagged images made from this image's bases (they carry BASE_LABEL) that the
 * build just done did not use: the image it replaced and stage results of earlier sources.
 * podman refuses (and they stay) when a container uses one.
 */
async function removeSupersededImages(keep: readonly string[]): Promise<void> {
  const listed = await podman(["images", "--noheading", "--no-trunc", "--filter", "dangling=true", "--filter", `label=${BASE_LABEL}`, "--format", "{{.ID}}"]);
  if (listed.exitCode !== 0) return;
  const ids = listed.stdout.split("\n").map((l) => l.trim().replace(/^sha256:/, "")).filter(Boolean);
  const stale = ids.filter((id) => !keep.some((k) => id.startsWith(k)));
  for (const id of stale) await podman(["rmi", id]);
}

export function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { force: { type: "boolean", default: false }, "refresh-bases": { type: "boolean", default: false }, quiet: { type: "boolean", default: false } },
  });
  try {
    const img = await ensureImage({
      force: values.force,
      refreshBases: values["refresh-bases"],
      onLine: values.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
    });
    const over = img.sizeBytes > IMAGE_SIZE_BUDGET_BYTES ? ` (over the ${formatMB(IMAGE_SIZE_BUDGET_BYTES)} budget)` : "";
    process.stdout.write(`${img.tag} ${img.id.slice(0, 12)} ${img.architecture} ${formatMB(img.sizeBytes)}${over}; ${img.built ? "built" : "up to date"} in ${img.seconds.toFixed(1)} s\n`);
  } catch (err) {
    process.stderr.write(`image: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
