// The steps of a plan, as tsrunc-init carries them out (one case per opcode of ops.h). The
// decisions were made by the runtime in TypeScript; these only make the system calls, and check
// what they opened where an image or another process could have put something else.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>

#include "../fdpass.h"
#include "../netlink.h"
#include "../ops.h"
#include "init.h"

namespace tsrunc {

static std::string g_payload;  // data carried by the last ack (the states for the init's hooks)
static char g_exec_path[4096];
static int g_procfd = -1;        // the container's /proc (OP_OPEN_PROC), for OP_WAIT_START
static int g_consoleSlave = -1;  // the pty slave between OP_CONSOLE and OP_CONSOLE_ATTACH
static bool g_cwdEntered;        // OP_CHDIR's first phase (as root) got there
static std::string g_homeEnv;    // "HOME=..." from OP_HOME, added to OP_EXEC's env
static bool g_started;           // OP_WAIT_START is past: `start` has released this process

static void FdPath(char *buf, size_t size, int fd) { snprintf(buf, size, "/proc/self/fd/%d", fd); }

static int64_t Num(const Step &st, size_t i, int64_t dflt = 0) { return i < st.n.size() ? (int64_t)st.n[i] : dflt; }

static const char *Str(const Step &st, size_t i) { return i < st.s.size() && st.sp[i] != nullptr ? st.sp[i] : ""; }

// chmod of an O_PATH fd: fchmodat2(AT_EMPTY_PATH) from Linux 6.6, else through the fd's magic
// link (the inode itself, whatever its name has become since).
static int ChmodFd(int fd, mode_t mode) {
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
  if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0) return 0;
  if (errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) return -1;
  char path[64];
  FdPath(path, sizeof path, fd);
  return chmod(path, mode);
}

// Bind source trees cloned early (OP_OPEN_TREE), by index, until their mount step attaches them.
static std::vector<int> g_trees;

// Writes all of `text` to a /proc file of `pid` (its uid_map or gid_map), checked to be procfs.
static bool WriteProcMap(pid_t pid, const char *file, const char *text) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct statfs sfs;
  if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
    close(fd);
    errno = EXDEV;
    return false;
  }
  size_t len = strlen(text);
  ssize_t n = write(fd, text, len);
  int err = errno;
  close(fd);
  if (n != (ssize_t)len) {
    errno = n < 0 ? err : EIO;
    return false;
  }
  return true;
}

// The user namespace an idmapped mount takes its mapping from, holding exactly UID_MAP and
// GID_MAP: a child of this process unshares a user namespace and only waits; this process (the
// runtime's root, still in the host user namespace, so the maps may name any host id) writes its
// uid_map and gid_map, opens its ns/user, then kills and reaps it. The child's pid is found in
// /proc, which must be of this process's own pid namespace (checked: /proc/self is our pid).
static int IdmapUserns(const char *uidMap, const char *gidMap) {
  char self[32];
  ssize_t len = readlink("/proc/self", self, sizeof self - 1);
  if (len <= 0) Fail("reading /proc/self (to make the idmapped mount's user namespace)", len < 0 ? errno : EINVAL);
  self[len] = '\0';
  if (strtol(self, NULL, 10) != (long)getpid())
    Fail("/proc is not of this process's pid namespace: cannot make the idmapped mount's user namespace", EXDEV);
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0) Fail("pipe", errno);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) Fail("fork (for the idmapped mount's user namespace)", errno);
  if (pid == 0) {
    // The child: a user namespace of its own, then nothing until it is killed (or its parent dies).
    close(ready[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent) _exit(1);
    unsigned char err = unshare(CLONE_NEWUSER) < 0 ? (unsigned char)(errno > 0 && errno < 256 ? errno : EINVAL) : 0;
    if (write(ready[1], &err, 1) != 1 || err != 0) _exit(1);
    for (;;) pause();
  }
  close(ready[1]);
  int fail = 0;
  const char *what = NULL;
  unsigned char childErr = 0;
  ssize_t got;
  do got = read(ready[0], &childErr, 1);
  while (got < 0 && errno == EINTR);
  close(ready[0]);
  int ns = -1;
  if (got != 1) {
    what = "the idmapped mount's user namespace helper exited";
    fail = got < 0 ? errno : ECHILD;
  } else if (childErr != 0) {
    what = "unshare of the idmapped mount's user namespace";
    fail = childErr;
  } else if (!WriteProcMap(pid, "uid_map", uidMap)) {
    what = "writing the idmapped mount's uid_map";
    fail = errno;
  } else if (!WriteProcMap(pid, "gid_map", gidMap)) {
    what = "writing the idmapped mount's gid_map";
    fail = errno;
  } else {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    ns = open(path, O_RDONLY | O_CLOEXEC);
    struct stat mine, theirs;
    if (ns < 0) {
      what = "opening the idmapped mount's user namespace";
      fail = errno;
    } else if (ioctl(ns, NS_GET_NSTYPE) != CLONE_NEWUSER || fstat(ns, &theirs) < 0 ||
               stat("/proc/self/ns/user", &mine) < 0 ||
               (mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino)) {
      what = "the idmapped mount's user namespace is not a new user namespace";
      fail = EXDEV;
    }
  }
  kill(pid, SIGKILL);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (what != NULL) Fail(what, fail);
  return ns;
}

