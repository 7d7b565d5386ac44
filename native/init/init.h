// tsrunc-init: the program that sets up a container's init, or a process joining a running
// container, from a plan (see docs/architecture.md). The runtime (Node) clones and, before
// anything else, execs this program from a sealed memfd copy: so no process that sets up or
// joins a container is a copy of node, holds Node's memory or fds, or has a host binary behind
// /proc/PID/exe (CVE-2019-5736). It is static, single-threaded and free of Node.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

namespace tsrunc {

// One step of the plan: {op, strings, numbers, blob}, as src/plan/wire.ts encodes it.
struct Step {
  int op = 0;
  std::vector<std::string> s;
  std::vector<bool> isNull;  // s[i] is a list separator (argv | env)
  std::vector<int64_t> n;
  std::vector<const char *> sp;  // pointers into s (NULL for separators), NULL-terminated
  std::vector<uint8_t> b;        // binary payload (a seccomp BPF program)
};

struct Plan {
  int base = 0;   // first fd slot
  int slots = 0;  // fds base..base+slots-1 belong to the plan
  std::vector<Step> steps;
};

// Parses the plan's bytes (layout in ops.h); false with *why set when they are not a plan.
bool ParsePlan(const std::vector<uint8_t> &bytes, Plan &plan, const char **why);

// ---- the channel to the parent ----
extern int g_base;   // first fd slot
extern int g_slots;  // fds g_base..g_base+g_slots-1 are the plan's slots
extern int g_sync;   // the sync socket (after wait-start: exec.fifo)
extern int g_step;   // index of the running step, for error messages
// A pidfd of the runtime process that started this one (-1: none): watched beside the sync
// socket while the setup waits on it. Closed once the setup no longer waits (ready).
extern int g_runtime;
void ForgetRuntime();

void SendRaw(const char *buf, size_t len);
// Reports "what: <errno text>" for the running step (or, with nobody listening, on stderr) and exits.
[[noreturn]] void Fail(const char *what, int err);
// The same with the whole message given (runc's wording where callers match it).
[[noreturn]] void FailText(const char *message, int err);
// errno's text in Go's wording (lower case: "no such file or directory"), as runc's callers read it.
const char *ErrnoText(int err, char *buf, size_t size);
// "sync TAG", then waits for "ack"; the data an ack carries (an fd holding it) replaces payload.
void Sync(const char *tag, std::string *payload);
// Waits for the parent's "ack" (exits on anything else: "abort", or the parent gone).
void WaitAck(std::string *payload);
// "sync TAG" with an fd attached, then waits for "ack".
void SendFdSync(const char *tag, int fd);

// ---- paths inside the rootfs ----
extern int g_rootfd;  // the rootfs (O_PATH) while mounts are set up
// Opens `path` inside the rootfs without ever leaving it (kind 1: create the last component as a
// file, 0: as a directory); -1 with errno on failure.
int OpenInRoot(const char *path, int kind, bool create, bool noSymlinks);
// The parent directory (inside the rootfs) of `path`, and its last component in `name`.
int OpenParentInRoot(const char *path, char *name, size_t nameSize);

// The fd of slot number n[i] of a step; fails the step when the plan names no such slot.
int SlotFd(int64_t slot);

// ---- the steps ----
void RunStep(const Step &st);

}  // namespace tsrunc
