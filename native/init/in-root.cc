// Path resolution inside the container's rootfs: every lookup is made with openat2 from an fd on
// the rootfs with RESOLVE_IN_ROOT, so a symlink in the image (or one swapped in while the
// container is set up) cannot lead outside it (CVE-2021-30465, CVE-2024-45310).
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

namespace tsrunc {

int g_rootfd = -1;

// openat2 answers EAGAIN when a rename elsewhere in the tree raced the walk (it cannot then be
// sure ".." stayed inside): walk again, a bounded number of times.
static int Resolve(const char *path, bool noSymlinks) {
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (noSymlinks ? RESOLVE_NO_SYMLINKS : 0);
  int fd = -1;
  for (int tries = 0; tries < 128; tries++) {
    fd = (int)syscall(SYS_openat2, g_rootfd, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return fd;
}

// What is missing is created with *at() calls on the already-resolved parent. A dangling symlink
// on the way is replaced by its target, read as a path inside the rootfs, and the walk starts
// again (as runc's MkdirAllInRoot): /mnt/l -> /tmp/x creates rootfs/tmp/x, never the host's.
int OpenInRoot(const char *path, int kind, bool create, bool noSymlinks) {
  int fd = Resolve(path, noSymlinks);
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
      int next = Resolve(buf, noSymlinks);
      if (next < 0 && errno == ENOENT) {
        if (last && kind == 1) {
          int f = openat(dir, p, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
          if (f >= 0)
            close(f);
          else if (errno != EEXIST) {
            close(dir);
            return -1;
          }
        } else if (mkdirat(dir, p, 0755) < 0 && errno != EEXIST) {
          close(dir);
          return -1;
        }
        next = Resolve(buf, noSymlinks);
        ssize_t n;
        if (next < 0 && errno == ENOENT && !noSymlinks && (n = readlinkat(dir, p, link, sizeof link - 1)) >= 0) {
          link[n] = '\0';
          // The new path: the link's target (from the link's directory when relative), then what
          // followed the link.
          int m = snprintf(next_path, sizeof next_path, "%.*s%s%s%s", link[0] == '/' ? 0 : (int)(p - buf), buf, link,
                           end ? "/" : "", end ? end + 1 : "");
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

int OpenParentInRoot(const char *path, char *name, size_t nameSize) {
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
  if (strlen(base) >= nameSize || base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
    errno = base[0] == '\0' || base[0] == '.' ? EINVAL : ENAMETOOLONG;
    return -1;
  }
  strcpy(name, base);
  if (slash)
    *(slash == dir ? slash + 1 : slash) = '\0';
  else
    strcpy(dir, "/");
  return OpenInRoot(dir, 0, true, false);
}

}  // namespace tsrunc
