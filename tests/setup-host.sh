#!/usr/bin/env bash
# Installs the Debian packages the project's tests and local deployment use, when they are
# missing. Idempotent; needs root for apt-get (skips with a note otherwise).
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip || need+=(iproute2)
have iptables || need+=(iptables)
have nft || need+=(nftables)
have podman || need+=(podman)
have runc || need+=(runc)
[ -x /usr/lib/cni/portmap ] || need+=(containernetworking-plugins)
[ -x /bin/busybox ] || need+=(busybox-static)
have curl || need+=(curl)
have nsenter || need+=(util-linux)
have mmdebstrap || need+=(mmdebstrap)
have ping || need+=(iputils-ping)
have kubectl || need+=(kubernetes-client)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "setup-host: not root; cannot install: ${need[*]} (tests needing them will skip)" >&2
  exit 0
fi
echo "setup-host: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
