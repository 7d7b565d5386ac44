// Runs a plan in a forked child. Everything the child needs is copied into a Program
// before fork(); after fork the child only reads it and makes syscalls (no allocation, no
// JavaScript): Node is multi-threaded, and only the forking thread exists in the child.
//
// Messages to the parent (one datagram each):
//   "sync TAG"          waiting for the parent's ack ("ack" + optional payload, or "abort")
//   "pid N"             the next steps run in process N (after OP_FORK)
//   "ready"             setup finished; the init now waits for `start`
//   "error I CODE TEXT" step I failed with errno CODE (TEXT: what failed)
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "ops.h"
#include "sys.h"

namespace tsrunc {

struct Step {
  int op;
  std::vector<std::string> s;
  std::vector<double> n;
  std::vector<const char *> sp;  // pointers into s, NULL-terminated
  std::vector<uint8_t> b;        // binary payload (a seccomp BPF program)
};

struct Program {
  std::vector<Step> steps;
  std::vector<int> fds;  // moved to fd slots base+i in the child
  int preserve = 0;      // fds 3..3+preserve-1 belong to the caller and stay
};

// ---- child-side state (static: the child must not allocate) ----
static int g_base;          // first fd slot
static int g_sync = -1;     // socket to the parent
static int g_hostproc = -1; // the host's /proc, opened before pivot_root
static int g_rootfd = -1;   // the rootfs (O_PATH) while mounts are set up
static int g_step;          // index of the running step, for error messages
static char g_payload[1 << 20];  // data carried by the last ack (the state for hooks)
static size_t g_payload_len;
static char g_exec_path[4096];

// fork(2) without glibc's atfork handlers: libuv's handler would close and reopen its own
// fds in the child, clobbering the child's numbering.
static pid_t RawFork() { return (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL); }

static void SendRaw(const char *buf, size_t len) {
  if (g_sync < 0) return;
  ssize_t rc;
  do rc = send(g_sync, buf, len, MSG_NOSIGNAL);
  while (rc < 0 && errno == EINTR);
  // After wait-start the channel is exec.fifo, where `start` reads what follows the byte.
  if (rc < 0 && errno == ENOTSOCK) {
    // A `start` killed meanwhile leaves no reader: EPIPE, not death by SIGPIPE (we _exit next).
    struct sigaction ign = {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, NULL);
    do rc = write(g_sync, buf, len);
    while (rc < 0 && errno == EINTR);
  }
}

[[noreturn]] static void Fail(const char *what, int err) {
  char buf[1024];
  const char *name = strerrorname_np(err);
  // strerrordesc_np, not strerror: no locale lookup (and its locks) in the cloned child.
  const char *desc = strerrordesc_np(err);
  int len = snprintf(buf, sizeof buf, "error %d %s %s: %s", g_step, name ? name : "EUNKNOWN", what, desc ? desc : "unknown error");
  size_t n = len < 0 ? 0 : (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1;
  if (g_sync >= 0) {
    SendRaw(buf, n);
  } else {
    // Nobody listens any more (after "ready", before the fifo opened): the container's
    // stderr is the only place left to say why it died.
    buf[n] = '\n';
    if (write(2, buf, n + 1) < 0) {
    }
  }
  _exit(1);
}

static void Sync(const char *tag) {
  char buf[256];
  int len = snprintf(buf, sizeof buf, "sync %s", tag);
  SendRaw(buf, (size_t)len);
  struct iovec iov = {g_payload, sizeof g_payload - 1};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t n;
  do n = recvmsg(g_sync, &msg, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) _exit(1);  // the parent is gone: nobody to finish the setup
  // A cut state (huge annotations) must not reach the hooks as if it were whole.
  if (msg.msg_flags & MSG_TRUNC) Fail("the state for the hooks is larger than the executor's buffer", EMSGSIZE);
  if (n < 3 || memcmp(g_payload, "ack", 3) != 0) _exit(1);
  size_t off = (n > 3 && g_payload[3] == ' ') ? 4 : 3;
  g_payload_len = (size_t)n - off;
  memmove(g_payload, g_payload + off, g_payload_len);
  g_payload[g_payload_len] = '\0';
}

// One message with an fd attached (SCM_RIGHTS); allocation-free, usable in the child.
static ssize_t SendWithFdRaw(int sock, const void *data, size_t len, int fd) {
  struct iovec iov = {(void *)data, len};
  char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

// "sync TAG" with an fd attached, then wait for the ack as Sync does.
static void SendFdSync(const char *tag, int fd) {
  char text[256];
  int len = snprintf(text, sizeof text, "sync %s", tag);
  if (SendWithFdRaw(g_sync, text, (size_t)len, fd) < 0) Fail("sending the seccomp listener", errno);
  ssize_t n;
  do n = recv(g_sync, g_payload, 16, 0);
  while (n < 0 && errno == EINTR);
  if (n < 3 || memcmp(g_payload, "ack", 3) != 0) _exit(1);
}

// Opens `path` inside the rootfs without ever leaving it: every prefix is resolved from the
// rootfs with RESOLVE_IN_ROOT (symlinks act as if the rootfs were /), and what is missing is
// created with *at() calls on the already-resolved parent. kind 1 creates the last
// component as a file, 0 as a directory. A dangling symlink on the way is replaced by its
// target, read as a path inside the rootfs, and the walk starts again (as runc's
// MkdirAllInRoot): /mnt/l -> /tmp/x creates rootfs/tmp/x, never the host's /tmp/x.
static int OpenInRoot(const char *path, int kind, bool create, bool noSymlinks) {
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (noSymlinks ? RESOLVE_NO_SYMLINKS : 0);
  int fd = (int)syscall(SYS_openat2, g_rootfd, path, &how, sizeof how);
  if (fd >= 0 || errno != ENOENT || !create) return fd;
  char buf[4096], link[4096], next_path[4096];
  size_t len = strlen(path);
  if (len >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, len + 1);
  for (int links = 0; links <= 40; links++) {
    int dir = fcntl(g_rootfd, F_DUPFD_CLOEXEC, 0);
    if (dir < 0) return -1;
    char *p = buf;
    bool restart = false;
    while (*p == '/') p++;
    while (*p) {
      char *end = strchr(p, '/');
      if (end) *end = '\0';
      bool last = true;
      if (end) {
        const char *q = end + 1;
        while (*q == '/') q++;
        last = (*q == '\0');
      }
      int next = (int)syscall(SYS_openat2, g_rootfd, buf, &how, sizeof how);
      if (next < 0 && errno == ENOENT) {
        if (last && kind == 1) {
          int f = openat(dir, p, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
          if (f >= 0) close(f);
          else if (errno != EEXIST) {
            close(dir);
            return -1;
          }
        } else if (mkdirat(dir, p, 0755) < 0 && errno != EEXIST) {
          close(dir);
          return -1;
        }
        next = (int)syscall(SYS_openat2, g_rootfd, buf, &how, sizeof how);
        ssize_t n;
        if (next < 0 && errno == ENOENT && !noSymlinks && (n = readlinkat(dir, p, link, sizeof link - 1)) >= 0) {
          link[n] = '\0';
          // The new path: the link's target (from the link's directory when relative), then
          // what followed the link.
          int m = snprintf(next_path, sizeof next_path, "%.*s%s%s%s", link[0] == '/' ? 0 : (int)(p - buf), buf, link, end ? "/" : "", end ? end + 1 : "");
          if (m < 0 || (size_t)m >= sizeof next_path) {
            close(dir);
            errno = ENAMETOOLONG;
            return -1;
          }
          memcpy(buf, next_path, (size_t)m + 1);
          restart = true;
        }
      }
      close(dir);
      if (restart) break;
      if (next < 0) return -1;
      dir = next;
      if (!end) break;
      *end = '/';
      p = end + 1;
      while (*p == '/') p++;
    }
    if (!restart) return dir;
  }
  errno = ELOOP;
  return -1;
}

static void FdPath(char *buf, size_t size, int fd) { snprintf(buf, size, "/proc/self/fd/%d", fd); }

static int64_t Num(const Step &st, size_t i, int64_t dflt = 0) {
  return i < st.n.size() ? (int64_t)st.n[i] : dflt;
}

static const char *Str(const Step &st, size_t i) { return i < st.s.size() ? st.sp[i] : ""; }

// Parent directory (inside the rootfs) of `path`, and the last component in `name`.
static int OpenParentInRoot(const char *path, char *name, size_t nameSize) {
  char dir[4096];
  size_t len = strlen(path);
  if (len >= sizeof dir) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(dir, path, len + 1);
  while (len > 1 && dir[len - 1] == '/') dir[--len] = '\0';
  char *slash = strrchr(dir, '/');
  const char *base = slash ? slash + 1 : dir;
  if (strlen(base) >= nameSize) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(name, base);
  if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
  else strcpy(dir, "/");
  return OpenInRoot(dir, 0, true, false);
}

static void DoMount(const Step &st) {
  const char *source = Str(st, 0), *dest = Str(st, 1), *fstype = Str(st, 2), *data = Str(st, 3);
  unsigned long flags = (unsigned long)Num(st, 0);
  bool bind = Num(st, 1) != 0;
  unsigned attrSet = (unsigned)Num(st, 2), attrClear = (unsigned)Num(st, 3);
  int kind = (int)Num(st, 4);
  bool realDir = Num(st, 5) != 0;
  int target = OpenInRoot(dest, kind, true, realDir);
  if (target < 0) Fail("resolving the destination", errno);
  if (realDir) {
    struct stat sb;
    if (fstat(target, &sb) < 0) Fail("stat of the destination", errno);
    if (!S_ISDIR(sb.st_mode)) Fail("the destination is not a directory", ENOTDIR);
  }
  if (bind) {
    // Clone the source tree and attach it at the resolved target: no path is looked up
    // again after the check.
    unsigned otFlags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((flags & MS_REC) ? AT_RECURSIVE : 0);
    int tree = open_tree(AT_FDCWD, source, otFlags);
    if (tree < 0) Fail("open_tree of the source", errno);
    struct mount_attr attr = {};
    attr.attr_set = attrSet;
    attr.attr_clr = attrClear;
    // The plain flags (ro, nosuid, ...) apply to the top mount, as MS_REMOUNT|MS_BIND does.
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
      t.attr_set = (flags & MS_NOATIME) ? MOUNT_ATTR_NOATIME : (flags & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME : MOUNT_ATTR_RELATIME;
      if (mount_setattr(tree, "", AT_EMPTY_PATH, &t, sizeof t) < 0) Fail("setting atime on the bind mount", errno);
    }
    if (top) {
      struct mount_attr t = {};
      t.attr_set = top;
      if (mount_setattr(tree, "", AT_EMPTY_PATH, &t, sizeof t) < 0) Fail("setting flags on the bind mount", errno);
    }
    if ((attrSet | attrClear) && mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
      Fail("setting recursive attributes", errno);
    }
    if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) Fail("move_mount", errno);
    for (size_t i = 6; i < st.n.size(); i++) {
      struct mount_attr p = {};
      p.propagation = (uint64_t)st.n[i] & ~(uint64_t)MS_REC;
      if (mount_setattr(tree, "", AT_EMPTY_PATH | (((uint64_t)st.n[i] & MS_REC) ? AT_RECURSIVE : 0), &p, sizeof p) < 0) {
        Fail("setting propagation", errno);
      }
    }
    close(tree);
  } else {
    char path[64];
    FdPath(path, sizeof path, target);
    if (mount(source, path, fstype, flags & ~(unsigned long)MS_REC, data[0] ? data : NULL) < 0) Fail("mount", errno);
    if (st.n.size() > 6 || attrSet || attrClear) {
      int mnt = OpenInRoot(dest, kind, false, realDir);
      if (mnt < 0) Fail("reopening the new mount", errno);
      FdPath(path, sizeof path, mnt);
      for (size_t i = 6; i < st.n.size(); i++) {
        if (mount(NULL, path, NULL, (unsigned long)st.n[i], NULL) < 0) Fail("setting propagation", errno);
      }
      if (attrSet || attrClear) {
        struct mount_attr attr = {};
        attr.attr_set = attrSet;
        attr.attr_clr = attrClear;
        if (mount_setattr(mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) Fail("setting recursive attributes", errno);
      }
      close(mnt);
    }
  }
  close(target);
}

static void DoMknod(const Step &st) {
  char name[256];
  int dir = OpenParentInRoot(Str(st, 0), name, sizeof name);
  if (dir < 0) Fail("resolving the parent directory", errno);
  int real = dir;
  unlinkat(real, name, 0);
  mode_t mode = (mode_t)Num(st, 0);
  dev_t dev = makedev((unsigned)Num(st, 1), (unsigned)Num(st, 2));
  if (mknodat(real, name, mode, dev) < 0) Fail("mknod", errno);
  if (fchownat(real, name, (uid_t)Num(st, 3), (gid_t)Num(st, 4), AT_SYMLINK_NOFOLLOW) < 0) Fail("chown", errno);
  if (fchmodat(real, name, mode & 07777, 0) < 0) Fail("chmod", errno);
  close(dir);
}

static void DoSymlink(const Step &st) {
  char name[256];
  int dir = OpenParentInRoot(Str(st, 1), name, sizeof name);
  if (dir < 0) Fail("resolving the parent directory", errno);
  if (symlinkat(Str(st, 0), dir, name) < 0 && errno != EEXIST) Fail("symlink", errno);
  close(dir);
}

static void DoMkdir(const Step &st) {
  int fd = OpenInRoot(Str(st, 0), 0, true, false);
  if (fd < 0) Fail("mkdir", errno);
  close(fd);
}

static void DoPivotRoot() {
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) Fail("open /", errno);
  char path[64];
  FdPath(path, sizeof path, g_rootfd);
  int newroot = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
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

static void DoMoveRoot() {
  char path[64];
  FdPath(path, sizeof path, g_rootfd);
  if (chdir(path) < 0) Fail("chdir to the rootfs", errno);
  if (mount(".", "/", NULL, MS_MOVE, NULL) < 0) Fail("moving the rootfs to /", errno);
  if (chroot(".") < 0) Fail("chroot", errno);
  if (chdir("/") < 0) Fail("chdir /", errno);
}

static void DoChroot(const Step &st) {
  // Without a mount namespace nothing was bound, so there is no g_rootfd: the path itself.
  if (chdir(Str(st, 0)) < 0) Fail("chdir to the rootfs", errno);
  if (chroot(".") < 0) Fail("chroot", errno);
  if (chdir("/") < 0) Fail("chdir /", errno);
}

// After pivot_root: paths are the container's own. O_PATH|O_NOFOLLOW so that a symlink
// planted by the image is never followed to a host file.
static void DoMaskPath(const Step &st) {
  int fd = open(Str(st, 0), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    Fail("open", errno);
  }
  struct stat sb;
  if (fstat(fd, &sb) < 0) Fail("stat", errno);
  if (S_ISLNK(sb.st_mode)) {
    close(fd);
    return;  // a symlink is not followed: there is nothing of the host behind it to mask
  }
  int tree;
  if (S_ISDIR(sb.st_mode)) {
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) Fail("fsopen tmpfs", errno);
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "0", 0) < 0) Fail("fsconfig", errno);
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
    if (!S_ISCHR(nb.st_mode) || major(nb.st_rdev) != 1 || minor(nb.st_rdev) != 3) Fail("/dev/null is not the null device", EPERM);
    tree = open_tree(null, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    close(null);
    if (tree < 0) Fail("open_tree /dev/null", errno);
  }
  if (move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) Fail("move_mount", errno);
  close(tree);
  close(fd);
}

static void DoReadonlyPath(const Step &st) {
  int fd = open(Str(st, 0), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    Fail("open", errno);
  }
  if (Num(st, 0) == 1) {
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
  if (SendWithFdRaw(sock, name, strlen(name), fd) < 0) Fail("sending the pty master to the console socket", errno);
}

static void DoConsole(const Step &st) {
  int sock = g_base + (int)Num(st, 0);
  int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) Fail("opening /dev/pts/ptmx", errno);
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) Fail("unlocking the pty", errno);
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) Fail("opening the pty slave", errno);
  unsigned rows = (unsigned)Num(st, 1), cols = (unsigned)Num(st, 2);
  if (rows || cols) {
    struct winsize ws = {};
    ws.ws_row = (unsigned short)rows;
    ws.ws_col = (unsigned short)cols;
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0) Fail("setting the console size", errno);
  }
  // /dev/console is bound from this pty only (the container's devpts, never a host file).
  bool bind = Num(st, 3) != 0;
  int console = bind ? open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;
  if (bind && console < 0 && errno == ENOENT) {
    int c = open("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (c >= 0) close(c);
    console = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  }
  if (console >= 0) {
    int tree = open_tree(slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0) Fail("open_tree of the pty", errno);
    if (move_mount(tree, "", console, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) Fail("binding the pty on /dev/console", errno);
    close(tree);
    close(console);
  }
  SendFd(sock, master, "/dev/ptmx");
  close(master);
  close(sock);
  if (setsid() < 0 && errno != EPERM) Fail("setsid", errno);
  if (ioctl(slave, TIOCSCTTY, 0) < 0) Fail("making the pty the controlling terminal", errno);
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0) Fail("dup2 of the pty", errno);
  if (slave > 2) close(slave);
}

