#!/bin/bash
# make-clean-rootfs.sh [DIR]: the "clean Debian" the package test installs tsrunc into (issue 20):
# debootstrap's minbase of this machine's release (libseccomp2 comes with apt; no compiler, no
# make, no python, no -dev package) plus this machine's Node.js — /usr/bin/node and npm, as
# nodejs.org's tarball or NodeSource's package gives them, without the C headers. Built once,
# read-only afterwards: the test runs it as the root of a read-only container, with tmpfs
# where npm writes. DIR defaults to /var/cache/tsrunc/clean-rootfs; a finished tree has
# DIR/.tsrunc-clean-rootfs naming the Node.js it holds, and is rebuilt when that changes.
set -euo pipefail
dir=${1:-/var/cache/tsrunc/clean-rootfs}
node=$(command -v node)
node=$(readlink -f "$node")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
stamp="node $("$node" --version) npm $(npm --version) $(. /etc/os-release && echo "$VERSION_CODENAME")"
if [ -f "$dir/.tsrunc-clean-rootfs" ] && [ "$(cat "$dir/.tsrunc-clean-rootfs")" = "$stamp" ]; then
  exit 0
fi
if ! dpkg-query -W -f='${Status}' debootstrap 2>/dev/null | grep -q "install ok installed"; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/\?$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
tmp="$dir.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$dir")"
echo "make-clean-rootfs: debootstrap --variant=minbase $codename from $mirror (once; a few minutes)"
debootstrap --variant=minbase --include=libseccomp2 "$codename" "$tmp" "$mirror" >"$tmp.log" 2>&1 || {
  tail -20 "$tmp.log" >&2
  rm -f "$tmp.log"
  exit 1
}
rm -f "$tmp.log"
# Node.js: the binary and npm (its node-gyp included), nothing else of the build machine.
install -m 0755 "$node" "$tmp/usr/bin/node"
mkdir -p "$tmp/usr/lib/node_modules"
cp -a "$npm_dir" "$tmp/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$tmp/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$tmp/usr/bin/npx"
# What the test relies on: nothing that compiles, and the libraries node and the addon load.
for tool in cc gcc g++ c++ clang make python3 pkg-config; do
  if chroot "$tmp" /bin/sh -c "command -v $tool" >/dev/null 2>&1; then
    echo "make-clean-rootfs: $tool is in the clean root filesystem" >&2
    exit 1
  fi
done
chroot "$tmp" /usr/bin/node -e 'process.exit(0)'
rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"*
echo "$stamp" >"$tmp/.tsrunc-clean-rootfs"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