// A clone of `source` (recursive with MS_REC) with the mount's flags and attributes applied:
// the plain flags (ro, nosuid, ...) to the top mount, as MS_REMOUNT|MS_BIND does, the recursive
// attributes to all of it. IDMAP_TOP/IDMAP_RECURSIVE: MOUNT_ATTR_IDMAP with a user namespace of
// UID_MAP and GID_MAP on the top mount or on every mount of the tree (runc's idmap/ridmap).
// ROOT (not empty): SOURCE is a path inside that directory (the rootfs), resolved as if it were
// "/" (openat2 RESOLVE_IN_ROOT), so that a symlink the image planted there cannot lead the source
// to a host directory.
static int CloneTree(const char *source, unsigned long flags, unsigned attrSet, unsigned attrClear,
                     int idmap = IDMAP_NONE, const char *uidMap = "", const char *gidMap = "", const char *root = "") {
  unsigned otFlags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((flags & MS_REC) ? AT_RECURSIVE : 0);
  int tree;
  if (root[0] != '\0') {
    int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) Fail("opening the rootfs to resolve the source in", errno);
    struct open_how how = {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    int src = -1;
    for (int tries = 0; tries < 128; tries++) {
      src = (int)syscall(SYS_openat2, rootfd, source, &how, sizeof how);
      if (src >= 0 || errno != EAGAIN) break;
    }
    if (src < 0) Fail("resolving the source inside the rootfs", errno);
    close(rootfd);
    tree = open_tree(src, "", otFlags | AT_EMPTY_PATH);
    close(src);
  } else {
    tree = open_tree(AT_FDCWD, source, otFlags);
  }
  if (tree < 0) Fail("open_tree of the source", errno);
  if (idmap != IDMAP_NONE) {
    if (idmap != IDMAP_TOP && idmap != IDMAP_RECURSIVE) Fail("a malformed idmap mode", EINVAL);
    if (uidMap[0] == '\0' || gidMap[0] == '\0') Fail("an idmapped mount without uid and gid maps", EINVAL);
    int userns = IdmapUserns(uidMap, gidMap);
    struct mount_attr ia = {};
    ia.attr_set = MOUNT_ATTR_IDMAP;
    ia.userns_fd = (uint64_t)userns;
    if (mount_setattr(tree, "", AT_EMPTY_PATH | (idmap == IDMAP_RECURSIVE ? AT_RECURSIVE : 0), &ia, sizeof ia) < 0) {
      int err = errno;
      char buf[4300];
      snprintf(buf, sizeof buf, "setting MOUNT_ATTR_IDMAP on %s%s", source,
               err == EINVAL  ? " (its filesystem cannot be idmapped on this kernel, or it is idmapped already)"
               : err == EPERM ? " (only the host's root may idmap a filesystem of the host)"
                              : "");
      Fail(buf, err);
    }
    close(userns);
  }
  unsigned top = 0;
  if (flags & MS_RDONLY) top |= MOUNT_ATTR_RDONLY;
  if (flags & MS_NOSUID) top |= MOUNT_ATTR_NOSUID;
  if (flags & MS_NODEV) top |= MOUNT_ATTR_NODEV;
  if (flags & MS_NOEXEC) top |= MOUNT_ATTR_NOEXEC;
  if (flags & MS_NODIRATIME) top |= MOUNT_ATTR_NODIRATIME;
  if (flags & MS_NOSYMFOLLOW) top |= MOUNT_ATTR_NOSYMFOLLOW;
  if (flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) {
    struct mount_attr t = {};
    t.attr_clr = MOUNT_ATTR__ATIME;
    t.attr_set = (flags & MS_NOATIME)       ? MOUNT_ATTR_NOATIME
                 : (flags & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME
                                            : MOUNT_ATTR_RELATIME;
    if (mount_setattr(tree, "", AT_EMPTY_PATH, &t, sizeof t) < 0) Fail("setting atime on the bind mount", errno);
  }
  if (top) {
    struct mount_attr t = {};
    t.attr_set = top;
    if (mount_setattr(tree, "", AT_EMPTY_PATH, &t, sizeof t) < 0) Fail("setting flags on the bind mount", errno);
  }
  struct mount_attr attr = {};
  attr.attr_set = attrSet;
  attr.attr_clr = attrClear;
  if ((attrSet | attrClear) && mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
    Fail("setting recursive attributes", errno);
  return tree;
}

static void DoOpenTree(const Step &st) {
  int64_t index = Num(st, OPEN_TREE_N_INDEX, -1);
  if (index < 0 || index > 4096) Fail("a malformed open-tree step", EINVAL);
  if ((size_t)index >= g_trees.size()) g_trees.resize((size_t)index + 1, -1);
  g_trees[(size_t)index] = CloneTree(Str(st, OPEN_TREE_S_SOURCE), (unsigned long)Num(st, OPEN_TREE_N_FLAGS),
                                     (unsigned)Num(st, OPEN_TREE_N_ATTR_SET), (unsigned)Num(st, OPEN_TREE_N_ATTR_CLEAR),
                                     (int)Num(st, OPEN_TREE_N_IDMAP), Str(st, OPEN_TREE_S_UID_MAP),
                                     Str(st, OPEN_TREE_S_GID_MAP), Str(st, OPEN_TREE_S_ROOT));
}

// A copy of the tree under `src` (a directory of the rootfs) into `dst` (the new tmpfs over it),
// as runc's tmpcopyup: directories, regular files, symlinks and device nodes with their modes
// and owners. Nothing is followed: every entry is opened or created relative to its parent fd,
// without following symlinks, so the image cannot lead the copy anywhere else.
static void CopyTree(int src, int dst, int depth) {
  if (depth > 128) Fail("tmpcopyup: the directory tree is deeper than 128 levels", ELOOP);
  int listing = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (listing < 0) Fail("tmpcopyup: opening a directory to copy", errno);
  DIR *d = fdopendir(listing);
  if (d == NULL) Fail("tmpcopyup: fdopendir", errno);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *name = e->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    struct stat sb;
    if (fstatat(src, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) Fail("tmpcopyup: stat", errno);
    mode_t perm = sb.st_mode & 07777;
    if (S_ISDIR(sb.st_mode)) {
      if (mkdirat(dst, name, 0700) < 0) Fail("tmpcopyup: mkdir", errno);
      int from = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int to = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (from < 0 || to < 0) Fail("tmpcopyup: opening a directory", errno);
      CopyTree(from, to, depth + 1);
      if (fchown(to, sb.st_uid, sb.st_gid) < 0 || fchmod(to, perm) < 0)
        Fail("tmpcopyup: owner and mode of a directory", errno);
      close(from);
      close(to);
    } else if (S_ISREG(sb.st_mode)) {
      int from = openat(src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      if (from < 0) Fail("tmpcopyup: opening a file", errno);
      int to = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (to < 0) Fail("tmpcopyup: creating a file", errno);
      char buf[65536];
      ssize_t n;
      while ((n = read(from, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) Fail("tmpcopyup: reading a file", errno);
        for (ssize_t done = 0; done < n;) {
          ssize_t w = write(to, buf + done, (size_t)(n - done));
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) Fail("tmpcopyup: writing a file", errno);
          done += w;
        }
      }
      if (fchown(to, sb.st_uid, sb.st_gid) < 0 || fchmod(to, perm) < 0)
        Fail("tmpcopyup: owner and mode of a file", errno);
      close(from);
      close(to);
    } else if (S_ISLNK(sb.st_mode)) {
      char link[4096];
      ssize_t n = readlinkat(src, name, link, sizeof link - 1);
      if (n < 0) Fail("tmpcopyup: readlink", errno);
      link[n] = '\0';
      if (symlinkat(link, dst, name) < 0) Fail("tmpcopyup: symlink", errno);
      if (fchownat(dst, name, sb.st_uid, sb.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        Fail("tmpcopyup: owner of a symlink", errno);
    } else if (S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) || S_ISFIFO(sb.st_mode)) {
      if (mknodat(dst, name, (sb.st_mode & S_IFMT) | 0600, sb.st_rdev) < 0) Fail("tmpcopyup: mknod", errno);
      int node = openat(dst, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (node < 0 || fchownat(node, "", sb.st_uid, sb.st_gid, AT_EMPTY_PATH) < 0 || ChmodFd(node, perm) < 0)
        Fail("tmpcopyup: owner and mode of a device", errno);
      close(node);
    }
    // (sockets are not copied)
  }
  closedir(d);
}

static void DoMount(const Step &st) {
  const char *source = Str(st, MOUNT_S_SOURCE), *dest = Str(st, MOUNT_S_DESTINATION), *fstype = Str(st, MOUNT_S_FSTYPE),
             *data = Str(st, MOUNT_S_DATA), *label = Str(st, MOUNT_S_LABEL);
  unsigned long flags = (unsigned long)Num(st, MOUNT_N_FLAGS);
  bool bind = Num(st, MOUNT_N_BIND) != 0;
  unsigned attrSet = (unsigned)Num(st, MOUNT_N_ATTR_SET), attrClear = (unsigned)Num(st, MOUNT_N_ATTR_CLEAR);
  int kind = (int)Num(st, MOUNT_N_DEST_KIND);
  bool realDir = Num(st, MOUNT_N_REAL_DIR) != 0;
  bool copyUp = Num(st, MOUNT_N_COPY_UP) != 0, keepMode = Num(st, MOUNT_N_KEEP_MODE) != 0;
  int64_t treeIndex = Num(st, MOUNT_N_TREE, -1);
  const size_t firstPropagation = MOUNT_N_COUNT;
  // What the directory was before anything is mounted over it (a tmpfs keeps its mode, as runc).
  struct stat before;
  bool existed = false;
  if (keepMode) {
    int old = OpenInRoot(dest, kind, false, realDir);
    existed = old >= 0 && fstat(old, &before) == 0 && S_ISDIR(before.st_mode);
    if (old >= 0) close(old);
  }
  int target = OpenInRoot(dest, kind, true, realDir);
  if (target < 0) Fail("resolving the destination", errno);
  if (realDir) {
    struct stat sb;
    if (fstat(target, &sb) < 0) Fail("stat of the destination", errno);
    if (!S_ISDIR(sb.st_mode)) Fail("the destination is not a directory", ENOTDIR);
  }
  if (bind) {
    // The source tree, cloned now or earlier (before a user namespace), is attached at the
    // resolved target: no path is looked up again after the check.
    int tree;
    if (treeIndex >= 0) {
      if ((size_t)treeIndex >= g_trees.size() || g_trees[(size_t)treeIndex] < 0)
        Fail("the bind source was not opened", EBADF);
      tree = g_trees[(size_t)treeIndex];
      g_trees[(size_t)treeIndex] = -1;
    } else {
      // (an idmapped mount is always cloned early, where its user namespace can be made)
      if (Num(st, MOUNT_N_IDMAP) != IDMAP_NONE) Fail("an idmapped mount without its tree opened early", EINVAL);
      tree = CloneTree(source, flags, attrSet, attrClear);
    }
    if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
      Fail("move_mount", errno);
    for (size_t i = firstPropagation; i < st.n.size(); i++) {
      struct mount_attr p = {};
      p.propagation = (uint64_t)st.n[i] & ~(uint64_t)MS_REC;
      if (mount_setattr(tree, "", AT_EMPTY_PATH | (((uint64_t)st.n[i] & MS_REC) ? AT_RECURSIVE : 0), &p, sizeof p) <
          0) {
        Fail("setting propagation", errno);
      }
    }
    close(tree);
  } else {
    // tmpcopyup: what the directory holds, kept open before the tmpfs covers it.
    int below = copyUp ? openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (copyUp && below < 0) Fail("tmpcopyup: opening the directory", errno);
    char path[64];
    FdPath(path, sizeof path, target);
    if (mount(source, path, fstype, flags & ~(unsigned long)MS_REC, data[0] ? data : NULL) < 0) Fail("mount", errno);
    if (st.n.size() > firstPropagation || attrSet || attrClear || copyUp || existed || label[0]) {
      int mnt = OpenInRoot(dest, kind, false, realDir);
      if (mnt < 0) Fail("reopening the new mount", errno);
      if (copyUp) {
        int root = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0) Fail("tmpcopyup: opening the new tmpfs", errno);
        CopyTree(below, root, 0);
        close(root);
        close(below);
      }
      if (existed && ChmodFd(mnt, before.st_mode & 07777) < 0) Fail("giving the tmpfs the directory's mode", errno);
      FdPath(path, sizeof path, mnt);
      // linux.mountLabel on a filesystem that takes no context= (mqueue): its root labelled, as runc's SetFileLabel.
      if (label[0] && setxattr(path, "security.selinux", label, strlen(label), 0) < 0)
        Fail("labelling the mount's root", errno);
      for (size_t i = firstPropagation; i < st.n.size(); i++) {
        if (mount(NULL, path, NULL, (unsigned long)st.n[i], NULL) < 0) Fail("setting propagation", errno);
      }
      if (attrSet || attrClear) {
        struct mount_attr attr = {};
        attr.attr_set = attrSet;
        attr.attr_clr = attrClear;
        if (mount_setattr(mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
          Fail("setting recursive attributes", errno);
      }
      close(mnt);
    }
  }
  close(target);
}

// --no-pivot: a proc or sysfs mount of the host outside the rootfs, made a slave (so nothing
// propagates back) and detached; where a user namespace may not unmount it (a locked mount), an
// empty tmpfs covers it, as runc does. One already gone with its parent is left alone.
static void DoDetachHostMount(const Step &st) {
  const char *path = Str(st, DETACH_HOST_MOUNT_S_PATH);
  if (mount(NULL, path, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
    if (errno == ENOENT || errno == EINVAL) return;  // not a mount point any more
    Fail("making it a slave", errno);
  }
  if (umount2(path, MNT_DETACH) == 0) return;
  if (errno != EINVAL && errno != EPERM) Fail("umount", errno);
  if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=0") < 0)
    Fail("covering it with a tmpfs", errno);
}

// execCPUAffinity: this process's CPUs (before or after it joins the container's cgroup).
static void DoCpuAffinity(const Step &st) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (size_t i = CPU_AFFINITY_N_COUNT; i < st.n.size(); i++) {
    if (st.n[i] < 0 || st.n[i] >= CPU_SETSIZE) Fail("a CPU number outside the CPU set", EINVAL);
    CPU_SET((int)st.n[i], &set);
  }
  if (sched_setaffinity(0, sizeof set, &set) < 0) Fail("sched_setaffinity", errno);
}

// linux.memoryPolicy: set_mempolicy(mode with its flags, the nodes that follow; none: no mask).
static void DoMemoryPolicy(const Step &st) {
  constexpr int64_t kMaxNode = 1023;  // the kernel's largest MAX_NUMNODES (NODES_SHIFT 10)
  constexpr size_t kBits = 8 * sizeof(unsigned long);
  unsigned long mask[(kMaxNode + 1) / kBits] = {};
  int64_t highest = -1;
  for (size_t i = MEMORY_POLICY_N_COUNT; i < st.n.size(); i++) {
    int64_t node = st.n[i];
    if (node < 0 || node > kMaxNode) Fail("a memory node outside the kernel's range", EINVAL);
    mask[node / kBits] |= 1UL << (node % kBits);
    if (node > highest) highest = node;
  }
  // maxnode counts one more than the bits the kernel reads.
  long rc = syscall(SYS_set_mempolicy, (int)Num(st, MEMORY_POLICY_N_MODE), highest < 0 ? nullptr : mask,
                    highest < 0 ? 0UL : (unsigned long)highest + 2);
  if (rc < 0) Fail("set_mempolicy", errno);
}

// ---- linux.netDevices (the runtime moved each host interface in while this process waited) ----

// `name` fits `pattern`: equal, or for a template ("net%d") its digits in place of %d.
static bool NameFits(const std::string &name, const char *pattern) {
  const char *pct = strstr(pattern, "%d");
  if (pct == NULL) return name == pattern;
  size_t pre = (size_t)(pct - pattern), post = strlen(pct + 2);
  if (name.size() <= pre + post || name.compare(0, pre, pattern, pre) != 0 ||
      name.compare(name.size() - post, post, pct + 2) != 0)
    return false;
  for (size_t i = pre; i < name.size() - post; i++)
    if (name[i] < '0' || name[i] > '9') return false;
  return true;
}

// The link moved in as `name` (or a name of that template): the kernel keeps its host index
// when this namespace has no link of that index (a new one has only lo), else looked up by name.
static rtnl::Link MovedLink(int sock, const char *name, int64_t index, const char *what) {
  rtnl::Link link;
  if (index > 0 && index <= INT32_MAX && rtnl::LinkByIndex(sock, (int)index, &link) == 0 && NameFits(link.name, name))
    return link;
  if (strstr(name, "%d") == NULL) {
    int err = rtnl::LinkByName(sock, name, &link);
    if (err == 0) return link;
    Fail(what, -err);
  }
  Fail(what, ENODEV);
}

static void DoNetDevice(const Step &st) {
  const char *name = Str(st, NET_DEVICE_S_NAME);
  int sock = rtnl::Open();
  if (sock < 0) Fail("opening a netlink socket", -sock);
  char what[320];
  snprintf(what, sizeof what, "finding the network device %s in the network namespace", name);
  rtnl::Link link = MovedLink(sock, name, Num(st, NET_DEVICE_N_INDEX), what);
  for (size_t i = NET_DEVICE_S_COUNT; i < st.s.size(); i++) {
    rtnl::Address a;
    if (!rtnl::ParseAddress(Str(st, i), &a)) Fail("an address the plan should not hold", EINVAL);
    snprintf(what, sizeof what, "adding address %s to %s", Str(st, i), link.name.c_str());
    int err = rtnl::AddAddress(sock, link.index, a);
    if (err < 0) Fail(what, -err);
  }
  snprintf(what, sizeof what, "setting %s up", link.name.c_str());
  int err = rtnl::SetUp(sock, link.index);
  if (err < 0) Fail(what, -err);
  close(sock);
}

// A new network namespace's lo up, as runc's loopback network does (its addresses come with it).
static void DoLoopbackUp() {
  int sock = rtnl::Open();
  if (sock < 0) Fail("opening a netlink socket", -sock);
  rtnl::Link link;
  int err = rtnl::LinkByName(sock, "lo", &link);
  if (err < 0) Fail("finding the loopback interface", -err);
  err = rtnl::SetUp(sock, link.index);
  if (err < 0) Fail("setting the loopback interface up", -err);
  close(sock);
}

// (a helper the runtime starts in the network namespace of a container whose create failed)
static void DoNetDeviceReturn(const Step &st) {
  const char *name = Str(st, NET_DEVICE_RETURN_S_NAME);
  int target = SlotFd(Num(st, NET_DEVICE_RETURN_N_NS_SLOT, -1));
  int sock = rtnl::Open();
  if (sock < 0) Fail("opening a netlink socket", -sock);
  char what[320];
  snprintf(what, sizeof what, "finding the network device %s in the network namespace", name);
  rtnl::Link link = MovedLink(sock, name, Num(st, NET_DEVICE_RETURN_N_INDEX), what);
  snprintf(what, sizeof what, "moving %s back as %s", link.name.c_str(), Str(st, NET_DEVICE_RETURN_S_HOST_NAME));
  int err = rtnl::MoveLink(sock, link.index, Str(st, NET_DEVICE_RETURN_S_HOST_NAME), target);
  if (err < 0) Fail(what, -err);
  close(sock);
}

// Another writer of the rootfs (a container sharing a volume) may swap the name for a symlink
// at any moment: owner and mode are set on the node this step made, through an O_PATH fd opened
// without following symlinks and checked to be that node, never by name.
static void DoMknod(const Step &st) {
  char name[256];
  int dir = OpenParentInRoot(Str(st, MKNOD_S_PATH), name, sizeof name);
  if (dir < 0) Fail("resolving the parent directory", errno);
  mode_t mode = (mode_t)Num(st, MKNOD_N_MODE);
  dev_t dev = makedev((unsigned)Num(st, MKNOD_N_MAJOR), (unsigned)Num(st, MKNOD_N_MINOR));
  if (unlinkat(dir, name, 0) < 0 && errno != ENOENT) Fail("removing what is at the device's path", errno);
  mode_t old = umask(0);
  int rc = mknodat(dir, name, mode, dev);
  umask(old);
  if (rc < 0) Fail("mknod", errno);
  int node = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (node < 0) Fail("opening the new device node", errno);
  struct stat sb;
  if (fstat(node, &sb) < 0) Fail("stat of the new device node", errno);
  if ((sb.st_mode & S_IFMT) != (mode & S_IFMT) || (!S_ISFIFO(mode) && sb.st_rdev != dev) || sb.st_nlink != 1) {
    Fail("the device node was replaced while it was created", EEXIST);
  }
  if (fchownat(node, "", (uid_t)Num(st, MKNOD_N_UID), (gid_t)Num(st, MKNOD_N_GID), AT_EMPTY_PATH) < 0)
    Fail("chown", errno);
  // (chown may clear set-id bits: the mode goes on last)
  if (ChmodFd(node, mode & 07777) < 0) Fail("chmod", errno);
  close(node);
  close(dir);
}

static void DoSymlink(const Step &st) {
  char name[256];
  int dir = OpenParentInRoot(Str(st, SYMLINK_S_PATH), name, sizeof name);
  if (dir < 0) Fail("resolving the parent directory", errno);
  if (symlinkat(Str(st, SYMLINK_S_TARGET), dir, name) < 0 && errno != EEXIST) Fail("symlink", errno);
  close(dir);
}

static void DoMkdir(const Step &st) {
  int fd = OpenInRoot(Str(st, MKDIR_S_PATH), 0, true, false);
  if (fd < 0) Fail("mkdir", errno);
  close(fd);
}

static void DoPivotRoot() {
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) Fail("open /", errno);
  int newroot = openat(g_rootfd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (newroot < 0) Fail("open the rootfs", errno);
  if (fchdir(newroot) < 0) Fail("chdir to the rootfs", errno);
  if (syscall(SYS_pivot_root, ".", ".") < 0) Fail("pivot_root", errno);
  // The old root is now stacked under the new one at ".": detach it without propagating
  // the unmount to the host.
  if (fchdir(oldroot) < 0) Fail("chdir to the old root", errno);
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) Fail("making the old root a slave", errno);
  if (umount2(".", MNT_DETACH) < 0) Fail("unmounting the old root", errno);
  if (chdir("/") < 0) Fail("chdir /", errno);
  close(oldroot);
  close(newroot);
}

// runc's reOpenDevNull: stdio that is a /dev/null (any file with its device number: the host's,
// which the caller opened) is made the container's own /dev/null, opened after the root was
// entered. A container without a /dev/null keeps what it had.
static void DoReopenDevNull() {
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return;
  struct stat ns;
  if (fstat(null, &ns) < 0) Fail("fstat /dev/null", errno);
  for (int fd = 0; fd < 3; fd++) {
    struct stat st;
    if (fstat(fd, &st) < 0) continue;  // (a closed stdio stays closed)
    if (S_ISCHR(st.st_mode) && st.st_rdev == ns.st_rdev && dup3(null, fd, 0) < 0) Fail("reopening /dev/null", errno);
  }
  close(null);
}

static void DoMoveRoot() {
  // (through the fd: the host's /proc may be detached by now, see DoDetachHostMount)
  if (fchdir(g_rootfd) < 0) Fail("chdir to the rootfs", errno);
  if (mount(".", "/", NULL, MS_MOVE, NULL) < 0) Fail("moving the rootfs to /", errno);
  if (chroot(".") < 0) Fail("chroot", errno);
  if (chdir("/") < 0) Fail("chdir /", errno);
}

static void DoChroot(const Step &st) {
  // Without a mount namespace nothing was bound, so there is no g_rootfd: the path itself.
  if (chdir(Str(st, CHROOT_S_ROOTFS)) < 0) Fail("chdir to the rootfs", errno);
  if (chroot(".") < 0) Fail("chroot", errno);
  if (chdir("/") < 0) Fail("chdir /", errno);
}

// After pivot_root: paths are the container's own. O_PATH|O_NOFOLLOW so that a symlink
// planted by the image is never followed to a host file.
static void DoMaskPath(const Step &st) {
  int fd = OpenInRoot(Str(st, MASK_PATH_S_PATH), 0, false, false);
  if (fd < 0) {
    if (errno == ENOENT) return;
    Fail("open", errno);
  }
  struct stat sb;
  if (fstat(fd, &sb) < 0) Fail("stat", errno);
  int tree;
  if (S_ISDIR(sb.st_mode)) {
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) Fail("fsopen tmpfs", errno);
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "0", 0) < 0) Fail("fsconfig", errno);
    const char *label = Str(st, MASK_PATH_S_LABEL);
    if (label[0] && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "context", label, 0) < 0)
      Fail("fsconfig context (linux.mountLabel)", errno);
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) Fail("creating the tmpfs", errno);
    tree = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
    close(fs);
    if (tree < 0) Fail("fsmount", errno);
  } else {
    // The source must be the real /dev/null (CVE-2025-31133): check what we opened.
    int null = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (null < 0) Fail("open /dev/null", errno);
    struct stat nb;
    if (fstat(null, &nb) < 0) Fail("stat /dev/null", errno);
    if (!S_ISCHR(nb.st_mode) || major(nb.st_rdev) != 1 || minor(nb.st_rdev) != 3)
      Fail("/dev/null is not the null device", EPERM);
    tree = open_tree(null, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    close(null);
    if (tree < 0) Fail("open_tree /dev/null", errno);
  }
  if (move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) Fail("move_mount", errno);
  close(tree);
  close(fd);
}

static void DoReadonlyPath(const Step &st) {
  int fd = OpenInRoot(Str(st, READONLY_PATH_S_PATH), 0, false, false);
  if (fd < 0) {
    if (errno == ENOENT) return;
    Fail("open", errno);
  }
  if (Num(st, READONLY_PATH_N_IN_PLACE) == 1) {
    // In place: the path is already a mount point of ours (the cgroup tmpfs).
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) Fail("mount_setattr", errno);
    close(fd);
    return;
  }
  int tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
  if (tree < 0) Fail("open_tree", errno);
  // Read-only and nothing more, as runc: the clone keeps the mount's own nosuid/nodev/noexec,
  // and a read-only /bin must still run its programs.
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) Fail("mount_setattr", errno);
  if (move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) Fail("move_mount", errno);
  close(tree);
  close(fd);
}

