#!/bin/bash
# v2-guest.sh [OPTIONS] [--systemd] -- COMMAND [ARG...]
#
# Runs COMMAND inside a throw-away QEMU guest that is a pure cgroup v2 host: Debian's stock
# kernel (linux-image-6.1.0-*-amd64, unpacked into a cache, nothing installed into /boot),
# booted with cgroup_no_v1=all and with cgroup2 alone at /sys/fs/cgroup, every controller
# enabled in the root's cgroup.subtree_control. The guest's / is this host's / shared
# read-only over 9p under a tmpfs overlay (node, npm packages, busybox, runc are all there;
# writes vanish with the guest), with fresh proc, sys, dev, /tmp and /run; this repository's
# work tree is shared writable at its real path. COMMAND runs as root with a clean
# environment (PATH, HOME=/root, TERM, LANG; plus -e NAME=VALUE), in the current directory
# when that is inside the work tree (else the work tree's root). Its output (stdout and
# stderr merged) appears on this script's stdout. Example:
#
#   scripts/v2-guest.sh -- npx tap test/integration/cgroups.test.ts
#
# With --systemd (or V2GUEST_SYSTEMD=1) the guest is the same, but PID 1 is the host's systemd
# (/lib/systemd/systemd, 252 on bookworm), for the systemd cgroup driver: systemd mounts cgroup2
# itself (cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1) and owns the tree, D-Bus runs
# (busctl --system, org.freedesktop.systemd1), and COMMAND runs as root in
# v2guest-command.service (cgroup system.slice/v2guest-command.service; it may create
# transient units with systemd-run) with the same environment, directory and output. The boot
# goes to v2guest.target (systemd.unit=), which wants only sysinit.target, dbus and the command:
# none of the host's enabled services (containerd, docker, podman, getty, timers, ...) starts;
# generators and what is slow under TCG are masked (scripts/v2-guest/systemd-units). A boot
# that fails (a failed dependency, emergency mode, the service failing to start) is reported by
# scripts/v2-guest/systemd-watch; when the boot hangs, the boot-timeout message names the jobs
# systemd was running. The guest powers off (forced) as soon as COMMAND ends.
#
# With --systemd, --cgroup picks the cgroup layout systemd sets up (the kernel then keeps its
# cgroup v1 controllers: no cgroup_no_v1=all):
#   v2      (default) the pure v2 host above.
#   hybrid  systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0:
#           every controller a v1 hierarchy under the tmpfs at /sys/fs/cgroup, plus cgroup2
#           (no controllers) at /sys/fs/cgroup/unified, where systemd tracks its units'
#           processes; name=systemd is mounted at /sys/fs/cgroup/systemd as well.
#   legacy  systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1:
#           v1 only (the controllers and name=systemd, which systemd tracks with), no cgroup2.
#           (systemd 252 built with the unified default takes unified_cgroup_hierarchy=0 alone
#           for hybrid: legacy needs the second option.)
#
# Kernel modules: the guest has its kernel's modules at /lib/modules/$(uname -r) (the package's
# tree from the cache, read-only, indexed by depmod on the host the first time) and a modprobe
# (/sbin/modprobe: the host's kmod, else busybox's), so the kernel loads what it asks for on
# demand, as on an installed Debian: nf_tables over netlink, the socket diag modules, veth for
# `ip link add type veth`, overlay, ... What nothing loads on demand (tun: /dev/net/tun appears
# only once it is loaded; there is no udev or static-nodes) is named with --modules, loaded
# before COMMAND starts; one that fails to load is a boot failure. CRIU: `criu check` passes
# with what loads on demand; --modules tun adds tun (criu check --all then misses only autofs,
# experimental: its test mount fails with EINVAL).
#
# LSM: Debian's kernel boots with AppArmor as its LSM (securityfs at /sys/kernel/security; load
# profiles with apparmor_parser, which scripts/setup.sh unpacks into /var/cache/tsrunc/apparmor).
# With --lsm selinux (plain guest only) it boots with SELinux instead (lsm=...,selinux,...
# enforcing=0): /init mounts selinuxfs at /sys/fs/selinux, loads the small MLS policy of
# v2-guest/selinux-policy.conf (compiled on the host with checkpolicy -M -U allow: what it does
# not declare is allowed; types tsrunc_a_t, tsrunc_b_t for mount labels, tsrunc_pa_t,
# tsrunc_pb_t for processes; labels are system_u:object_r:TYPE:s0, s0:c0.c3 at most) and stays
# permissive; /etc/selinux/config (SELINUX=permissive, SELINUXTYPE=tsrunc) is written into the
# overlay, so that libselinux's is_selinux_enabled() says yes. Every process starts as
# system_u:system_r:kernel_t:s0.
#
# Options:
#   -t, --timeout SECONDS  kill the guest after SECONDS (default $V2GUEST_TIMEOUT or 900)
#   -m, --memory SIZE      guest memory (default $V2GUEST_MEMORY or 4G)
#   -c, --cpus N           guest CPUs (default $V2GUEST_CPUS or 2)
#   -e, --env NAME=VALUE   set an environment variable for COMMAND (repeatable)
#   -b, --boot-timeout S   a boot failure if COMMAND has not started S seconds after launch
#                          (default $V2GUEST_BOOT_TIMEOUT or 120)
#   -v, --verbose          show the kernel's boot messages (also V2GUEST_VERBOSE=1) and, with
#                          --systemd, systemd's unit status lines
#       --systemd          systemd as PID 1, COMMAND as a service (also V2GUEST_SYSTEMD=1)
#       --cgroup v2|hybrid|legacy
#                          with --systemd: the cgroup layout (default $V2GUEST_CGROUP or v2)
#       --lsm apparmor|selinux
#                          the kernel's LSM (default $V2GUEST_LSM or apparmor, the kernel's own);
#                          selinux: SELinux with the policy above, permissive (not with --systemd)
#       --modules LIST     load these kernel modules (names or aliases, comma- or space-
#                          separated; repeatable) with modprobe before COMMAND starts (also
#                          $V2GUEST_MODULES)
#   -h, --help             this text
# Environment: V2GUEST_ACCEL=kvm|tcg forces the accelerator (default: KVM only where the CPU
# has vmx/svm and /dev/kvm works and is not kvm_pvm, which runs only PVM-patched guests;
# else TCG), V2GUEST_CACHE (default /var/cache/tsrunc-v2-guest) holds the kernel,
# V2GUEST_KERNEL_REFRESH=1 looks for a newer kernel package even when one is cached,
# V2GUEST_WORKTREE_CACHE=loose|mmap is the work tree's 9p cache mode (default loose: fast, but
# changes the host makes during the run may not be seen; mmap: coherent, slower).
#
# Exit status:
#   0-255  COMMAND's own exit status (128+N when it died of signal N)
#   124    timeout: the guest was still running after --timeout seconds and was killed
#   125    boot failure: QEMU did not start, or the guest died, powered off or hung
#          (--boot-timeout) before COMMAND started (kernel, module, 9p or overlay mount
#          failure, a kernel the accelerator cannot run; with --systemd also systemd not
#          starting, a failed unit the command needs, emergency mode; the reason is printed)
#   123    the guest died after COMMAND started without reporting its status
#          (kernel panic, guest out of memory, ...)
#   122    host preparation failed (installing QEMU, downloading/unpacking the kernel,
#          building the initramfs)
#   2      usage error
# Every outcome but COMMAND's own status is also reported as a "v2-guest: ..." line on
# stderr; a summary line (boot time, total time, status) is always printed on stderr.
#
# Needs root (apt-get, 9p exports of /). Costs: first run downloads ~70 MB (and indexes its
# modules, ~4 s); each boot takes about 4 s with TCG before COMMAND starts, about 8-9 s with
# --systemd (systemd's own start-up ~2 s, journald and dbus ~1 s, loading its libraries over
# 9p ~1 s); work inside TCG is 10-50x slower than on the host.
set -uo pipefail

