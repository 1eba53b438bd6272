#!/usr/bin/env bash
# Installs the Debian packages the project's tests and local deployment use, when they are
# missing, then checks that each is there: exits non-zero naming what is still missing.
# Idempotent; needs root for apt-get (without root it only reports what is missing).
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
# What each package provides, checked before and after: "command:<name>" or "file:<path>".
checks=(
  "iproute2 command:ip"
  "iptables command:iptables"
  "nftables command:nft"
  "podman command:podman"
  "runc command:runc"
  "conmon command:conmon"
  "containernetworking-plugins file:/usr/lib/cni/portmap"
  "containernetworking-plugins file:/usr/lib/cni/ptp"
  "busybox-static file:/bin/busybox"
  "curl command:curl"
  "util-linux command:nsenter"
  "util-linux command:setpriv"
  "util-linux command:unshare"
  "mmdebstrap command:mmdebstrap"
  "iputils-ping command:ping"
  "kubernetes-client command:kubectl"
  "strace command:strace"
)
present() {
  case "$1" in
    command:*) have "${1#command:}" ;;
    file:*) [ -x "${1#file:}" ] ;;
  esac
}
# What is absent, as "<command or file> (<package>)", comma-separated.
missing() {
  local out="" c what
  for c in "${checks[@]}"; do
    what="${c#* }"
    if ! present "$what"; then out+="${out:+, }${what#*:} (${c%% *})"; fi
  done
  echo "$out"
}
need=()
for c in "${checks[@]}"; do
  pkg="${c%% *}"
  if ! present "${c#* }" && [[ " ${need[*]:-} " != *" $pkg "* ]]; then need+=("$pkg"); fi
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "setup-host: not root; cannot install: ${need[*]} (missing: $(missing); tests needing them skip, or fail under CI)" >&2
  exit 0
fi
echo "setup-host: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
still="$(missing)"
if [ -n "$still" ]; then
  echo "setup-host: still missing after installing ${need[*]}: $still" >&2
  exit 1
fi