static void DoRemountRootRo() {
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) < 0) Fail("remounting / read-only", errno);
}

static void SendFd(int sock, int fd, const char *name) {
  if (SendWithFd(sock, name, strlen(name), fd) < 0) Fail("sending the pty master to the console socket", errno);
}

static void AttachConsole() {
  int slave = g_consoleSlave;
  if (slave < 0) Fail("no console to attach", EBADF);
  if (setsid() < 0 && errno != EPERM) Fail("setsid", errno);
  if (ioctl(slave, TIOCSCTTY, 0) < 0) Fail("making the pty the controlling terminal", errno);
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0) Fail("dup2 of the pty", errno);
  if (slave > 2) close(slave);
  g_consoleSlave = -1;
}

static void DoConsole(const Step &st) {
  int sock = SlotFd(Num(st, CONSOLE_N_SOCKET_SLOT));
  int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) Fail("opening /dev/pts/ptmx", errno);
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) Fail("unlocking the pty", errno);
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) Fail("opening the pty slave", errno);
  unsigned rows = (unsigned)Num(st, CONSOLE_N_ROWS), cols = (unsigned)Num(st, CONSOLE_N_COLS);
  if (rows || cols) {
    struct winsize ws = {};
    ws.ws_row = (unsigned short)rows;
    ws.ws_col = (unsigned short)cols;
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0) Fail("setting the console size", errno);
  }
  // /dev/console is bound from this pty only (the container's devpts, never a host file).
  bool bind = Num(st, CONSOLE_N_BIND_CONSOLE) != 0;
  int console = bind ? open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;
  if (bind && console < 0 && errno == ENOENT) {
    int c = open("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (c >= 0) close(c);
    console = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  }
  if (console >= 0) {
    int tree = open_tree(slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0) Fail("open_tree of the pty", errno);
    if (move_mount(tree, "", console, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
      Fail("binding the pty on /dev/console", errno);
    close(tree);
    close(console);
  }
  // The console belongs to the process's user, as runc makes it (the group stays devpts's).
  // EINVAL/EPERM: the uid is not mapped or the slave's owner is not; runc leaves it then too.
  int64_t uid = Num(st, CONSOLE_N_UID, -1);
  if (uid >= 0 && fchown(slave, (uid_t)uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
    Fail("chown of the pty", errno);
  SendFd(sock, master, "/dev/ptmx");
  close(master);
  close(sock);
  g_consoleSlave = slave;
  // exec attaches it after its fork (OP_CONSOLE_ATTACH), in the process that runs the program.
  if (Num(st, CONSOLE_N_ATTACH_LATER) != 1) AttachConsole();
}

// The raw system calls change this process alone (glibc's wrappers would apply the change to
// every thread, and there is only this one).
// (On 32-bit ABIs the plain numbers are the old 16-bit-id calls: the *32 ones are the real ones.)
#ifdef SYS_setresuid32
static int SetGroups(size_t n, const gid_t *groups) { return (int)syscall(SYS_setgroups32, n, groups); }
static int SetResGid(gid_t gid) { return (int)syscall(SYS_setresgid32, gid, gid, gid); }
static int SetResUid(uid_t uid) { return (int)syscall(SYS_setresuid32, uid, uid, uid); }
#else
static int SetGroups(size_t n, const gid_t *groups) { return (int)syscall(SYS_setgroups, n, groups); }
static int SetResGid(gid_t gid) { return (int)syscall(SYS_setresgid, gid, gid, gid); }
static int SetResUid(uid_t uid) { return (int)syscall(SYS_setresuid, uid, uid, uid); }
#endif

// An id outside 0..2^31-1 is never cast: (uid_t)-1 means "unchanged" to setresuid, and larger
// values would wrap (the runtime refuses them; this is the last line).
static bool ValidId(int64_t id) { return id >= 0 && id <= INT32_MAX; }

static void DoUser(const Step &st) {
  if (!ValidId(Num(st, USER_N_UID, -1)) || !ValidId(Num(st, USER_N_GID, -1)))
    Fail("a uid or gid outside 0..2147483647", EINVAL);
  uid_t uid = (uid_t)Num(st, USER_N_UID);
  gid_t gid = (gid_t)Num(st, USER_N_GID);
  size_t ng = st.n.size() > USER_N_COUNT ? st.n.size() - USER_N_COUNT : 0;
  if (ng > 65536) Fail("too many additional gids", E2BIG);
  std::vector<gid_t> groups(ng);
  for (size_t i = 0; i < ng; i++) {
    if (!ValidId(st.n[i + USER_N_COUNT])) Fail("an additional gid outside 0..2147483647", EINVAL);
    groups[i] = (gid_t)st.n[i + USER_N_COUNT];
  }
  // setgroups is denied in a user namespace whose setgroups file says "deny".
  if (SetGroups(ng, groups.data()) < 0 && !(errno == EPERM && ng == 0)) Fail("setgroups", errno);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) Fail("keeping capabilities", errno);
  if (SetResGid(gid) < 0) Fail("setgid", errno);
  if (SetResUid(uid) < 0) Fail("setuid", errno);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) Fail("clearing keepcaps", errno);
}

static uint64_t Mask(const Step &st, int set) {
  return (uint64_t)(uint32_t)Num(st, CAPS_N_BOUNDING_LO + (size_t)set * 2) |
         ((uint64_t)(uint32_t)Num(st, CAPS_N_BOUNDING_HI + (size_t)set * 2) << 32);
}

static void DoCaps(const Step &st) {
  uint64_t bounding = Mask(st, 0), effective = Mask(st, 1), permitted = Mask(st, 2), inheritable = Mask(st, 3),
           ambient = Mask(st, 4);
  // The host's last capability, read by the runtime: never a file of the rootfs, which an image
  // could plant where /proc is not mounted.
  int64_t last = Num(st, CAPS_N_LAST_CAP, -1);
  if (last < 0 || last > 63) Fail("the host's cap_last_cap is out of range", EINVAL);
  if (Num(st, CAPS_N_PHASE) == 1) {
    // Phase 1, while still root with CAP_SETPCAP: the bounding set.
    for (int c = 0; c <= last; c++) {
      if (!(bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
        Fail("dropping from the bounding set", errno);
    }
    return;
  }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  data[0].effective = (uint32_t)effective;
  data[1].effective = (uint32_t)(effective >> 32);
  data[0].permitted = (uint32_t)permitted;
  data[1].permitted = (uint32_t)(permitted >> 32);
  data[0].inheritable = (uint32_t)inheritable;
  data[1].inheritable = (uint32_t)(inheritable >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0) Fail("capset", errno);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    Fail("clearing ambient capabilities", errno);
  for (int c = 0; c <= last; c++) {
    // The kernel only allows ambient capabilities that are permitted and inheritable; like
    // runc, others in the ambient list are skipped rather than failing the container.
    uint64_t bit = 1ULL << c;
    if (!(ambient & bit) || !(permitted & bit) || !(inheritable & bit)) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EINVAL)
      Fail("raising an ambient capability", errno);
  }
}

// Runs a hook (createContainer, startContainer) from the init: the state on stdin, killed
// after its timeout.
static void DoHook(const Step &st) {
  int64_t argc = Num(st, HOOK_N_ARGC, -1), stateIndex = Num(st, HOOK_N_STATE_INDEX);
  int64_t timeout = Num(st, HOOK_N_TIMEOUT);
  // argv and env are separated by a null entry (see lowerStep in src/plan/wire.ts).
  if (argc < 1 || (size_t)argc + HOOK_S_COUNT >= st.sp.size() || st.sp[(size_t)argc + HOOK_S_COUNT] != nullptr)
    Fail("a malformed hook step", EINVAL);
  const char *const *argv = &st.sp[HOOK_S_COUNT];
  const char *const *envp = &st.sp[(size_t)argc + HOOK_S_COUNT + 1];
  // The payload holds the states NUL-separated; stateIndex picks one.
  size_t at = 0;
  for (int i = 0; i < stateIndex && at < g_payload.size(); i++) {
    size_t nul = g_payload.find('\0', at);
    at = nul == std::string::npos ? g_payload.size() : nul + 1;
  }
  size_t stop = g_payload.find('\0', at);
  const char *state = g_payload.data() + at;
  size_t stateLen = (stop == std::string::npos ? g_payload.size() : stop) - at;
  // The hook's stdin is a file holding the state: any size, and a hook that does not read it
  // cannot block the init.
  int in = memfd_create("tsrunc-state", MFD_CLOEXEC);
  if (in < 0) Fail("memfd_create", errno);
  for (size_t done = 0; done < stateLen;) {
    ssize_t w = write(in, state + done, stateLen - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) Fail("writing the state for the hook", errno);
    done += (size_t)w;
  }
  if (lseek(in, 0, SEEK_SET) < 0) Fail("lseek", errno);
  // What the hook says on stderr goes into the failure message (its stdout is dropped), as the
  // runtime's own hooks report it (src/lifecycle/hooks.ts): one message for all six kinds.
  int err = memfd_create("tsrunc-hook-stderr", MFD_CLOEXEC);
  int out = memfd_create("tsrunc-hook-stdout", MFD_CLOEXEC);
  if (err < 0 || out < 0) Fail("memfd_create", errno);
  pid_t pid = fork();
  if (pid < 0) Fail("fork", errno);
  if (pid == 0) {
    // createContainer hooks run in the rootfs, as runc runs them ("touch ./x" lands there).
    if (Num(st, HOOK_N_IN_ROOTFS) == 1 && g_rootfd >= 0 && fchdir(g_rootfd) < 0) _exit(127);
    // stdio only (runc's hooks get no more): not the caller's preserved fds either.
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    syscall(SYS_close_range, 3U, ~0U, 0);
    execve(Str(st, HOOK_S_PATH), (char *const *)argv, (char *const *)envp);
    char text[128], line[4300];
    int len = snprintf(line, sizeof line, "exec %s: %s", Str(st, HOOK_S_PATH), ErrnoText(errno, text, sizeof text));
    if (len > 0 && write(2, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1) < 0) {
    }
    _exit(127);
  }
  close(in);
  close(out);
  char why[160] = "";
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (timeout > 0 && pidfd < 0) {
    // A timeout that cannot be enforced is not silently dropped.
    int e = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    Fail("watching the hook for its timeout (pidfd_open)", e);
  }
  if (timeout > 0) {
    struct pollfd pfd = {pidfd, POLLIN, 0};
    int rc;
    // (validation bounds the timeout; the product is computed wide and clamped all the same)
    int64_t ms = (int64_t)timeout * 1000;
    do rc = poll(&pfd, 1, ms > INT32_MAX ? INT32_MAX : (int)ms);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      kill(pid, SIGKILL);
      snprintf(why, sizeof why, "timed out after %llds", (long long)timeout);
    }
  }
  if (pidfd >= 0) close(pidfd);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) Fail("waiting for the hook", errno);
  if (why[0] == '\0') {
    if (WIFSIGNALED(status)) {
      const char *name = sigabbrev_np(WTERMSIG(status));
      snprintf(why, sizeof why, "killed by SIG%s", name ? name : "UNKNOWN");
    } else if (WEXITSTATUS(status) != 0) {
      snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(status));
    }
  }
  if (why[0] != '\0') {
    // "<kind> hook #<index> (<path>) failed: <why>[: <stderr, its last 2 KiB, trimmed>]"
    char tail[2049];
    off_t size = lseek(err, 0, SEEK_END);
    off_t from = size > 2048 ? size - 2048 : 0;
    ssize_t n = size > 0 ? pread(err, tail, (size_t)(size - from), from) : 0;
    size_t len = n > 0 ? (size_t)n : 0;
    while (len > 0 && (tail[len - 1] == '\n' || tail[len - 1] == ' ' || tail[len - 1] == '\r')) len--;
    tail[len] = '\0';
    for (size_t i = 0; i < len; i++)
      if (tail[i] == '\0') tail[i] = ' ';
    char message[2400];
    snprintf(message, sizeof message, "%s hook #%lld (%s) failed: %s%s%s", Str(st, HOOK_S_KIND),
             (long long)Num(st, HOOK_N_INDEX), Str(st, HOOK_S_PATH), why, len > 0 ? ": " : "", tail);
    FailText(message, ECANCELED);
  }
  close(err);
}