EX_TIMEOUT=124
EX_BOOT=125
EX_DIED=123
EX_PREP=122
EX_USAGE=2

say() { echo "v2-guest: $*" >&2; }
prep_fail() { say "host preparation failed: $*"; exit $EX_PREP; }
usage() { sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit "${1:-0}"; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
WORKTREE=$(cd "$here/.." && pwd -P)
TIMEOUT=${V2GUEST_TIMEOUT:-900}
BOOT_TIMEOUT=${V2GUEST_BOOT_TIMEOUT:-120}
MEMORY=${V2GUEST_MEMORY:-4G}
CPUS=${V2GUEST_CPUS:-2}
VERBOSE=${V2GUEST_VERBOSE:-0}
SYSTEMD=${V2GUEST_SYSTEMD:-0}
CGROUP=${V2GUEST_CGROUP:-v2}
CACHE=${V2GUEST_CACHE:-/var/cache/tsrunc-v2-guest}
MODULES=${V2GUEST_MODULES:-}
LSM=${V2GUEST_LSM:-apparmor}
extra_env=()

while [ $# -gt 0 ]; do
  case $1 in
    -t|--timeout) TIMEOUT=${2:?}; shift 2 ;;
    --timeout=*) TIMEOUT=${1#*=}; shift ;;
    -m|--memory) MEMORY=${2:?}; shift 2 ;;
    -c|--cpus) CPUS=${2:?}; shift 2 ;;
    -b|--boot-timeout) BOOT_TIMEOUT=${2:?}; shift 2 ;;
    -e|--env) extra_env+=("${2:?}"); shift 2 ;;
    -v|--verbose) VERBOSE=1; shift ;;
    --systemd) SYSTEMD=1; shift ;;
    --cgroup) CGROUP=${2:?}; shift 2 ;;
    --cgroup=*) CGROUP=${1#*=}; shift ;;
    --lsm) LSM=${2:?}; shift 2 ;;
    --lsm=*) LSM=${1#*=}; shift ;;
    --modules) MODULES+=" ${2:?}"; shift 2 ;;
    --modules=*) MODULES+=" ${1#*=}"; shift ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    *) say "unknown option $1 (the command follows --)"; usage $EX_USAGE >&2 ;;
  esac
