#!/bin/bash
# npm run demo: builds a busybox bundle and runs a container that shows its hostname,
# that it is pid 1, and its mounts.
set -euo pipefail
cd "$(dirname "$0")/.."
tsrunc="$PWD/bin/tsrunc"
work=$(mktemp -d /tmp/tsrunc-demo.XXXXXX)
root="$work/state"
id="demo-$$"
cleanup() {
  "$tsrunc" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

./scripts/make-rootfs.sh "$work/bundle/rootfs"
cd "$work/bundle"
"$tsrunc" spec
# The default config wants a terminal; the demo prints to the caller's stdout instead.
node -e '
const fs = require("fs");
const c = JSON.parse(fs.readFileSync("config.json", "utf8"));
c.process.terminal = false;
c.hostname = "tsrunc-demo";
c.process.args = ["sh", "-c", "echo \"hostname: $(hostname)\"; echo \"my pid: $$\"; echo mounts:; cat /proc/self/mounts"];
c.linux.cgroupsPath = "/tsrunc-demo/" + process.argv[1];
fs.writeFileSync("config.json", JSON.stringify(c, null, 2));
' "$id"
echo "+ tsrunc create --dry-run (the plan)"
"$tsrunc" --root "$root" create --dry-run "$id" | head -12
echo "  ..."
echo "+ tsrunc run $id"
"$tsrunc" --root "$root" run "$id"
for h in /sys/fs/cgroup/*/tsrunc-demo /sys/fs/cgroup/tsrunc-demo; do [ -d "$h" ] && rmdir "$h" 2>/dev/null || true; done
