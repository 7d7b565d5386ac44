// The runtime's side of the executor: starts tsrunc-init (native/init/) on a plan. (The socket
// and process calls the conversation needs are in sys.cc.)
//
// Spawn clones with CLONE_VM|CLONE_VFORK (nothing of Node's memory is copied, and the calling
// thread waits until the child has exec'd) and the child, before anything else, moves the plan's
// fds into their slots, closes every other fd of Node's, and execs tsrunc-init from a sealed
// memfd. No process that sets up or joins a container is ever a copy of node.
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "sys.h"

namespace tsrunc {

namespace {

constexpr int kMaxSlots = 18;

// What the child needs, prepared by the parent: the child only reads it and makes system calls
// (it shares the parent's memory until it execs).
struct SpawnArgs {
  int fds[kMaxSlots];
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
  int tmp[kMaxSlots];
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
  // Everything else of Node's (epoll, eventfds, the state lock, libuv's pipes) is gone at once.
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

// A memfd holding `data`, sealed against any change (close-on-exec).
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
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

alignas(64) char g_childStack[64 * 1024];

}  // namespace

// spawn(plan: Buffer, fds: number[], preserve, initFd) -> pid of tsrunc-init running the plan.
// fds land on slots 3+preserve+i; the plan (in a sealed memfd) on the next one.
static Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> plan = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Array fds = info[1].As<Napi::Array>();
  int preserve = info[2].As<Napi::Number>().Int32Value();
  int initFd = info[3].As<Napi::Number>().Int32Value();
  if (preserve < 0 || fds.Length() < 1 || fds.Length() > kMaxSlots - 2) {
    Napi::RangeError::New(env, "spawn: bad fd layout").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  SpawnArgs a = {};
  a.base = 3 + preserve;
  for (uint32_t i = 0; i < fds.Length(); i++) a.fds[a.count++] = fds.Get(i).As<Napi::Number>().Int32Value();
  int planFd = SealedMemfd("tsrunc-plan", plan.Data(), plan.Length());
  if (planFd < 0) return ThrowErrno(env, "memfd_create (the plan)", errno);
  int planSlot = a.base + a.count;
  a.fds[a.count++] = planFd;
  a.fds[a.count++] = initFd;
  std::string planArg = std::to_string(planSlot), syncArg = std::to_string(a.base);
  a.argv[0] = "tsrunc-init";
  a.argv[1] = planArg.c_str();
  a.argv[2] = syncArg.c_str();
  a.argv[3] = nullptr;
  a.envp[0] = nullptr;
  // No signal handler of Node's may run in the child: everything is blocked around the clone
  // (the child inherits the mask; tsrunc-init clears it).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = clone(SpawnChild, g_childStack + sizeof g_childStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(planFd);
  if (pid < 0) return ThrowErrno(env, "clone", err);
  if (a.err != 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return ThrowErrno(env, a.what, a.err);
  }
  return Napi::Number::New(env, pid);
}

// sealedData(data: Buffer) -> a sealed memfd holding the bytes (close-on-exec): data that goes
// to tsrunc-init with a message (the states for its hooks), whatever its size.
static Napi::Value SealedData(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
  int fd = SealedMemfd("tsrunc-data", data.Data(), data.Length());
  if (fd < 0) return ThrowErrno(env, "memfd_create", errno);
  return Napi::Number::New(env, fd);
}

void RegisterExecutor(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("sealedData", Napi::Function::New(env, SealedData, "sealedData"));
}

}  // namespace tsrunc