// The child is a raw clone of a multithreaded process: glibc's setgroups/setresuid/setresgid
// would try to apply the change to every thread glibc knows of (__nptl_setxid), threads that do
// not exist in the child, and can wait on them forever. The raw system calls change this
// process alone, which is all the child is.
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

static void DoUser(const Step &st) {
  uid_t uid = (uid_t)Num(st, 0);
  gid_t gid = (gid_t)Num(st, 1);
  gid_t groups[256];
  size_t ng = st.n.size() > 2 ? st.n.size() - 2 : 0;
  if (ng > 256) Fail("too many additional gids", E2BIG);
  for (size_t i = 0; i < ng; i++) groups[i] = (gid_t)st.n[i + 2];
  // setgroups is denied in a user namespace whose setgroups file says "deny".
  if (SetGroups(ng, groups) < 0 && !(errno == EPERM && ng == 0)) Fail("setgroups", errno);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) Fail("keeping capabilities", errno);
  if (SetResGid(gid) < 0) Fail("setgid", errno);
  if (SetResUid(uid) < 0) Fail("setuid", errno);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) Fail("clearing keepcaps", errno);
}

static uint64_t Mask(const Step &st, int set) {
  return (uint64_t)(uint32_t)Num(st, set * 2) | ((uint64_t)(uint32_t)Num(st, set * 2 + 1) << 32);
}

