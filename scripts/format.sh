#!/bin/bash
# The project's formatting: prettier for TypeScript and the .mjs scripts (.prettierrc.json),
# clang-format for native/ (.clang-format). `scripts/format.sh` rewrites; `--check` (what
# .ci/run runs) lists what differs and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ts=("src/**/*.ts" "test/**/*.ts" "scripts/**/*.mjs" "bench/**/*.mjs")
mapfile -t cc < <(find native -name '*.cc' -o -name '*.h' | sort)
if ! command -v clang-format >/dev/null; then
  echo "format: clang-format is missing (scripts/setup.sh installs it)" >&2
  exit 1
fi
if [ "${1:-}" = "--check" ]; then
  status=0
  npx prettier --check --log-level warn "${ts[@]}" || status=1
  if ! clang-format --dry-run --Werror "${cc[@]}"; then
    echo "format: native/ differs from clang-format (run scripts/format.sh)" >&2
    status=1
  fi
  [ $status -eq 0 ] && echo "format: TypeScript and native/ are formatted"
  exit $status
fi
npx prettier --write --log-level warn "${ts[@]}"
clang-format -i "${cc[@]}"
