#!/bin/bash
# Installs what tsrunc and its tests need on a Debian machine (run as root), then builds
# tsrunc with `npm ci` (which compiles the addon and bundles the CLI).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(busybox-static runc crun criu checkpolicy python3 make g++ pkg-config libseccomp-dev libsystemd-dev clang-format containerd docker.io podman hyperfine time uidmap man-db zsh)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# apparmor_parser, for the AppArmor tests of restore --lsm-profile in the QEMU guest (whose
# kernel has AppArmor; test/integration/checkpoint-lsm.test.ts): Debian's apparmor package
# unpacked under /var/cache/tsrunc/apparmor, not installed. Installed, it would enable
# apparmor.service (wanted by sysinit.target, which the --systemd guest boots) and put
# /sbin/apparmor_parser where containerd, dockerd and podman look to decide that AppArmor is in
# use: the other guest lanes would change. (checkpolicy, above, only compiles the SELinux
# guest's policy.)
aa=/var/cache/tsrunc/apparmor
if [ ! -x "$aa/sbin/apparmor_parser" ]; then
  echo "setup: unpacking Debian's apparmor package into $aa"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -q apparmor >/dev/null 2>&1) ||
    { apt-get update -qq && (cd "$tmp" && apt-get download -q apparmor >/dev/null 2>&1); }
  rm -rf "$aa.tmp" && mkdir -p "$(dirname "$aa")" && dpkg-deb -x "$tmp"/apparmor_*.deb "$aa.tmp"
  rm -rf "$tmp" "$aa" && mv "$aa.tmp" "$aa"
fi

if ! command -v node >/dev/null; then
  echo "setup: Node.js 20 or newer is required (apt-get install nodejs npm)" >&2
  exit 1
fi

# npm ci runs the addon build (node-gyp) and the bundle (scripts/build.mjs).
npm ci --no-audit --no-fund

# The clean Debian (no compiler) that test/integration/package.test.ts installs the npm package
# into: debootstrap minbase plus this machine's Node.js, built once under /var/cache/tsrunc.
./scripts/make-clean-rootfs.sh
