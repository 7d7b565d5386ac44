#!/bin/sh
# install-extras.sh [--prefix DIR] [--destdir DIR]: what `make install` would put beside the
# tsrunc executable and npm cannot: bash and zsh completion, and the man pages (npm links those
# itself for a global install; a source build gets them here). Run from a source build (after
# `npm run build`) or from an installed package:
#   sudo "$(npm root -g)/tsrunc/scripts/install-extras.sh"
# --prefix defaults to /usr/local: man pages to PREFIX/share/man/man8, completion to
# PREFIX/share/bash-completion/completions/tsrunc (where bash-completion looks, through
# XDG_DATA_DIRS) and PREFIX/share/zsh/site-functions/_tsrunc. --destdir (or DESTDIR) stages
# the files under another root, for packagers.
set -eu
prefix=/usr/local
destdir=${DESTDIR:-}
while [ $# -gt 0 ]; do
  case $1 in
  --prefix) prefix=$2; shift 2 ;;
  --prefix=*) prefix=${1#*=}; shift ;;
  --destdir) destdir=$2; shift 2 ;;
  --destdir=*) destdir=${1#*=}; shift ;;
  *) echo "usage: install-extras.sh [--prefix DIR] [--destdir DIR]" >&2; exit 2 ;;
  esac
done
share=$(dirname "$(readlink -f "$0")")/../share
if [ ! -f "$share/bash-completion/completions/tsrunc" ]; then
  echo "install-extras.sh: $share is missing: run \`npm run build\` first" >&2
  exit 1
fi
base=$destdir$prefix/share
install -d "$base/man/man8" "$base/bash-completion/completions" "$base/zsh/site-functions"
install -m 0644 "$share"/man/man8/*.8 "$base/man/man8/"
install -m 0644 "$share/bash-completion/completions/tsrunc" "$base/bash-completion/completions/tsrunc"
install -m 0644 "$share/zsh/site-functions/_tsrunc" "$base/zsh/site-functions/_tsrunc"
echo "installed man pages and completion under $base"
