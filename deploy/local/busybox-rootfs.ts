/**
 * A busybox root filesystem: the machine's static busybox plus one symlink per applet, and
 * a few files the tests serve (an httpd CGI answering the peer address, an `nc -e`
 * handler). Containers run on it with `podman run --rootfs DIR` when there is no image:
 * nothing is pulled, nothing goes through a registry.
 */
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "./vpc/command.ts";

export const BUSYBOX = "/bin/busybox";
const APPLET = /^[a-z0-9_.[-]+$/;

export async function buildRootfs(dir: string): Promise<string> {
  mkdirSync(join(dir, "bin"), { recursive: true });
  for (const d of ["proc", "sys", "dev", "etc", "tmp", "run", "www/cgi-bin"]) mkdirSync(join(dir, d), { recursive: true });
  cpSync(BUSYBOX, join(dir, "bin/busybox"));
  const list = await runCommand([BUSYBOX, "--list"]);
  if (list.exitCode !== 0) throw new Error(`busybox --list failed: ${list.stderr}`);
  for (const applet of list.stdout.split("\n")) {
    if (applet && applet !== "busybox" && APPLET.test(applet)) symlinkSync("busybox", join(dir, "bin", applet));
  }
  // httpd CGI that answers with the peer address the container saw (no NAT check).
  writeFileSync(join(dir, "www/cgi-bin/peer"), '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n', { mode: 0o755 });
  writeFileSync(join(dir, "www/index.html"), "hello from the container\n");
  // `nc -ll -e` handler: one line in, "pong <line>" out.
  writeFileSync(join(dir, "www/reply"), 'read line\necho "pong $line"\n');
  return dir;
}