static void DoCaps(const Step &st) {
  uint64_t bounding = Mask(st, 0), effective = Mask(st, 1), permitted = Mask(st, 2), inheritable = Mask(st, 3), ambient = Mask(st, 4);
  int last = 40;
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char b[16] = {};
    if (read(fd, b, sizeof b - 1) > 0) last = atoi(b);
    close(fd);
  }
  if (Num(st, 10) == 1) {
    // Phase 1, while still root with CAP_SETPCAP: the bounding set.
    for (int c = 0; c <= last; c++) {
      if (!(bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) Fail("dropping from the bounding set", errno);
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
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) Fail("clearing ambient capabilities", errno);
  for (int c = 0; c <= last; c++) {
    // The kernel only allows ambient capabilities that are permitted and inheritable; like
    // runc, others in the ambient list are skipped rather than failing the container.
    uint64_t bit = 1ULL << c;
    if (!(ambient & bit) || !(permitted & bit) || !(inheritable & bit)) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EINVAL) Fail("raising an ambient capability", errno);
  }
}

// Runs a hook (createContainer, startContainer) from the init: the state on stdin, killed
// after its timeout. Allocation-free: argv/env pointer arrays were built before fork.
static void DoHook(const Step &st) {
  int argc = (int)Num(st, 0), envc = (int)Num(st, 1), timeout = (int)Num(st, 2), stateIndex = (int)Num(st, 3);
  const char *const *argv = &st.sp[2];
  // argv and env are NULL-separated inside sp: see BuildStep.
  const char *const *envp = &st.sp[2 + argc + 1];
  (void)envc;
  // The payload holds the states NUL-separated; stateIndex picks one.
  const char *state = g_payload;
  for (int i = 0; i < stateIndex && state < g_payload + g_payload_len; i++) state += strlen(state) + 1;
  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0) Fail("pipe", errno);
  pid_t pid = RawFork();
  if (pid < 0) Fail("fork", errno);
  if (pid == 0) {
    dup2(in[0], 0);
    execve(Str(st, 1), (char *const *)argv, (char *const *)envp);
    _exit(127);
  }
  close(in[0]);
  // The hook need not read its stdin: a hook that exits first must cost an EPIPE, not a
  // SIGPIPE that kills the init (signals are at their defaults here).
  sigset_t pipeSet, oldSet;
  sigemptyset(&pipeSet);
  sigaddset(&pipeSet, SIGPIPE);
  sigprocmask(SIG_BLOCK, &pipeSet, &oldSet);
  size_t len = strlen(state);
  const char *p = state;
  while (len > 0) {
    ssize_t w = write(in[1], p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    p += w;
    len -= (size_t)w;
  }
  close(in[1]);
  struct timespec now = {0, 0};
  while (sigtimedwait(&pipeSet, NULL, &now) > 0) {
  }
  sigprocmask(SIG_SETMASK, &oldSet, NULL);
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (timeout > 0 && pidfd >= 0) {
    struct pollfd pfd = {pidfd, POLLIN, 0};
    int rc;
    do rc = poll(&pfd, 1, timeout * 1000);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      Fail("hook timed out", ETIMEDOUT);
    }
  }
  if (pidfd >= 0) close(pidfd);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) Fail("waiting for the hook", errno);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) Fail("hook could not be executed", ENOEXEC);
    Fail(WIFEXITED(status) ? "hook exited with a non-zero status" : "hook was killed by a signal", ECANCELED);
  }
}

