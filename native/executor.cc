// The runtime's side of the executor: starts tsrunc-init (native/init/) on a plan. (The socket
// and process calls the conversation needs are in sys.cc.)
//
// Spawn is SpawnInit (spawn.cc, shared with bin/tsrunc, which starts the same way a container's
// init that the resident server planned): clone with CLONE_VM|CLONE_VFORK (nothing of Node's
// memory is copied, and the calling thread waits until the child has exec'd); the child, before
// anything else, moves the plan's fds into their slots, closes every other fd of Node's, and
// execs tsrunc-init from a sealed memfd. No process that sets up or joins a container is ever a
// copy of node.
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

#include "spawn.h"
#include "sys.h"

namespace tsrunc {

// spawn(plan: Buffer, fds: number[], preserve, initFd) -> pid of tsrunc-init running the plan.
// fds land on slots 3+preserve+i; the plan (in a sealed memfd) on the next one.
static Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> plan = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Array fds = info[1].As<Napi::Array>();
  int preserve = info[2].As<Napi::Number>().Int32Value();
  int initFd = info[3].As<Napi::Number>().Int32Value();
  if (preserve < 0 || fds.Length() < 1 || fds.Length() > kSpawnMaxSlots - 2) {
    Napi::RangeError::New(env, "spawn: bad fd layout").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int slots[kSpawnMaxSlots];
  int count = 0;
  for (uint32_t i = 0; i < fds.Length(); i++) slots[count++] = fds.Get(i).As<Napi::Number>().Int32Value();
  int planFd = SealedMemfd("tsrunc-plan", plan.Data(), plan.Length());
  if (planFd < 0) return ThrowErrno(env, "memfd_create (the plan)", errno);
  int err = 0;
  const char *what = "";
  pid_t pid = SpawnInit(planFd, initFd, slots, count, preserve, &err, &what);
  close(planFd);
  if (pid < 0) return ThrowErrno(env, what, err);
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