// runc's wording for a program that cannot be found or run (Go's exec.LookPath): the docker CLI
// turns "no such file or directory", "executable file not found" and "permission denied" in a
// failed create into exit 127 or 126.
[[noreturn]] static void FailLookup(const char *name, const char *why, int err) {
  char buf[8400];
  snprintf(buf, sizeof buf, "exec: \"%s\": %s", name, why);
  FailText(buf, err);
}

static void DoFindExec(const Step &st) {
  const char *name = Str(st, FIND_EXEC_S_NAME), *path = Str(st, FIND_EXEC_S_SEARCH_PATH);
  char text[128];
  if (strchr(name, '/')) {
    if (strlen(name) >= sizeof g_exec_path) FailLookup(name, ErrnoText(ENAMETOOLONG, text, sizeof text), ENAMETOOLONG);
    strcpy(g_exec_path, name);
    struct stat sb;
    if (stat(name, &sb) < 0) {
      int err = errno;
      char why[4200];
      snprintf(why, sizeof why, "stat %s: %s", name, ErrnoText(err, text, sizeof text));
      FailLookup(name, why, err);
    }
    if (S_ISDIR(sb.st_mode)) FailLookup(name, ErrnoText(EISDIR, text, sizeof text), EISDIR);
#ifdef SYS_faccessat2
    // Checked here, as the process's own user, so that a file without execute permission fails
    // `create` or `exec` (as in runc) instead of the final execve after start. Only EACCES
    // counts: a seccomp profile or an old kernel may refuse the call itself.
    long denied = syscall(SYS_faccessat2, AT_FDCWD, name, X_OK, AT_EACCESS);
    // (before Linux 5.8: the ids are already the process's own, real and effective alike)
    if (denied < 0 && errno == ENOSYS) denied = access(name, X_OK);
    if (denied < 0 && errno == EACCES) FailLookup(name, ErrnoText(EACCES, text, sizeof text), EACCES);
#endif
    return;
  }
  const char *p = path;
  while (true) {
    const char *colon = strchr(p, ':');
    size_t dirlen = colon ? (size_t)(colon - p) : strlen(p);
    int n = snprintf(g_exec_path, sizeof g_exec_path, "%.*s%s%s", (int)dirlen, p, dirlen ? "/" : "", name);
    if (n > 0 && (size_t)n < sizeof g_exec_path) {
      struct stat sb;
      if (stat(g_exec_path, &sb) == 0 && S_ISREG(sb.st_mode) && access(g_exec_path, X_OK) == 0) return;
    }
    if (!colon) break;
    p = colon + 1;
  }
  FailLookup(name, "executable file not found in $PATH", ENOENT);
}

