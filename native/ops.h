// The executor's instruction set. Each step of a plan is {op, strings[], numbers[], blob};
// src/plan/wire.ts holds the same table and encodes plans in the layout below
// (test/unit/wire.test.ts fails when the two disagree).
//
// A plan, as tsrunc-init reads it from its plan fd (little-endian):
//   PLAN_MAGIC, u32 PLAN_VERSION, u32 base (first fd slot), u32 slots, u32 step count, then per
//   step: u32 op, u32 string count, u32 number count, u32 blob length; each string as u32 length
//   (PLAN_NULL_STRING: a list separator) and its bytes (never a NUL); each number as i64; the blob.
#pragma once

#define PLAN_MAGIC "TSRUNCPL"
#define PLAN_MAGIC_LEN 8
#define PLAN_VERSION 2
#define PLAN_NULL_STRING 0xFFFFFFFFu

namespace tsrunc {

enum Op {
  OP_SYNC = 1,             // s[0]=tag: tell the parent, wait for its ack (the ack may carry data)
  OP_SETNS = 2,            // s[0]=path n[0]=nstype n[1]=fd slot holding it (-1: open the path)
  OP_UNSHARE = 3,          // n[0]=flags
  OP_WRITE_FILE = 4,       // s[0]=path s[1]=content
  OP_FORK = 5,             // continue in a child; this process reports the child's pid and exits
  OP_BECOME_ROOT = 6,      // setresgid/setresuid(0) inside a new user namespace
  OP_ROOT_PROPAGATION = 7, // n[0]=flags applied to s[0] (default "/"): MS_SLAVE|MS_REC, ...
  OP_BIND_ROOTFS = 8,      // s[0]=rootfs: bind it onto itself and keep an fd on it
  OP_MOUNT = 9,            // s[0]=source s[1]=dest(in rootfs) s[2]=fstype s[3]=data
                           // n[0]=flags n[1]=bind n[2]=attrSet n[3]=attrClear n[4]=destKind(0 dir,1 file)
                           // n[5]=realDir (refuse symlinks on the way) n[6]=copy up (tmpcopyup)
                           // n[7]=keep the directory's mode on the tmpfs root n[8]=OP_OPEN_TREE index (-1: none)
                           // n[9..]=propagation flags
  OP_MKDIR = 10,           // s[0]=path(in rootfs) n[0]=mode
  OP_MKNOD = 11,           // s[0]=path(in rootfs) n[0]=mode(with type bits) n[1]=major n[2]=minor n[3]=uid n[4]=gid
  OP_BIND_DEVICE = 12,     // s[0]=path(in rootfs) s[1]=host path
  OP_SYMLINK = 13,         // s[0]=target s[1]=link path(in rootfs)
  OP_PIVOT_ROOT = 14,      // enter the rootfs with pivot_root(2)
  OP_MOVE_ROOT = 15,       // enter the rootfs with MS_MOVE + chroot (--no-pivot)
  OP_CHROOT = 16,          // s[0]=rootfs: enter it with chroot only (no mount namespace)
  OP_MASK_PATH = 17,       // s[0]=path: /dev/null over a file, empty read-only tmpfs over a directory
  OP_READONLY_PATH = 18,   // s[0]=path n[0]=1: remount that mount point read-only in place; else bind read-only onto itself
  OP_REMOUNT_ROOT_RO = 19, //
  OP_SETHOSTNAME = 20,     // s[0]=name
  OP_SETDOMAINNAME = 21,   // s[0]=name
  OP_CONSOLE = 22,         // n[0]=socket fd slot n[1]=rows n[2]=cols n[3]=bind the pty on /dev/console
                           // n[4]=uid to own the pty (-1: none) n[5]=1: attach later (OP_CONSOLE_ATTACH)
  OP_SETSID = 23,          //
  OP_RLIMIT = 24,          // n[0]=resource n[1]=soft n[2]=hard (-1: infinity)
  OP_CHDIR = 25,           // s[0]=path n[0]=1: as root (EACCES/EPERM left for phase 2), 2: as the user if still
                           // needed, then checked inside the root
  OP_UMASK = 26,           // n[0]=mask
  OP_USER = 27,            // n[0]=uid n[1]=gid n[2..]=additional gids; n[1] < 0 never
  OP_CAPS = 28,            // n[0..9]= lo,hi of bounding, effective, permitted, inheritable, ambient
                           // n[10]= phase: 1 bounding set (before the uid changes), 2 the other sets
                           // n[11]= the host's cap_last_cap (read by the runtime, never in the rootfs)
  OP_NO_NEW_PRIVS = 29,    //
  OP_HOOK = 30,            // s[0]=name s[1]=path s[2..]=args then env, n[0]=argc n[1]=envc n[2]=timeout secs n[3]=state index
                           // n[4]=1: run in the rootfs (createContainer) n[5]=its index among the hooks of its kind
  OP_FIND_EXEC = 31,       // s[0]=argv0 s[1]=PATH value
  OP_READY = 32,           // tell the parent setup is done; n[0]=1: keep the sync socket until execve, else close it
  OP_WAIT_START = 33,      // n[0]=fifo fd slot: block until `start` (opening it through the container's
                           // /proc, see OP_OPEN_PROC), then write one byte
  OP_EXEC = 34,            // s[0..argc-1]=argv, a separator, s[argc+1..]=env n[0]=argc
  OP_CLOSE_FDS = 35,       // n[0]=first fd that must not survive exec
  OP_DUMPABLE = 36,        // n[0]=0|1
  OP_PERSONALITY = 37,     // n[0]=persona
  OP_SCHEDULER = 38,       // n[0]=policy n[1]=priority n[2]=nice n[3]=flags n[4]=runtime n[5]=deadline n[6]=period
  OP_IOPRIO = 39,          // n[0]=ioprio value
  OP_SESSION_KEYRING = 40, // s[0]=name: join a new session keyring
  OP_SECCOMP = 41,         // b=BPF program (struct sock_filter[]) n[0]=seccomp(2) flags
  OP_OPEN_PROC = 42,       // open the container's /proc (must be procfs) for OP_WAIT_START
  OP_CONSOLE_ATTACH = 43,  // setsid, the pty of OP_CONSOLE as controlling terminal and stdio
  OP_HOME = 44,            // n[0]=uid: HOME from /etc/passwd ("/" when unknown) is added to OP_EXEC's env
  OP_OPEN_TREE = 45,       // s[0]=bind source n[0]=index n[1]=flags n[2]=attrSet n[3]=attrClear: clone it now
  OP_DETACH_HOST_MOUNT = 46, // s[0]=path: make it slave and detach it (covered with a tmpfs where it cannot be)
  OP_COUNT
};

}  // namespace tsrunc
