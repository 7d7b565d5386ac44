#!/bin/bash
# Installs what tsrunc and its tests need on a Debian machine (run as root), then builds
# tsrunc with `npm ci` (which compiles the addon and bundles the CLI).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(busybox-static runc crun criu python3 make g++ pkg-config libseccomp-dev libsystemd-dev clang-format containerd docker.io podman hyperfine time uidmap man-db zsh)
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

if ! command -v node >/dev/null; then
  echo "setup: Node.js 20 or newer is required (apt-get install nodejs npm)" >&2
  exit 1
fi

# npm ci runs the addon build (node-gyp) and the bundle (scripts/build.mjs).
npm ci --no-audit --no-fund

# The clean Debian (no compiler) that test/integration/package.test.ts installs the npm package
# into: debootstrap minbase plus this machine's Node.js, built once under /var/cache/tsrunc.
./scripts/make-clean-rootfs.sh