// The container's own /proc (as runc, which reopens exec.fifo through it): it must be procfs, not
// a directory of the image. Opened once the rootfs is final, so that nothing of the host's /proc
// is ever held by this process.
static void DoOpenProc() {
  g_procfd = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (g_procfd < 0) Fail("no procfs at /proc (tsrunc waits for start through /proc/self/fd, as runc does)", errno);
  struct statfs sfs;
  if (fstatfs(g_procfd, &sfs) < 0) Fail("statfs of /proc", errno);
  if (sfs.f_type != PROC_SUPER_MAGIC)
    Fail("no procfs at /proc (tsrunc waits for start through /proc/self/fd, as runc does)", ENOENT);
}

// Blocks until `start` opens exec.fifo for reading. The fifo is an O_PATH fd from the runtime,
// reopened for writing through the container's /proc; what opened must be that same fifo.
static void DoWaitStart(const Step &st) {
  int fifo = SlotFd(Num(st, WAIT_START_N_FIFO_SLOT));
  if (g_procfd < 0) Fail("waiting for start without the container's /proc", EBADF);
  char path[64];
  snprintf(path, sizeof path, "self/fd/%d", fifo);
  int fd;
  do fd = openat(g_procfd, path, O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) Fail("opening exec.fifo", errno);
  struct stat want, got;
  if (fstat(fifo, &want) < 0 || fstat(fd, &got) < 0) Fail("stat of exec.fifo", errno);
  if (!S_ISFIFO(got.st_mode) || got.st_dev != want.st_dev || got.st_ino != want.st_ino)
    Fail("exec.fifo reopened through /proc is another file", EXDEV);
  close(g_procfd);
  g_procfd = -1;
  if (write(fd, "0", 1) != 1) Fail("writing exec.fifo", errno);
  close(fifo);
  g_started = true;
  // fd stays open (close-on-exec): `start` reads EOF once execve has happened.
  g_sync = fd;  // an exec failure is reported on the fifo from now on
}