static void DoFindExec(const Step &st) {
  const char *name = Str(st, 0), *path = Str(st, 1);
  if (strchr(name, '/')) {
    if (strlen(name) >= sizeof g_exec_path) Fail("executable path too long", ENAMETOOLONG);
    strcpy(g_exec_path, name);
    struct stat sb;
    if (stat(name, &sb) < 0) Fail("exec: the executable is missing", errno);
    if (S_ISDIR(sb.st_mode)) Fail("exec: the executable is a directory", EISDIR);
#ifdef SYS_faccessat2
    // Checked here, as the process's own user, so that a file without execute permission fails
    // `create` or `exec` (as in runc) instead of the dmz's execve after start. Only EACCES
    // counts: a seccomp profile or an old kernel may refuse the call itself.
    long denied = syscall(SYS_faccessat2, AT_FDCWD, name, X_OK, AT_EACCESS);
    // (before Linux 5.8: the ids are already the process's own, real and effective alike)
    if (denied < 0 && errno == ENOSYS) denied = access(name, X_OK);
    if (denied < 0 && errno == EACCES) Fail("exec: no permission to execute it", EACCES);
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
  Fail("exec: executable file not found in $PATH", ENOENT);
}

static void DoWaitStart(const Step &st) {
  int fifo = g_base + (int)Num(st, 0);
  char path[64];
  snprintf(path, sizeof path, "self/fd/%d", fifo);
  int fd;
  do fd = openat(g_hostproc, path, O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) Fail("opening exec.fifo", errno);
  if (write(fd, "0", 1) != 1) Fail("writing exec.fifo", errno);
  close(fifo);
  // fd stays open (close-on-exec): `start` reads EOF once execve has happened.
  g_sync = fd;  // an exec failure is reported on the fifo from now on
}

static const char *g_dmz_argv[4096];

static void DoExec(const Step &st) {
  int argc = (int)Num(st, 0);
  int dmzSlot = (int)Num(st, 1, -1);
  const char *const *argv = &st.sp[0];
  const char *const *envp = &st.sp[argc + 1];
  const char *path = g_exec_path[0] ? g_exec_path : argv[0];
  if (g_hostproc >= 0) close(g_hostproc);
  if (dmzSlot >= 0 && argc + 3 < (int)(sizeof g_dmz_argv / sizeof g_dmz_argv[0])) {
    // Through the sealed dmz, so that /proc/PID/exe never names a host binary (CVE-2019-5736).
    g_dmz_argv[0] = "tsrunc-dmz";
    g_dmz_argv[1] = path;
    for (int i = 0; i < argc; i++) g_dmz_argv[i + 2] = argv[i];
    g_dmz_argv[argc + 2] = nullptr;
    syscall(SYS_execveat, g_base + dmzSlot, "", (char *const *)g_dmz_argv, (char *const *)envp, AT_EMPTY_PATH);
    int err = errno;
    if (err == EPERM || err == EACCES || err == ENOSYS) {
      // A seccomp profile may refuse execveat and allow execve (runc never calls execveat):
      // the same sealed file, by its path in the container's /proc.
      char self[64];
      snprintf(self, sizeof self, "/proc/self/fd/%d", g_base + dmzSlot);
      execve(self, (char *const *)g_dmz_argv, (char *const *)envp);
    }
    Fail("exec of the dmz", err);
  }
  execve(path, (char *const *)argv, (char *const *)envp);
  Fail("exec", errno);
}

static void WriteFile(const char *path, const char *content) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) Fail("open", errno);
  // Sysctls, labels, oom_score_adj: only ever into procfs, never into whatever a mount of the
  // config or the image put over it (CVE-2019-16884, CVE-2019-19921).
  struct statfs sfs;
  if (strncmp(path, "/proc/", 6) == 0 && (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)) Fail("the file is not on procfs", EXDEV);
  size_t len = strlen(content);
  if (write(fd, content, len) != (ssize_t)len) Fail("write", errno);
  close(fd);
}