done
[ $# -gt 0 ] || { say "no command given"; usage $EX_USAGE >&2; }
[[ $TIMEOUT =~ ^[0-9]+$ ]] || { say "bad timeout $TIMEOUT"; exit $EX_USAGE; }
[[ $BOOT_TIMEOUT =~ ^[0-9]+$ ]] || { say "bad boot timeout $BOOT_TIMEOUT"; exit $EX_USAGE; }
[[ $SYSTEMD =~ ^[01]$ ]] || { say "V2GUEST_SYSTEMD must be 0 or 1"; exit $EX_USAGE; }
case $CGROUP in
  v2) ;;
  hybrid|legacy) [ "$SYSTEMD" = 1 ] || { say "--cgroup $CGROUP needs --systemd (the plain guest is pure cgroup v2)"; exit $EX_USAGE; } ;;
  *) say "bad --cgroup $CGROUP (v2, hybrid or legacy)"; exit $EX_USAGE ;;
esac
case $LSM in
  apparmor) ;;
  selinux) [ "$SYSTEMD" = 0 ] || { say "--lsm selinux is for the plain guest (systemd would load a policy of its own)"; exit $EX_USAGE; } ;;
  *) say "bad --lsm $LSM (apparmor or selinux)"; exit $EX_USAGE ;;
esac
read -ra mods <<<"${MODULES//,/ }"
MODULES=${mods[*]}
for m in "${mods[@]}"; do
  [[ $m =~ ^[A-Za-z0-9_-]+$ ]] || { say "bad module name $m"; exit $EX_USAGE; }