// HOME for a process whose env has none, as runc sets it: the home directory of the first
// /etc/passwd entry with the process's uid, "/" when there is none. The file is the image's: it is
// read as data only (a regular file, opened without blocking, at most 4 MiB), and decides nothing
// but this string.
static void DoHome(const Step &st) {
  int64_t uid = Num(st, HOME_N_UID, -1);
  std::string home = "/";
  int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  struct stat sb;
  if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
    std::string text;
    char buf[65536];
    ssize_t n;
    while (text.size() < (4u << 20) && ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))) {
      if (n > 0) text.append(buf, (size_t)n);
    }
    size_t at = 0;
    while (at < text.size()) {
      size_t end = text.find('\n', at);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(at, end - at);
      at = end + 1;
      // name:password:uid:gid:gecos:home:shell
      std::vector<std::string> f;
      size_t from = 0;
      for (size_t colon; (colon = line.find(':', from)) != std::string::npos; from = colon + 1)
        f.push_back(line.substr(from, colon - from));
      f.push_back(line.substr(from));
      if (f.size() < 6 || f[2].empty() || f[2].find_first_not_of("0123456789") != std::string::npos || f[2].size() > 10)
        continue;
      if (strtoll(f[2].c_str(), NULL, 10) != uid) continue;
      home = f[5];
      break;
    }
  }
  if (fd >= 0) close(fd);
  g_homeEnv = "HOME=" + home;
}