static void RunStep(const Step &st) {
  switch (st.op) {
    case OP_SYNC:
      Sync(Str(st, 0));
      break;
    case OP_SETNS: {
      int fd = open(Str(st, 0), O_RDONLY | O_CLOEXEC);
      if (fd < 0) Fail("open", errno);
      if (setns(fd, (int)Num(st, 0)) < 0) Fail("setns", errno);
      close(fd);
      break;
    }
    case OP_UNSHARE:
      if (unshare((int)Num(st, 0)) < 0) Fail("unshare", errno);
      break;
    case OP_WRITE_FILE:
      WriteFile(Str(st, 0), Str(st, 1));
      break;
    case OP_FORK: {
      // The child waits until this process has reported its pid, so that "pid N" reaches
      // the parent before anything the child says.
      int gate[2];
      if (pipe2(gate, O_CLOEXEC) < 0) Fail("pipe", errno);
      pid_t pid = RawFork();
      if (pid < 0) Fail("fork", errno);
      if (pid > 0) {
        char buf[64];
        int len = snprintf(buf, sizeof buf, "pid %d", pid);
        SendRaw(buf, (size_t)len);
        _exit(0);  // closes gate[1]: the child reads EOF
      }
      close(gate[1]);
      char c;
      while (read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }
      close(gate[0]);
      // No death signal here: the parent is the process that just exited. A vanished
      // runtime is seen as EOF on the sync socket at the next step that waits on it.
      break;
    }
    case OP_BECOME_ROOT:
      if (SetResGid(0) < 0) Fail("setresgid", errno);
      if (SetResUid(0) < 0) Fail("setresuid", errno);
      break;
    case OP_ROOT_PROPAGATION:
      if (mount(NULL, st.s.empty() ? "/" : Str(st, 0), NULL, (unsigned long)Num(st, 0), NULL) < 0) Fail("mount", errno);
      break;
    case OP_BIND_ROOTFS: {
      if (mount(Str(st, 0), Str(st, 0), NULL, MS_BIND | MS_REC, NULL) < 0) Fail("mount", errno);
      g_rootfd = open(Str(st, 0), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (g_rootfd < 0) Fail("open", errno);
      break;
    }
    case OP_MOUNT:
      DoMount(st);
      break;
    case OP_MKDIR:
      DoMkdir(st);
      break;
    case OP_MKNOD:
      DoMknod(st);
      break;
    case OP_BIND_DEVICE: {
      int target = OpenInRoot(Str(st, 0), 1, true, true);
      if (target < 0) Fail("resolving the device path", errno);
      int tree = open_tree(AT_FDCWD, Str(st, 1), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (tree < 0) Fail("open_tree", errno);
      if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) Fail("move_mount", errno);
      close(tree);
      close(target);
      break;
    }
    case OP_SYMLINK:
      DoSymlink(st);
      break;
    case OP_PIVOT_ROOT:
      DoPivotRoot();
      break;
    case OP_MOVE_ROOT:
      DoMoveRoot();
      break;
    case OP_CHROOT:
      DoChroot(st);
      break;
    case OP_MASK_PATH:
      DoMaskPath(st);
      break;
    case OP_READONLY_PATH:
      DoReadonlyPath(st);
      break;
    case OP_REMOUNT_ROOT_RO:
      DoRemountRootRo();
      break;
    case OP_SETHOSTNAME:
      if (sethostname(Str(st, 0), strlen(Str(st, 0))) < 0) Fail("sethostname", errno);
      break;
    case OP_SETDOMAINNAME:
      if (setdomainname(Str(st, 0), strlen(Str(st, 0))) < 0) Fail("setdomainname", errno);
      break;
    case OP_CONSOLE:
      DoConsole(st);
      break;
    case OP_SETSID:
      if (setsid() < 0 && errno != EPERM) Fail("setsid", errno);
      break;
    case OP_RLIMIT: {
      struct rlimit rl;
      rl.rlim_cur = st.n[1] < 0 ? RLIM_INFINITY : (rlim_t)st.n[1];
      rl.rlim_max = st.n[2] < 0 ? RLIM_INFINITY : (rlim_t)st.n[2];
      if (setrlimit((int)Num(st, 0), &rl) < 0) Fail("setrlimit", errno);
      break;
    }
    case OP_CHDIR: {
      if (chdir(Str(st, 0)) < 0) Fail("chdir", errno);
      // A cwd outside the root (reached through a leaked host fd) reads as "(unreachable)".
      // (A seccomp profile loaded earlier may forbid getcwd itself: then there is nothing to
      // check with, and the fds that could lead outside are closed at exec anyway.)
      char cwd[4096];
      if (syscall(SYS_getcwd, cwd, sizeof cwd) < 0) {
        if (errno != EPERM && errno != EACCES && errno != ENOSYS) Fail("getcwd", errno);
      } else if (cwd[0] != '/') {
        Fail("the working directory is outside the container", EPERM);
      }
      break;
    }
    case OP_UMASK:
      umask((mode_t)Num(st, 0));
      break;
    case OP_USER:
      DoUser(st);
      break;
    case OP_CAPS:
      DoCaps(st);
      break;
    case OP_NO_NEW_PRIVS:
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) Fail("prctl", errno);
      break;
    case OP_HOOK:
      DoHook(st);
      break;
    case OP_FIND_EXEC:
      DoFindExec(st);
      break;
    case OP_READY:
      // From here the init outlives the runtime process that made it.
      prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
      SendRaw("ready", 5);
      close(g_sync);
      g_sync = -1;
      break;
    case OP_WAIT_START:
      DoWaitStart(st);
      break;
    case OP_EXEC:
      DoExec(st);
      break;
    case OP_CLOSE_FDS:
      if (syscall(SYS_close_range, (unsigned)Num(st, 0), ~0U, CLOSE_RANGE_CLOEXEC) < 0) Fail("close_range", errno);
      break;
    case OP_DUMPABLE:
      if (prctl(PR_SET_DUMPABLE, (unsigned long)Num(st, 0), 0, 0, 0) < 0) Fail("prctl", errno);
      break;
    case OP_PERSONALITY:
      if (personality((unsigned long)Num(st, 0)) < 0) Fail("personality", errno);
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
      attr.sched_policy = (uint32_t)Num(st, 0);
      attr.sched_priority = (uint32_t)Num(st, 1);
      attr.sched_nice = (int32_t)Num(st, 2);
      attr.sched_flags = (uint64_t)Num(st, 3);
      attr.sched_runtime = (uint64_t)Num(st, 4);
      attr.sched_deadline = (uint64_t)Num(st, 5);
      attr.sched_period = (uint64_t)Num(st, 6);
      if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0) Fail("sched_setattr", errno);
      break;
    }
    case OP_IOPRIO:
      if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (int)Num(st, 0)) < 0) Fail("ioprio_set", errno);
      break;
    case OP_SECCOMP: {
      struct sock_fprog prog;
      prog.len = (unsigned short)(st.b.size() / sizeof(struct sock_filter));
      prog.filter = (struct sock_filter *)st.b.data();
      unsigned flags = (unsigned)Num(st, 0);
      long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
      if (listener < 0) Fail("seccomp", errno);
      if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        // The parent forwards the listener to the container's listenerPath.
        SendFdSync("seccomp", (int)listener);
        close((int)listener);
      }
      break;
    }
    case OP_SESSION_KEYRING:
      // KEYCTL_JOIN_SESSION_KEYRING; kernels built without keys support are not an error.
      if (syscall(SYS_keyctl, 1, Str(st, 0), 0, 0, 0) < 0 && errno != ENOSYS) Fail("keyctl", errno);
      break;
    default:
      Fail("unknown step", EINVAL);
  }
}

