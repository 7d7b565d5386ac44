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
#define PLAN_VERSION 3
#define PLAN_NULL_STRING 0xFFFFFFFFu

namespace tsrunc {

enum Op {
  OP_SYNC = 1,              // tell the parent TAG, wait for its ack (the ack may carry data as an fd)
  OP_SETNS = 2,             // join a namespace: the fd in FD_SLOT, or PATH
  OP_UNSHARE = 3,           // new namespaces
  OP_WRITE_FILE = 4,        // write CONTENT to PATH (procfs only under /proc)
  OP_FORK = 5,              // continue in a child; this process reports its pid, waits for the ack, and exits
  OP_BECOME_ROOT = 6,       // setresgid/setresuid(0) inside a new user namespace
  OP_ROOT_PROPAGATION = 7,  // FLAGS (MS_SLAVE|MS_REC, ...) applied to PATH
  OP_BIND_ROOTFS = 8,       // bind ROOTFS onto itself and keep an fd on it
  OP_MOUNT = 9,             // a mount at DESTINATION inside the rootfs, then the propagation flags that follow
  OP_MKDIR = 10,            // a directory inside the rootfs
  OP_MKNOD = 11,            // a device node inside the rootfs (MODE has the type bits)
  OP_BIND_DEVICE = 12,      // bind the host's HOST_PATH at PATH inside the rootfs
  OP_SYMLINK = 13,          // PATH -> TARGET inside the rootfs
  OP_PIVOT_ROOT = 14,       // enter the rootfs with pivot_root(2)
  OP_MOVE_ROOT = 15,        // enter the rootfs with MS_MOVE + chroot (--no-pivot)
  OP_CHROOT = 16,           // enter ROOTFS with chroot only (no mount namespace)
  OP_MASK_PATH = 17,        // /dev/null over a file, an empty read-only tmpfs over a directory
  OP_READONLY_PATH = 18,    // IN_PLACE: remount that mount point read-only; else bind read-only onto itself
  OP_REMOUNT_ROOT_RO = 19,
  OP_SETHOSTNAME = 20,
  OP_SETDOMAINNAME = 21,
  OP_CONSOLE = 22,  // a pty: its master to the socket in SOCKET_SLOT; attached now or by OP_CONSOLE_ATTACH
  OP_SETSID = 23,
  OP_RLIMIT = 24,  // SOFT/HARD -1: infinity
  OP_CHDIR = 25,   // PHASE 1: as root (EACCES/EPERM left for phase 2); 2: as the user if still needed, checked
  OP_UMASK = 26,
  OP_USER = 27,  // UID, GID, then the additional gids
  OP_CAPS = 28,  // PHASE 1: the bounding set (before the uid changes), 2: the other sets; LAST_CAP is the host's
  OP_NO_NEW_PRIVS = 29,
  OP_HOOK = 30,        // KIND hook at PATH: argv, a separator, env follow; the state on stdin
  OP_FIND_EXEC = 31,   // look NAME up in SEARCH_PATH (or check it when it has a slash)
  OP_READY = 32,       // tell the parent setup is done; UNTIL_EXEC: keep the socket until execve, else close it
  OP_WAIT_START = 33,  // block until `start` (exec.fifo, reopened through the container's /proc), write one byte
  OP_EXEC = 34,        // the program: argv, a separator, env follow
  OP_CLOSE_FDS = 35,   // close-on-exec from FROM
  OP_DUMPABLE = 36,
  OP_PERSONALITY = 37,
  OP_SCHEDULER = 38,  // sched_setattr
  OP_IOPRIO = 39,
  OP_SESSION_KEYRING = 40,    // join a new session keyring NAME
  OP_SECCOMP = 41,            // load the BPF program (the blob) with seccomp(2) FLAGS
  OP_OPEN_PROC = 42,          // open the container's /proc (must be procfs) for OP_WAIT_START
  OP_CONSOLE_ATTACH = 43,     // setsid, the pty of OP_CONSOLE as controlling terminal and stdio
  OP_HOME = 44,               // HOME from /etc/passwd for UID ("/" when unknown), added to OP_EXEC's env
  OP_OPEN_TREE = 45,          // clone SOURCE (in ROOT if set) before a user namespace, as tree INDEX; IDMAP: see below
  OP_DETACH_HOST_MOUNT = 46,  // --no-pivot: make PATH a slave and detach it (or cover it with a tmpfs)
  OP_CPU_AFFINITY = 47,       // sched_setaffinity to the CPUs that follow
  OP_MEMORY_POLICY = 48,      // set_mempolicy(MODE, the memory nodes that follow)
  OP_NET_DEVICE = 49,         // the link moved in as NAME (host index INDEX): the addresses that follow, then up
  OP_NET_DEVICE_RETURN = 50,  // the link moved in as NAME back to the network namespace in NS_SLOT, as HOST_NAME
  OP_LOOPBACK_UP = 51,        // lo of this (new) network namespace up
  OP_REOPEN_DEV_NULL = 52,    // fds 0..2 that are /dev/null reopened on the container's /dev/null
  OP_COUNT
};

// OPEN_TREE_N_IDMAP and MOUNT_N_IDMAP: not idmapped, the top mount idmapped ("idmap"), every
// mount of the tree ("ridmap").
enum { IDMAP_NONE = 0, IDMAP_TOP = 1, IDMAP_RECURSIVE = 2 };

// Each opcode's arguments by name: OP_S_FIELD indexes its strings, OP_N_FIELD its numbers, and
// OP_S_COUNT / OP_N_COUNT is where a list that follows them starts (argv and env, propagation
// flags, additional gids). The same names, in the same order, as FIELDS in src/plan/wire.ts.
enum { SYNC_S_TAG, SYNC_S_COUNT };
enum { SYNC_N_COUNT };
enum { SETNS_S_PATH, SETNS_S_COUNT };
enum { SETNS_N_NSTYPE, SETNS_N_FD_SLOT, SETNS_N_COUNT };
enum { UNSHARE_S_COUNT };
enum { UNSHARE_N_FLAGS, UNSHARE_N_COUNT };
enum { WRITE_FILE_S_PATH, WRITE_FILE_S_CONTENT, WRITE_FILE_S_COUNT };
enum { WRITE_FILE_N_COUNT };
enum { FORK_S_COUNT };
enum { FORK_N_COUNT };
enum { BECOME_ROOT_S_COUNT };
enum { BECOME_ROOT_N_COUNT };
enum { ROOT_PROPAGATION_S_PATH, ROOT_PROPAGATION_S_COUNT };
enum { ROOT_PROPAGATION_N_FLAGS, ROOT_PROPAGATION_N_COUNT };
enum { BIND_ROOTFS_S_ROOTFS, BIND_ROOTFS_S_COUNT };
enum { BIND_ROOTFS_N_COUNT };
enum { MOUNT_S_SOURCE, MOUNT_S_DESTINATION, MOUNT_S_FSTYPE, MOUNT_S_DATA, MOUNT_S_LABEL, MOUNT_S_COUNT };
enum {
  MOUNT_N_FLAGS,
  MOUNT_N_BIND,
  MOUNT_N_ATTR_SET,
  MOUNT_N_ATTR_CLEAR,
  MOUNT_N_DEST_KIND,
  MOUNT_N_REAL_DIR,
  MOUNT_N_COPY_UP,
  MOUNT_N_KEEP_MODE,
  MOUNT_N_TREE,
  MOUNT_N_IDMAP,
  MOUNT_N_COUNT
};
enum { MKDIR_S_PATH, MKDIR_S_COUNT };
enum { MKDIR_N_MODE, MKDIR_N_COUNT };
enum { MKNOD_S_PATH, MKNOD_S_COUNT };
enum { MKNOD_N_MODE, MKNOD_N_MAJOR, MKNOD_N_MINOR, MKNOD_N_UID, MKNOD_N_GID, MKNOD_N_COUNT };
enum { BIND_DEVICE_S_PATH, BIND_DEVICE_S_HOST_PATH, BIND_DEVICE_S_COUNT };
enum { BIND_DEVICE_N_COUNT };
enum { SYMLINK_S_TARGET, SYMLINK_S_PATH, SYMLINK_S_COUNT };
enum { SYMLINK_N_COUNT };
enum { PIVOT_ROOT_S_COUNT };
enum { PIVOT_ROOT_N_COUNT };
enum { MOVE_ROOT_S_COUNT };
enum { MOVE_ROOT_N_COUNT };
enum { CHROOT_S_ROOTFS, CHROOT_S_COUNT };
enum { CHROOT_N_COUNT };
enum { MASK_PATH_S_PATH, MASK_PATH_S_LABEL, MASK_PATH_S_COUNT };
enum { MASK_PATH_N_COUNT };
enum { READONLY_PATH_S_PATH, READONLY_PATH_S_COUNT };
enum { READONLY_PATH_N_IN_PLACE, READONLY_PATH_N_COUNT };
enum { REMOUNT_ROOT_RO_S_COUNT };
enum { REMOUNT_ROOT_RO_N_COUNT };
enum { SETHOSTNAME_S_NAME, SETHOSTNAME_S_COUNT };
enum { SETHOSTNAME_N_COUNT };
enum { SETDOMAINNAME_S_NAME, SETDOMAINNAME_S_COUNT };
enum { SETDOMAINNAME_N_COUNT };
enum { CONSOLE_S_COUNT };
enum {
  CONSOLE_N_SOCKET_SLOT,
  CONSOLE_N_ROWS,
  CONSOLE_N_COLS,
  CONSOLE_N_BIND_CONSOLE,
  CONSOLE_N_UID,
  CONSOLE_N_ATTACH_LATER,
  CONSOLE_N_COUNT
};
enum { SETSID_S_COUNT };
enum { SETSID_N_COUNT };
enum { RLIMIT_S_COUNT };
enum { RLIMIT_N_RESOURCE, RLIMIT_N_SOFT, RLIMIT_N_HARD, RLIMIT_N_COUNT };
enum { CHDIR_S_PATH, CHDIR_S_COUNT };
enum { CHDIR_N_PHASE, CHDIR_N_COUNT };
enum { UMASK_S_COUNT };
enum { UMASK_N_MASK, UMASK_N_COUNT };
enum { USER_S_COUNT };
enum { USER_N_UID, USER_N_GID, USER_N_COUNT };
enum { CAPS_S_COUNT };
enum {
  CAPS_N_BOUNDING_LO,
  CAPS_N_BOUNDING_HI,
  CAPS_N_EFFECTIVE_LO,
  CAPS_N_EFFECTIVE_HI,
  CAPS_N_PERMITTED_LO,
  CAPS_N_PERMITTED_HI,
  CAPS_N_INHERITABLE_LO,
  CAPS_N_INHERITABLE_HI,
  CAPS_N_AMBIENT_LO,
  CAPS_N_AMBIENT_HI,
  CAPS_N_PHASE,
  CAPS_N_LAST_CAP,
  CAPS_N_COUNT
};
enum { NO_NEW_PRIVS_S_COUNT };
enum { NO_NEW_PRIVS_N_COUNT };
enum { HOOK_S_KIND, HOOK_S_PATH, HOOK_S_COUNT };
enum { HOOK_N_ARGC, HOOK_N_ENVC, HOOK_N_TIMEOUT, HOOK_N_STATE_INDEX, HOOK_N_IN_ROOTFS, HOOK_N_INDEX, HOOK_N_COUNT };
enum { FIND_EXEC_S_NAME, FIND_EXEC_S_SEARCH_PATH, FIND_EXEC_S_COUNT };
enum { FIND_EXEC_N_COUNT };
enum { READY_S_COUNT };
enum { READY_N_UNTIL_EXEC, READY_N_COUNT };
enum { WAIT_START_S_COUNT };
enum { WAIT_START_N_FIFO_SLOT, WAIT_START_N_COUNT };
enum { EXEC_S_COUNT };
enum { EXEC_N_ARGC, EXEC_N_COUNT };
enum { CLOSE_FDS_S_COUNT };
enum { CLOSE_FDS_N_FROM, CLOSE_FDS_N_COUNT };
enum { DUMPABLE_S_COUNT };
enum { DUMPABLE_N_ON, DUMPABLE_N_COUNT };
enum { PERSONALITY_S_COUNT };
enum { PERSONALITY_N_PERSONA, PERSONALITY_N_COUNT };
enum { SCHEDULER_S_COUNT };
enum {
  SCHEDULER_N_POLICY,
  SCHEDULER_N_PRIORITY,
  SCHEDULER_N_NICE,
  SCHEDULER_N_FLAGS,
  SCHEDULER_N_RUNTIME,
  SCHEDULER_N_DEADLINE,
  SCHEDULER_N_PERIOD,
  SCHEDULER_N_COUNT
};
enum { IOPRIO_S_COUNT };
enum { IOPRIO_N_VALUE, IOPRIO_N_COUNT };
enum { SESSION_KEYRING_S_NAME, SESSION_KEYRING_S_COUNT };
enum { SESSION_KEYRING_N_COUNT };
enum { SECCOMP_S_COUNT };
enum { SECCOMP_N_FLAGS, SECCOMP_N_COUNT };
enum { OPEN_PROC_S_COUNT };
enum { OPEN_PROC_N_COUNT };
enum { CONSOLE_ATTACH_S_COUNT };
enum { CONSOLE_ATTACH_N_COUNT };
enum { HOME_S_COUNT };
enum { HOME_N_UID, HOME_N_COUNT };
enum { OPEN_TREE_S_SOURCE, OPEN_TREE_S_ROOT, OPEN_TREE_S_UID_MAP, OPEN_TREE_S_GID_MAP, OPEN_TREE_S_COUNT };
enum {
  OPEN_TREE_N_INDEX,
  OPEN_TREE_N_FLAGS,
  OPEN_TREE_N_ATTR_SET,
  OPEN_TREE_N_ATTR_CLEAR,
  OPEN_TREE_N_IDMAP,
  OPEN_TREE_N_COUNT
};
enum { DETACH_HOST_MOUNT_S_PATH, DETACH_HOST_MOUNT_S_COUNT };
enum { DETACH_HOST_MOUNT_N_COUNT };
enum { CPU_AFFINITY_S_COUNT };
enum { CPU_AFFINITY_N_COUNT };
enum { MEMORY_POLICY_S_COUNT };
enum { MEMORY_POLICY_N_MODE, MEMORY_POLICY_N_COUNT };
enum { NET_DEVICE_S_NAME, NET_DEVICE_S_COUNT };
enum { NET_DEVICE_N_INDEX, NET_DEVICE_N_COUNT };
enum { NET_DEVICE_RETURN_S_NAME, NET_DEVICE_RETURN_S_HOST_NAME, NET_DEVICE_RETURN_S_COUNT };
enum { NET_DEVICE_RETURN_N_INDEX, NET_DEVICE_RETURN_N_NS_SLOT, NET_DEVICE_RETURN_N_COUNT };
enum { LOOPBACK_UP_S_COUNT };
enum { LOOPBACK_UP_N_COUNT };
enum { REOPEN_DEV_NULL_S_COUNT };
enum { REOPEN_DEV_NULL_N_COUNT };

}  // namespace tsrunc