// The container's program. This process runs from a sealed memfd, so an image whose program is
// "#!/proc/self/exe" gets tsrunc-init as its interpreter, which refuses to run, and can never
// write through /proc/PID/exe to a host binary (CVE-2019-5736): there is none behind it.
static void DoExec(const Step &st) {
  int64_t argc = Num(st, EXEC_N_ARGC, -1);
  if (argc < 1 || (size_t)argc + EXEC_S_COUNT >= st.sp.size() || st.sp[(size_t)argc + EXEC_S_COUNT] != nullptr)
    Fail("a malformed exec step", EINVAL);
  const char *const *argv = &st.sp[EXEC_S_COUNT];
  std::vector<const char *> env(st.sp.begin() + EXEC_S_COUNT + argc + 1, st.sp.end() - 1);
  if (!g_homeEnv.empty()) {
    // (the runtime asked for HOME only when the env has none, or an empty one: that one goes)
    for (auto it = env.begin(); it != env.end();) it = strcmp(*it, "HOME=") == 0 ? env.erase(it) : it + 1;
    env.push_back(g_homeEnv.c_str());
  }
  env.push_back(nullptr);
  const char *const *envp = env.data();
  const char *path = g_exec_path[0] ? g_exec_path : argv[0];
  execve(path, (char *const *)argv, (char *const *)envp);
  int err = errno;
  char text[128];
  if (g_started) {
    // After start, as runc: `start` has done its part; the container says why on its own stderr
    // ("exec /tini: no such file or directory") and exits 1.
    char buf[4300];
    int len = snprintf(buf, sizeof buf, "exec %s: %s\n", path, ErrnoText(err, text, sizeof text));
    if (len > 0 && write(2, buf, (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1) < 0) {
    }
    _exit(1);
  }
  char buf[4300];
  snprintf(buf, sizeof buf, "exec %s", path);
  Fail(buf, err);
}

static void WriteFile(const char *path, const char *content) {
  // O_NONBLOCK: a FIFO planted where procfs should be cannot block the open.
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) Fail("open", errno);
  // Sysctls, labels, oom_score_adj: only ever into procfs, never into whatever a mount of the
  // config or the image put over it (CVE-2019-16884, CVE-2019-19921).
  struct statfs sfs;
  if (strncmp(path, "/proc/", 6) == 0 && (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC))
    Fail("the file is not on procfs", EXDEV);
  size_t len = strlen(content);
  if (write(fd, content, len) != (ssize_t)len) Fail("write", errno);
  close(fd);
}