// Moves the plan's fds to slots base..base+k-1 and closes every other fd above the
// caller's preserved ones (Node's epoll, the state lock, ...).
static void ArrangeFds(const Program &prog) {
  int k = (int)prog.fds.size();
  int tmp[16];
  for (int i = 0; i < k; i++) {
    tmp[i] = fcntl(prog.fds[i], F_DUPFD_CLOEXEC, g_base + k);
    if (tmp[i] < 0) _exit(120);
  }
  for (int i = 0; i < k; i++) {
    if (dup3(tmp[i], g_base + i, O_CLOEXEC) < 0) _exit(121);
  }
  syscall(SYS_close_range, (unsigned)(g_base + k), ~0U, 0);
  // Node marks its own stdio close-on-exec; the container must keep 0-2 and the preserved fds.
  for (int fd = 0; fd < g_base; fd++) fcntl(fd, F_SETFD, 0);
}

[[noreturn]] static void ChildMain(const Program &prog) {
  // Node's handlers must not run here, and the container starts with a clean mask.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  g_base = 3 + prog.preserve;
  ArrangeFds(prog);
  g_sync = g_base;
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  g_hostproc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (g_step = 0; g_step < (int)prog.steps.size(); g_step++) RunStep(prog.steps[g_step]);
  _exit(0);
}