done
for kv in "${extra_env[@]}"; do
  [[ $kv =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { say "bad -e $kv (NAME=VALUE)"; exit $EX_USAGE; }
done
[ "$(id -u)" = 0 ] || { say "must run as root"; exit $EX_USAGE; }

# --- host preparation -----------------------------------------------------------------

export DEBIAN_FRONTEND=noninteractive
QEMU=qemu-system-x86_64
QBOOT=/usr/share/qemu/qboot.rom
if ! command -v $QEMU >/dev/null || [ ! -f $QBOOT ]; then
  # qemu-system-x86 depends on qemu-system-data, which ships qboot.rom.
  say "installing qemu-system-x86"
  apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null; } ||
    prep_fail "apt-get install qemu-system-x86"
fi
for tool in xz busybox; do
  command -v $tool >/dev/null || prep_fail "$tool is needed (apt-get install xz-utils busybox-static)"
done

# The kernel: the newest linux-image-6.1.0-N-amd64 (unsigned or signed; not -cloud, which has
# no 9p) apt knows, unpacked under $CACHE/<version> with its vmlinux extracted.
newest_cached() { ls -d "$CACHE"/6.1.0-*-amd64/vmlinux 2>/dev/null | sort -V | tail -1 | xargs -r dirname; }
kdir=$(newest_cached)
if [ -z "$kdir" ] || [ "${V2GUEST_KERNEL_REFRESH:-0}" = 1 ]; then
  list_kernels() { apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$' 2>/dev/null | cut -d' ' -f1 | sort -V; }
  pkgs=$(list_kernels)
  [ -n "$pkgs" ] || { apt-get update -qq >/dev/null 2>&1; pkgs=$(list_kernels); }
  [ -n "$pkgs" ] || { [ -n "$kdir" ] || prep_fail "apt-cache lists no linux-image-6.1.0-*-amd64"; }
  if [ -n "$pkgs" ]; then
    kver=$(sed 's/^linux-image-//; s/-unsigned$//' <<<"$pkgs" | sort -uV | tail -1)
    if [ ! -f "$CACHE/$kver/vmlinux" ]; then
      pkg=linux-image-$kver-unsigned
      grep -qx "$pkg" <<<"$pkgs" || pkg=linux-image-$kver
      say "downloading $pkg into $CACHE/$kver"
      tmpk=$(mktemp -d "$CACHE.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$(dirname "$CACHE")" && mktemp -d "$CACHE.tmp.XXXXXX"; }) ||
        prep_fail "mktemp next to $CACHE"
      (
        set -e
        cd "$tmpk"
        apt-get download -q "$pkg" >/dev/null 2>&1
        dpkg-deb -x ./*.deb unpacked
        vmlinuz=unpacked/boot/vmlinuz-$kver
        # extract-vmlinux: find the compressed payload in the bzImage and unpack it.
        for fmt in xz zstd gzip; do
          case $fmt in
            xz) magic='\xfd7zXZ\x00'; cmd=(xz -dcq) ;;
            zstd) magic='\x28\xb5\x2f\xfd'; cmd=(zstd -dcq) ;;
            gzip) magic='\x1f\x8b\x08'; cmd=(gzip -dcq) ;;
          esac
          command -v "${cmd[0]}" >/dev/null || continue
          for off in $(LC_ALL=C grep -obUaP "$magic" "$vmlinuz" | cut -d: -f1); do
            tail -c +$((off + 1)) "$vmlinuz" | "${cmd[@]}" >vmlinux 2>/dev/null
            if [ "$(head -c 4 vmlinux | od -An -c | tr -d ' ')" = '177ELF' ]; then break 2; fi
          done
        done
        [ "$(head -c 4 vmlinux | od -An -c | tr -d ' ')" = '177ELF' ]
        mkdir -p "$kver"
        mv vmlinux "$kver/vmlinux"
        mv "unpacked/lib/modules/$kver" "$kver/modules"
        mv "unpacked/boot/config-$kver" "$kver/config"
        mkdir -p "$CACHE"
        rm -rf "${CACHE:?}/$kver"
        mv "$kver" "$CACHE/$kver"
      ) || { rm -rf "$tmpk"; prep_fail "download/unpack $pkg (apt-get download, dpkg-deb -x, vmlinux extraction)"; }
      rm -rf "$tmpk"
    fi
    kdir=$CACHE/$kver
  fi
fi
kver=$(basename "$kdir")
kdir=$(cd "$kdir" && pwd -P) || prep_fail "cd $kdir"

# The kernel's modules, for the guest's /lib/modules/$kver: the package's postinst would run
# depmod, so the indexes modprobe reads (modules.dep, .alias, .symbols) are made here, once per
# cached kernel (kmod's depmod where the host has it, else busybox's; ~4 s), in a hard-linked
# copy of the tree next to the cache, then moved in (modules.dep last: it marks them complete).
if [ ! -f "$kdir/modules/modules.dep" ]; then
  tmpd=$(mktemp -d "$CACHE.tmp.XXXXXX") || prep_fail "mktemp next to $CACHE"
  (
    set -e
    mkdir -p "$tmpd/lib/modules"
    cp -al "$kdir/modules" "$tmpd/lib/modules/$kver"
    if command -v depmod >/dev/null; then depmod -b "$tmpd" "$kver"; else busybox depmod -b "$tmpd" "$kver"; fi
    cd "$tmpd/lib/modules/$kver"
    for f in modules.*; do
      [ "$f" = modules.dep ] || [ "$f" -ef "$kdir/modules/$f" ] || mv -f "$f" "$kdir/modules/$f"
    done
    mv -f modules.dep "$kdir/modules/modules.dep"
  ) || { rm -rf "$tmpd"; prep_fail "depmod for $kver (in $kdir/modules)"; }
  rm -rf "$tmpd"
fi

run=$(mktemp -d /tmp/v2-guest.XXXXXX) || prep_fail "mktemp"
qpid=
saved_tty=
cleanup() {
  if [ -n "$qpid" ]; then
    kill "$qpid" 2>/dev/null   # timeout(1) passes it on to QEMU
    wait "$qpid" 2>/dev/null
  fi
  [ -n "$saved_tty" ] && stty "$saved_tty" 2>/dev/null
  rm -rf "$run"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM HUP

# The initramfs: busybox, /init, and the modules for virtio-pci, 9p over virtio and overlayfs
# with their dependencies (from each module's modinfo "depends="), in load order.
build_initramfs() {
  local ird=$run/initramfs
  mkdir -p "$ird/bin" "$ird/dev" "$ird/modules" || return 1
  cp /bin/busybox "$ird/bin/busybox" || return 1
  cp "$here/v2-guest/init" "$ird/init" && chmod 755 "$ird/init" || return 1
  mknod -m 600 "$ird/dev/console" c 5 1 || return 1
  declare -A file=() loaded=()
  local f n order=()
  while IFS= read -r f; do
    n=${f##*/}; n=${n%%.ko*}; n=${n//-/_}
    file[$n]=$f
  done < <(find "$kdir/modules/kernel" -name '*.ko*')
  load() {
    local m=$1 src dst dep
    [ -n "${loaded[$m]:-}" ] && return 0
    if [ -z "${file[$m]:-}" ]; then
      # Built into the kernel: nothing to load.
      grep -q "/${m//_/[_-]}\.ko$" "$kdir/modules/modules.builtin" && { loaded[$m]=1; return 0; }
      echo "module $m not found" >&2; return 1
    fi
    src=${file[$m]} dst=$ird/modules/$m.ko
    case $src in
      *.ko.xz) xz -dc "$src" >"$dst" ;;
      *.ko.zst) zstd -dcq "$src" >"$dst" ;;
      *.ko.gz) gzip -dc "$src" >"$dst" ;;
      *) cp "$src" "$dst" ;;
    esac || return 1
    loaded[$m]=1
    for dep in $(tr '\0' '\n' <"$dst" | sed -n 's/^depends=//p' | tr ',' ' '); do
      load "$dep" || return 1
    done
    order+=("$m")
  }
  for f in virtio_pci 9pnet_virtio 9p overlay; do load "$f" || return 1; done
  # Dependencies were appended after their users' recursion: order lists deps first.
  printf '%s\n' "${order[@]}" >"$ird/modules/order"
  (cd "$ird" && find . | busybox cpio -o -H newc >"$run/initramfs.cpio" 2>/dev/null) || return 1
}
build_initramfs || prep_fail "building the initramfs from $kdir"

