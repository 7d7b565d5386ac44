// Starting tsrunc-init (native/init/) on a plan: the one way it is started, shared by the addon
// (native/executor.cc, the direct path: node's process is the parent) and bin/tsrunc
// (native/front/front.cc, the resident server's path: the front the caller started is the parent,
// as runc's process is; issue 17). Plain C++ and system calls only: the static front links it.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace tsrunc {

// The most fd slots tsrunc-init is given from 3+preserve up: the plan's fds, the plan's memfd and
// tsrunc-init's own memfd.
constexpr int kSpawnMaxSlots = 18;

// The seals a memfd must carry before its bytes are trusted as a plan or exec'd as tsrunc-init:
// nothing may write, grow or shrink it, and no seal may be taken off (F_SEAL_SEAL).
constexpr int kSpawnSeals = 0x0001 | 0x0002 | 0x0004 | 0x0008;  // F_SEAL_SEAL|SHRINK|GROW|WRITE

// A memfd holding `data`, sealed with kSpawnSeals (close-on-exec); -1 with errno on failure.
int SealedMemfd(const char *name, const uint8_t *data, size_t len);

// Whether fd is a memfd carrying at least kSpawnSeals.
bool FullySealed(int fd);

// Starts tsrunc-init from `initFd` (a sealed memfd) on the plan in `planFd` (a sealed memfd):
// clone(CLONE_VM|CLONE_VFORK) with every signal blocked around it; the child moves fds[0..count-1]
// onto slots 3+preserve+i, the plan onto the next slot and tsrunc-init's memfd onto the one after
// (close-on-exec), closes every fd from there up, clears close-on-exec on 0..3+preserve-1 (stdio
// and the caller's preserved fds), sets PR_SET_PDEATHSIG SIGKILL and execs tsrunc-init with the
// arguments "<plan slot> <sync slot>" and an empty environment. Returns the child's pid, or -1
// with *err (an errno) and *what (the call that failed) set; a child that could not exec has been
// reaped by then. The caller closes nothing it passed.
pid_t SpawnInit(int planFd, int initFd, const int *fds, int count, int preserve, int *err, const char **what);

// The most fds SpawnProgram places.
constexpr int kProgramMaxFds = 32;

// Starts `file` (an absolute path) with `argv` and `envp` (null-terminated), the child's fd i
// being fds[i] for i < count (fds[i] < 0: /dev/null) and nothing else open: the same clone as
// SpawnInit, every signal back to its default disposition and none blocked before the exec (node
// ignores SIGPIPE; a program must not inherit that), PR_SET_PDEATHSIG SIGKILL. Used for helper
// programs tsrunc drives (criu swrk): they get exactly the fds they are meant to. Returns the
// pid or -1 with *err and *what set (a child that could not exec has been reaped).
pid_t SpawnProgram(const char *file, const char *const *argv, const char *const *envp, const int *fds, int count,
                   int *err, const char **what);

}  // namespace tsrunc