// ---- parent side ----

static bool BuildProgram(Napi::Env env, Napi::Array steps, Napi::Array fds, int preserve, Program &prog) {
  prog.preserve = preserve;
  for (uint32_t i = 0; i < fds.Length(); i++) prog.fds.push_back(fds.Get(i).As<Napi::Number>().Int32Value());
  if (prog.fds.size() > 16) {
    Napi::TypeError::New(env, "too many fds for the executor").ThrowAsJavaScriptException();
    return false;
  }
  prog.steps.resize(steps.Length());
  for (uint32_t i = 0; i < steps.Length(); i++) {
    Napi::Object o = steps.Get(i).As<Napi::Object>();
    Step &st = prog.steps[i];
    st.op = o.Get("op").As<Napi::Number>().Int32Value();
    if (st.op <= 0 || st.op >= OP_COUNT) {
      Napi::TypeError::New(env, "unknown opcode in plan step " + std::to_string(i)).ThrowAsJavaScriptException();
      return false;
    }
    Napi::Array s = o.Get("s").As<Napi::Array>();
    Napi::Array n = o.Get("n").As<Napi::Array>();
    for (uint32_t j = 0; j < s.Length(); j++) {
      Napi::Value v = s.Get(j);
      // null entries separate lists (argv | env) and become NULL pointers.
      st.s.push_back(v.IsNull() ? std::string("\x01null") : v.As<Napi::String>().Utf8Value());
    }
    for (uint32_t j = 0; j < n.Length(); j++) st.n.push_back(n.Get(j).As<Napi::Number>().DoubleValue());
    if (o.Has("b") && o.Get("b").IsBuffer()) {
      Napi::Buffer<uint8_t> b = o.Get("b").As<Napi::Buffer<uint8_t>>();
      st.b.assign(b.Data(), b.Data() + b.Length());
    }
  }
  for (Step &st : prog.steps) {
    for (const std::string &str : st.s) st.sp.push_back(str == "\x01null" ? nullptr : str.c_str());
    st.sp.push_back(nullptr);
  }
  return true;
}