# --- the run ----------------------------------------------------------------------------

# POSIX single quotes, for the files the guest's shells read.
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

cwd=$(pwd -P)
case $cwd/ in "$WORKTREE"/*) ;; *) cwd=$WORKTREE ;; esac
tty=0; interactive=0
[ -t 1 ] && tty=1
[ -t 0 ] && [ -t 1 ] && interactive=1
ctl=$run/ctl
mkdir -p "$ctl"
cp "$here/v2-guest/stage2" "$ctl/stage2"
if [ "$SYSTEMD" = 1 ]; then
  cp "$here/v2-guest/systemd-units" "$here/v2-guest/systemd-watch" "$ctl/"
fi
if [ "$LSM" = selinux ]; then
  command -v checkpolicy >/dev/null || prep_fail "checkpolicy is needed for --lsm selinux (apt-get install checkpolicy; scripts/setup.sh installs it)"
  checkpolicy -M -U allow -o "$ctl/selinux-policy" "$here/v2-guest/selinux-policy.conf" >"$run/checkpolicy.log" 2>&1 ||
    { cat "$run/checkpolicy.log" >&2; prep_fail "compiling v2-guest/selinux-policy.conf"; }
fi
{
  echo "WORKTREE=$(q "$WORKTREE") WORKTREE_CACHE=$(q "${V2GUEST_WORKTREE_CACHE:-loose}")"
  echo "VERBOSE=$VERBOSE TTY=$tty INTERACTIVE=$interactive SYSTEMD=$SYSTEMD LSM=$LSM"
  echo "KVER=$(q "$kver") KMODDIR=$(q "$kdir/modules") MODULES=$(q "$MODULES")"
} >"$ctl/config"
{
  echo 'for v in $(compgen -e); do unset "$v"; done'
  echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8'
  echo "export TERM=$(q "${TERM:-dumb}")"
  for kv in "${extra_env[@]}"; do echo "export ${kv%%=*}=$(q "${kv#*=}")"; done
  echo "cd $(q "$cwd") || { echo 'v2-guest: cannot enter the working directory' >&2; exit 125; }"
  printf 'exec'; for a in "$@"; do printf ' %s' "$(q "$a")"; done; echo
} >"$ctl/cmd"

# Real KVM only where it can run a stock kernel: vmx/svm, a usable /dev/kvm, and not kvm_pvm.
accel=${V2GUEST_ACCEL:-}
if [ -z "$accel" ]; then
  accel=tcg
  if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] &&
    { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
    accel=kvm
  fi
fi
case $accel in
  kvm) accel_args=(-accel kvm -cpu host) ;;
  tcg) accel_args=(-accel tcg,thread=multi -cpu max) ;;
  *) say "V2GUEST_ACCEL must be kvm or tcg"; exit $EX_USAGE ;;
esac

cmdline="console=ttyS0 panic=-1 rdinit=/init 8250.nr_uarts=1 i8042.noaux i8042.nokbd"
cmdline+=" no_timer_check tsc=reliable mitigations=off"
if [ "$VERBOSE" = 1 ]; then cmdline+=" loglevel=7"; else cmdline+=" quiet loglevel=1"; fi
# The v1 controllers stay in the kernel only for systemd's hybrid and legacy layouts.
[ "$CGROUP" = v2 ] && cmdline+=" cgroup_no_v1=all"
# The kernel's own list with selinux in apparmor's place (only one of them can be the major LSM).
[ "$LSM" = selinux ] && cmdline+=" lsm=lockdown,capability,landlock,yama,selinux,bpf enforcing=0"
if [ "$SYSTEMD" = 1 ]; then
  # systemd (PID 1 after the initramfs) mounts the cgroup layout (cgroup2 alone by default) and
  # boots v2guest.target (see v2-guest/systemd-units); its status lines only with -v.
  case $CGROUP in
    v2) cmdline+=" systemd.unified_cgroup_hierarchy=1" ;;
    hybrid) cmdline+=" systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0" ;;
    legacy) cmdline+=" systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1" ;;
  esac
  cmdline+=" systemd.unit=v2guest.target systemd.hostname=v2-guest"
  if [ "$VERBOSE" = 1 ]; then cmdline+=" systemd.show_status=1"; else cmdline+=" systemd.show_status=0"; fi
fi

qemu_args=(
  -machine pc "${accel_args[@]}" -smp "$CPUS" -m "$MEMORY"
  -nodefaults -no-user-config -display none -no-reboot
  -bios "$QBOOT" -kernel "$kdir/vmlinux" -initrd "$run/initramfs.cpio" -append "$cmdline"
  -chardev stdio,id=con,signal=on -serial chardev:con -monitor none
  -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
  -fsdev "local,id=worktree,path=$WORKTREE,security_model=none,multidevs=remap"
  -device virtio-9p-pci,fsdev=worktree,mount_tag=worktree
  -fsdev "local,id=v2ctl,path=$ctl,security_model=none"
  -device virtio-9p-pci,fsdev=v2ctl,mount_tag=v2ctl
)

pid1=; [ "$SYSTEMD" = 1 ] && pid1=", systemd as PID 1"
[ "$CGROUP" != v2 ] && pid1+=", cgroup $CGROUP"
[ "$LSM" != apparmor ] && pid1+=", LSM $LSM"
[ "$VERBOSE" = 1 ] && say "kernel $kver, accel $accel, ${CPUS} cpus, $MEMORY, timeout ${TIMEOUT}s, cwd $cwd$pid1"
t0=$(date +%s.%N)
stdin=/dev/null
if [ "$interactive" = 1 ]; then
  stdin=/dev/stdin
  saved_tty=$(stty -g 2>/dev/null)
fi
# timeout(1) with --foreground: QEMU may read the terminal, and only QEMU is signalled. It runs
# in the background of this shell so that the traps above act at once.
timeout --foreground -k 10 "$TIMEOUT" $QEMU "${qemu_args[@]}" <$stdin &
qpid=$!
# A guest that hangs while booting (e.g. a kernel the accelerator cannot run) is a boot failure.
(
  end=$((SECONDS + BOOT_TIMEOUT))
  while [ $SECONDS -lt $end ]; do
    sleep 1
    [ -f "$ctl/started" ] && exit 0
    kill -0 "$qpid" 2>/dev/null || exit 0
  done
  : >"$run/boot-timeout"
  kill "$qpid" 2>/dev/null
) &
wpid=$!
wait "$qpid"
qrc=$?
qpid=
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
t1=$(date +%s.%N)

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
boot=
[ -f "$ctl/started" ] && boot=$(elapsed "$t0" "$(stat -c %.9Y "$ctl/started")")
total=$(elapsed "$t0" "$t1")
summary="kernel $kver, $accel$pid1; ${boot:+command started ${boot}s after launch, }total ${total}s"

if [ -f "$ctl/status" ]; then
  rc=$(cat "$ctl/status")
  say "$summary; exit status $rc"
  exit "$rc"
fi
if [ ! -f "$run/boot-timeout" ] && { [ "$qrc" = 124 ] || { [ "$qrc" = 137 ] && awk -v e="$total" -v t="$TIMEOUT" 'BEGIN { exit !(e >= t) }'; }; }; then
  say "timeout: the guest was still running after ${TIMEOUT}s and was killed ($summary)"
  exit $EX_TIMEOUT
fi
if [ ! -f "$ctl/started" ]; then
  reason="the guest stopped before the command started"
  [ -f "$run/boot-timeout" ] && reason="the command had not started ${BOOT_TIMEOUT}s after launch"
  if [ "$SYSTEMD" = 1 ] && [ ! -f "$ctl/bootfail" ]; then
    # systemd-watch leaves a mark when systemd starts it, and the jobs systemd still had queued.
    if [ ! -f "$ctl/systemd-up" ]; then
      reason+=": systemd did not get as far as starting v2guest-watch.service"
    elif [ -s "$ctl/bootjobs" ]; then
      reason+=": systemd was still booting (jobs running: $(cat "$ctl/bootjobs"))"
    fi
  fi
  [ -f "$ctl/bootfail" ] && reason=$(cat "$ctl/bootfail")
  [ "$qrc" != 0 ] && reason+=" (qemu exit status $qrc)"
  say "boot failure: $reason ($summary)"
  [ "$VERBOSE" = 1 ] || say "rerun with -v to see the kernel's messages"
  exit $EX_BOOT
fi
say "the guest died after the command started, without reporting its status (qemu exit status $qrc; $summary)"
exit $EX_DIED