void RunStep(const Step &st) {
  switch (st.op) {
    case OP_SYNC: Sync(Str(st, SYNC_S_TAG), &g_payload); break;
    case OP_SETNS: {
      // exec: an fd the runtime opened while it knew the init was the container's (no pid
      // reuse in between); create: a path the config names.
      int64_t slot = Num(st, SETNS_N_FD_SLOT, -1);
      int fd = slot >= 0 ? SlotFd(slot) : open(Str(st, SETNS_S_PATH), O_RDONLY | O_CLOEXEC);
      if (fd < 0) Fail("open", errno);
      if (setns(fd, (int)Num(st, SETNS_N_NSTYPE)) < 0) Fail("setns", errno);
      close(fd);
      break;
    }
    case OP_UNSHARE:
      if (unshare((int)Num(st, UNSHARE_N_FLAGS)) < 0) Fail("unshare", errno);
      break;
    case OP_WRITE_FILE: WriteFile(Str(st, WRITE_FILE_S_PATH), Str(st, WRITE_FILE_S_CONTENT)); break;
    case OP_FORK: {
      // The child waits until this process has reported its pid and the parent has checked
      // it (that N is a child of this process, still alive), so that "pid N" reaches the
      // parent before anything the child says.
      int gate[2];
      if (pipe2(gate, O_CLOEXEC) < 0) Fail("pipe", errno);
      pid_t pid = fork();
      if (pid < 0) Fail("fork", errno);
      if (pid > 0) {
        char buf[64];
        int len = snprintf(buf, sizeof buf, "pid %d", pid);
        close(gate[0]);
        SendRaw(buf, (size_t)len);
        WaitAck(NULL);  // exits on anything but "ack": the child then reads EOF and exits too
        if (write(gate[1], "g", 1) != 1) _exit(1);
        _exit(0);
      }
      close(gate[1]);
      char c;
      ssize_t got;
      do got = read(gate[0], &c, 1);
      while (got < 0 && errno == EINTR);
      // No byte: the runtime refused the pid, or died, before the intermediate could pass it on.
      if (got != 1) _exit(1);
      close(gate[0]);
      // No death signal here: the parent is the process that just exited. A vanished runtime
      // is seen as EOF on the sync socket at the next step that waits on it ("ready" waits).
      break;
    }
    case OP_BECOME_ROOT:
      if (SetResGid(0) < 0) Fail("setresgid", errno);
      if (SetResUid(0) < 0) Fail("setresuid", errno);
      break;
    case OP_ROOT_PROPAGATION:
      if (mount(NULL, Str(st, ROOT_PROPAGATION_S_PATH)[0] ? Str(st, ROOT_PROPAGATION_S_PATH) : "/", NULL,
                (unsigned long)Num(st, ROOT_PROPAGATION_N_FLAGS), NULL) < 0)
        Fail("mount", errno);
      break;
    case OP_BIND_ROOTFS: {
      if (mount(Str(st, BIND_ROOTFS_S_ROOTFS), Str(st, BIND_ROOTFS_S_ROOTFS), NULL, MS_BIND | MS_REC, NULL) < 0)
        Fail("mount", errno);
      g_rootfd = open(Str(st, BIND_ROOTFS_S_ROOTFS), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (g_rootfd < 0) Fail("open", errno);
      break;
    }
    case OP_MOUNT: DoMount(st); break;
    case OP_OPEN_TREE: DoOpenTree(st); break;
    case OP_DETACH_HOST_MOUNT: DoDetachHostMount(st); break;
    case OP_CPU_AFFINITY: DoCpuAffinity(st); break;
    case OP_MEMORY_POLICY: DoMemoryPolicy(st); break;
    case OP_NET_DEVICE: DoNetDevice(st); break;
    case OP_NET_DEVICE_RETURN: DoNetDeviceReturn(st); break;
    case OP_LOOPBACK_UP: DoLoopbackUp(); break;
    case OP_REOPEN_DEV_NULL: DoReopenDevNull(); break;
    case OP_MKDIR: DoMkdir(st); break;
    case OP_MKNOD: DoMknod(st); break;
    case OP_BIND_DEVICE: {
      int target = OpenInRoot(Str(st, BIND_DEVICE_S_PATH), 1, true, true);
      if (target < 0) Fail("resolving the device path", errno);
      int tree = open_tree(AT_FDCWD, Str(st, BIND_DEVICE_S_HOST_PATH), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (tree < 0) Fail("open_tree", errno);
      if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        Fail("move_mount", errno);
      close(tree);
      close(target);
      break;
    }
    case OP_SYMLINK: DoSymlink(st); break;
    case OP_PIVOT_ROOT: DoPivotRoot(); break;
    case OP_MOVE_ROOT: DoMoveRoot(); break;
    case OP_CHROOT: DoChroot(st); break;
    case OP_MASK_PATH: DoMaskPath(st); break;
    case OP_READONLY_PATH: DoReadonlyPath(st); break;
    case OP_REMOUNT_ROOT_RO: DoRemountRootRo(); break;
    case OP_SETHOSTNAME:
      if (sethostname(Str(st, SETHOSTNAME_S_NAME), strlen(Str(st, SETHOSTNAME_S_NAME))) < 0) Fail("sethostname", errno);
      break;
    case OP_SETDOMAINNAME:
      if (setdomainname(Str(st, SETDOMAINNAME_S_NAME), strlen(Str(st, SETDOMAINNAME_S_NAME))) < 0)
        Fail("setdomainname", errno);
      break;
    case OP_CONSOLE: DoConsole(st); break;
    case OP_SETSID:
      // (fails closed: a process left in the caller's session keeps its controlling terminal)
      if (setsid() < 0) Fail("setsid", errno);
      break;
    case OP_RLIMIT: {
      struct rlimit rl;
      if (st.n.size() != RLIMIT_N_COUNT) Fail("a malformed rlimit step", EINVAL);
      rl.rlim_cur = Num(st, RLIMIT_N_SOFT) < 0 ? RLIM_INFINITY : (rlim_t)Num(st, RLIMIT_N_SOFT);
      rl.rlim_max = Num(st, RLIMIT_N_HARD) < 0 ? RLIM_INFINITY : (rlim_t)Num(st, RLIMIT_N_HARD);
      if (setrlimit((int)Num(st, RLIMIT_N_RESOURCE), &rl) < 0) Fail("setrlimit", errno);
      break;
    }
    case OP_CHDIR: {
      if (Num(st, CHDIR_N_PHASE) == 1) {
        // As root, before the user changes: a directory only root may enter still works. A
        // permission error is left for the second phase, as the user (whose own directory, say,
        // root cannot enter on a filesystem that squashes root); anything else fails now.
        if (chdir(Str(st, CHDIR_S_PATH)) == 0)
          g_cwdEntered = true;
        else if (errno != EACCES && errno != EPERM)
          Fail("chdir", errno);
        break;
      }
      if (!g_cwdEntered && chdir(Str(st, CHDIR_S_PATH)) < 0) Fail("chdir", errno);
      // A cwd outside the root (reached through a leaked fd) reads as "(unreachable)". A cwd that
      // cannot be checked (a seccomp profile refusing getcwd) is refused, as runc does.
      char cwd[4096];
      if (syscall(SYS_getcwd, cwd, sizeof cwd) < 0)
        Fail("cannot verify that the working directory is inside the container: getcwd", errno);
      if (cwd[0] != '/') Fail("the working directory is outside the container", EPERM);
      break;
    }
    case OP_UMASK: umask((mode_t)Num(st, UMASK_N_MASK)); break;
    case OP_USER: DoUser(st); break;
    case OP_CAPS: DoCaps(st); break;
    case OP_NO_NEW_PRIVS:
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) Fail("prctl", errno);
      break;
    case OP_HOOK: DoHook(st); break;
    case OP_FIND_EXEC: DoFindExec(st); break;
    case OP_READY:
      // From here the process outlives the runtime process that made it.
      prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
      SendRaw("ready", 5);
      // exec: waits for the runtime's ack (a runtime gone by now gets no orphan program), and the
      // socket (close-on-exec) stays open, so that a failed execve is reported and its closing
      // tells the runtime the program runs. create: exec.fifo takes over.
      if (Num(st, READY_N_UNTIL_EXEC) == 1)
        WaitAck(NULL);
      else {
        close(g_sync);
        g_sync = -1;
        ForgetRuntime();
      }
      break;
    case OP_WAIT_START: DoWaitStart(st); break;
    case OP_EXEC: DoExec(st); break;
    case OP_CLOSE_FDS:
      if (syscall(SYS_close_range, (unsigned)Num(st, CLOSE_FDS_N_FROM), ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        Fail("close_range", errno);
      break;
    case OP_DUMPABLE:
      if (prctl(PR_SET_DUMPABLE, (unsigned long)Num(st, DUMPABLE_N_ON), 0, 0, 0) < 0) Fail("prctl", errno);
      break;
    case OP_PERSONALITY:
      if (personality((unsigned long)Num(st, PERSONALITY_N_PERSONA)) < 0) Fail("personality", errno);
      break;
    case OP_SCHEDULER: {
      struct sched_attr {
        uint32_t size, sched_policy;
        uint64_t sched_flags;
        int32_t sched_nice;
        uint32_t sched_priority;
        uint64_t sched_runtime, sched_deadline, sched_period;
      } attr = {};
      attr.size = sizeof attr;
      attr.sched_policy = (uint32_t)Num(st, SCHEDULER_N_POLICY);
      attr.sched_priority = (uint32_t)Num(st, SCHEDULER_N_PRIORITY);
      attr.sched_nice = (int32_t)Num(st, SCHEDULER_N_NICE);
      attr.sched_flags = (uint64_t)Num(st, SCHEDULER_N_FLAGS);
      attr.sched_runtime = (uint64_t)Num(st, SCHEDULER_N_RUNTIME);
      attr.sched_deadline = (uint64_t)Num(st, SCHEDULER_N_DEADLINE);
      attr.sched_period = (uint64_t)Num(st, SCHEDULER_N_PERIOD);
      if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0) Fail("sched_setattr", errno);
      break;
    }
    case OP_IOPRIO:
      if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (int)Num(st, IOPRIO_N_VALUE)) < 0)
        Fail("ioprio_set", errno);
      break;
    case OP_SECCOMP: {
      // Never a cut program: the kernel's limit is BPF_MAXINSNS instructions (4096).
      if (st.b.empty() || st.b.size() % sizeof(struct sock_filter) != 0 ||
          st.b.size() / sizeof(struct sock_filter) > BPF_MAXINSNS)
        Fail("a seccomp program of a size the kernel cannot load", EINVAL);
      struct sock_fprog prog;
      prog.len = (unsigned short)(st.b.size() / sizeof(struct sock_filter));
      prog.filter = (struct sock_filter *)st.b.data();
      unsigned flags = (unsigned)Num(st, SECCOMP_N_FLAGS);
      // The filter is the image's to choose: after it, no syscall the setup did not make
      // before (no poll of the runtime's pidfd; its socket's EOF is the sign, as with runc).
      ForgetRuntime();
      long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
      if (listener < 0) Fail("seccomp", errno);
      if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        // The parent forwards the listener to the container's listenerPath.
        SendFdSync("seccomp", (int)listener);
        close((int)listener);
      }
      break;
    }
    case OP_OPEN_PROC: DoOpenProc(); break;
    case OP_CONSOLE_ATTACH: AttachConsole(); break;
    case OP_HOME: DoHome(st); break;
    case OP_SESSION_KEYRING:
      // KEYCTL_JOIN_SESSION_KEYRING; kernels built without keys support are not an error.
      if (syscall(SYS_keyctl, 1, Str(st, SESSION_KEYRING_S_NAME), 0, 0, 0) < 0 && errno != ENOSYS)
        Fail("keyctl", errno);
      break;
    default: Fail("unknown step", EINVAL);
  }
}

}  // namespace tsrunc