// spawn(steps, fds, preserve) -> pid of the child running the plan.
static Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  static Program prog;  // must outlive fork in the child; the parent rebuilds it per call
  prog = Program();
  if (!BuildProgram(env, info[0].As<Napi::Array>(), info[1].As<Napi::Array>(), info[2].As<Napi::Number>().Int32Value(), prog)) {
    return env.Undefined();
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = RawFork();
  if (pid == 0) ChildMain(prog);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (pid < 0) return ThrowErrno(env, "fork", err);
  return Napi::Number::New(env, pid);
}

// socketpair() -> [parentFd, childFd], SOCK_SEQPACKET, close-on-exec.
static Napi::Value SocketPair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return ThrowErrno(env, "socketpair", errno);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, sv[0]);
  out.Set(1u, sv[1]);
  return out;
}

// recv(fd, timeoutMs) -> string message, "" on EOF, null on timeout.
static Napi::Value RecvMessage(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int timeout = info[1].As<Napi::Number>().Int32Value();
  struct pollfd p = {fd, POLLIN, 0};
  int rc;
  do rc = poll(&p, 1, timeout);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return ThrowErrno(env, "poll", errno);
  if (rc == 0) return env.Null();
  std::vector<char> buf(65536);
  char control[CMSG_SPACE(sizeof(int))] = {};
  struct iovec iov = {buf.data(), buf.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == ECONNRESET) return Napi::String::New(env, "");
    return ThrowErrno(env, "recv", errno);
  }
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  if (cmsg != nullptr && cmsg->cmsg_type == SCM_RIGHTS) {
    // A message carrying an fd: {text, fd}.
    int passed;
    memcpy(&passed, CMSG_DATA(cmsg), sizeof passed);
    Napi::Object out = Napi::Object::New(env);
    out.Set("text", Napi::String::New(env, buf.data(), (size_t)n));
    out.Set("fd", passed);
    return out;
  }
  return Napi::String::New(env, buf.data(), (size_t)n);
}

// sendWithFd(socket, text, fd): one message with an fd attached (SCM_RIGHTS).
static Napi::Value SendWithFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string text = info[1].As<Napi::String>().Utf8Value();
  if (SendWithFdRaw(info[0].As<Napi::Number>().Int32Value(), text.data(), text.size(), info[2].As<Napi::Number>().Int32Value()) < 0) {
    return ThrowErrno(env, "sendmsg", errno);
  }
  return env.Undefined();
}

// send(fd, message)
static Napi::Value SendMessage(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string msg = info[1].As<Napi::String>().Utf8Value();
  ssize_t n;
  do n = send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, "send", errno);
  return env.Undefined();
}

// waitpid(pid, nohang) -> {pid, exitCode, signal} or null when nohang and still running.
static Napi::Value WaitPid(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  bool nohang = info[1].As<Napi::Boolean>().Value();
  int status = 0;
  pid_t rc;
  do rc = waitpid(pid, &status, nohang ? WNOHANG : 0);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return ThrowErrno(env, "waitpid", errno);
  if (rc == 0) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", rc);
  out.Set("exitCode", WIFEXITED(status) ? Napi::Value(Napi::Number::New(env, WEXITSTATUS(status))) : env.Null());
  out.Set("signal", WIFSIGNALED(status) ? Napi::Value(Napi::Number::New(env, WTERMSIG(status))) : env.Null());
  return out;
}

// mkfifo(path, mode)
static Napi::Value MkFifo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (mkfifo(path.c_str(), (mode_t)info[1].As<Napi::Number>().Uint32Value()) < 0) return ThrowErrno(env, "mkfifo", errno);
  return env.Undefined();
}

// openPath(path) -> O_PATH|O_CLOEXEC fd (Node's fs cannot open O_PATH)
static Napi::Value OpenPath(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, "open", errno);
  return Napi::Number::New(env, fd);
}

// setSubreaper(on)
static Napi::Value SetSubreaper(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (prctl(PR_SET_CHILD_SUBREAPER, info[0].As<Napi::Boolean>().Value() ? 1 : 0, 0, 0, 0) < 0) return ThrowErrno(env, "prctl", errno);
  return env.Undefined();
}

void RegisterExecutor(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("recvMessage", Napi::Function::New(env, RecvMessage, "recvMessage"));
  exports.Set("sendMessage", Napi::Function::New(env, SendMessage, "sendMessage"));
  exports.Set("sendWithFd", Napi::Function::New(env, SendWithFd, "sendWithFd"));
  exports.Set("waitPid", Napi::Function::New(env, WaitPid, "waitPid"));
  exports.Set("mkfifo", Napi::Function::New(env, MkFifo, "mkfifo"));
  exports.Set("openPath", Napi::Function::New(env, OpenPath, "openPath"));
  exports.Set("setSubreaper", Napi::Function::New(env, SetSubreaper, "setSubreaper"));
}

}  // namespace tsrunc
