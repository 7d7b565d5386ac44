// See spawn.h. No process that sets up or joins a container is ever a copy of node (nor of the
// front): the child shares its parent's memory only until it execs tsrunc-init, and makes
// nothing but system calls until then.
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tsrunc {

namespace {

// What the child needs, prepared by the parent: the child only reads it and makes system calls
// (it shares the parent's memory until it execs).
struct SpawnArgs {
  int fds[kSpawnMaxSlots];
  int count;  // fds[count-1] is tsrunc-init's memfd, the only one left close-on-exec
  int base;   // the first slot; 0..base-1 are stdio and the caller's preserved fds
  const char *argv[4];
  const char *envp[1];
  int err;  // set by the child when it could not exec
  const char *what;
};

int SpawnChild(void *p) {
  SpawnArgs *a = static_cast<SpawnArgs *>(p);
  int top = a->base + a->count;
  int tmp[kSpawnMaxSlots];
  // Out of the way first (a source may sit on a target slot), then into the slots.
  for (int i = 0; i < a->count; i++) {
    tmp[i] = fcntl(a->fds[i], F_DUPFD_CLOEXEC, top);
    if (tmp[i] < 0) {
      a->err = errno;
      a->what = "fcntl";
      _exit(127);
    }
  }
  for (int i = 0; i < a->count; i++) {
    if (dup3(tmp[i], a->base + i, i == a->count - 1 ? O_CLOEXEC : 0) < 0) {
      a->err = errno;
      a->what = "dup3";
      _exit(127);
    }
  }
  // Everything else of the parent's (node's epoll, eventfds, the state lock, libuv's pipes; the
  // front's server socket and signal pipe) is gone at once.
  syscall(SYS_close_range, (unsigned)top, ~0U, 0);
  // Node marks every fd close-on-exec when it starts: stdio and the caller's preserved fds
  // (checked by the CLI to be the caller's) go on.
  for (int fd = 0; fd < a->base; fd++) fcntl(fd, F_SETFD, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  syscall(SYS_execveat, a->base + a->count - 1, "", (char *const *)a->argv, (char *const *)a->envp, AT_EMPTY_PATH);
  a->err = errno;
  a->what = "execveat of tsrunc-init";
  _exit(127);
}

alignas(64) char g_childStack[64 * 1024];

struct ProgramArgs {
  int fds[kProgramMaxFds];
  int count;
  const char *file;
  const char *const *argv;
  const char *const *envp;
  int err;
  const char *what;
};

int ProgramChild(void *p) {
  ProgramArgs *a = static_cast<ProgramArgs *>(p);
  int tmp[kProgramMaxFds];
  for (int i = 0; i < a->count; i++) {
    tmp[i] = a->fds[i] >= 0 ? fcntl(a->fds[i], F_DUPFD_CLOEXEC, a->count) : open("/dev/null", O_RDWR | O_CLOEXEC);
    if (tmp[i] < 0) {
      a->err = errno;
      a->what = a->fds[i] >= 0 ? "fcntl" : "open /dev/null";
      _exit(127);
    }
  }
  for (int i = 0; i < a->count; i++) {
    if (dup3(tmp[i], i, 0) < 0) {
      a->err = errno;
      a->what = "dup3";
      _exit(127);
    }
  }
  syscall(SYS_close_range, (unsigned)a->count, ~0U, 0);
  // The handler table is this child's own (no CLONE_SIGHAND): defaults, then nothing blocked.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(a->file, (char *const *)a->argv, (char *const *)a->envp);
  a->err = errno;
  a->what = "execve";
  _exit(127);
}

// clone(CLONE_VM|CLONE_VFORK) of `fn` with every signal blocked around it (no handler of the
// parent's may run in the child, which shares its memory until it execs; the child inherits the
// mask and clears it after). A child that set *childErr could not exec: it is reaped and its
// errno and step returned as *err and *what, with -1.
pid_t CloneVforked(int (*fn)(void *), void *arg, const int *childErr, const char *const *childWhat, int *err,
                   const char **what) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = clone(fn, g_childStack + sizeof g_childStack, CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
  int cloneErr = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    *err = cloneErr;
    *what = "clone";
    return -1;
  }
  if (*childErr != 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *err = *childErr;
    *what = *childWhat;
    return -1;
  }
  return pid;
}

// "123" without the heap (the front and the addon alike).
void Decimal(int v, char *out) {
  char tmp[16];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
}

}  // namespace

int SealedMemfd(const char *name, const uint8_t *data, size_t len) {
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  for (size_t done = 0; done < len;) {
    ssize_t w = write(fd, data + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int err = errno;
      close(fd);
      errno = err;
      return -1;
    }
    done += (size_t)w;
  }
  if (fcntl(fd, F_ADD_SEALS, kSpawnSeals) < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

bool FullySealed(int fd) {
  int seals = fcntl(fd, F_GET_SEALS);
  return seals >= 0 && (seals & kSpawnSeals) == kSpawnSeals;
}

pid_t SpawnInit(int planFd, int initFd, const int *fds, int count, int preserve, int *err, const char **what) {
  if (preserve < 0 || count < 1 || count > kSpawnMaxSlots - 2) {
    *err = EINVAL;
    *what = "spawn: bad fd layout";
    return -1;
  }
  SpawnArgs a = {};
  a.base = 3 + preserve;
  for (int i = 0; i < count; i++) a.fds[a.count++] = fds[i];
  int planSlot = a.base + a.count;
  a.fds[a.count++] = planFd;
  a.fds[a.count++] = initFd;
  char planArg[16], syncArg[16];
  Decimal(planSlot, planArg);
  Decimal(a.base, syncArg);
  a.argv[0] = "tsrunc-init";
  a.argv[1] = planArg;
  a.argv[2] = syncArg;
  a.argv[3] = nullptr;
  a.envp[0] = nullptr;
  // (tsrunc-init clears the signal mask the child inherits)
  return CloneVforked(SpawnChild, &a, &a.err, &a.what, err, what);
}

pid_t SpawnProgram(const char *file, const char *const *argv, const char *const *envp, const int *fds, int count,
                   int *err, const char **what) {
  if (count < 0 || count > kProgramMaxFds) {
    *err = EINVAL;
    *what = "spawn: too many fds";
    return -1;
  }
  ProgramArgs a = {};
  for (int i = 0; i < count; i++) a.fds[i] = fds[i];
  a.count = count;
  a.file = file;
  a.argv = argv;
  a.envp = envp;
  return CloneVforked(ProgramChild, &a, &a.err, &a.what, err, what);
}

}  // namespace tsrunc
