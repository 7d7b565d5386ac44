// The resident server's protocol (issue 17): what bin/tsrunc (native/front/front.cc) and a
// worker of `tsrunc daemon` (native/daemon.cc, src/daemon/) say to each other over the server's
// unix stream socket. src/daemon/protocol.ts names the same numbers (test/unit/daemon-protocol.test.ts
// checks that they agree). All integers are little-endian u32 (the host's order: both ends are
// on one host).
//
//   front  -> worker  REQUEST: header (DAEMON_REQUEST_WORDS u32), build id (DAEMON_BUILD_ID_LEN
//                      bytes), then argc + envc NUL-terminated strings
//   worker -> front   REPLY: DAEMON_REPLY_WORDS u32 then the worker's build id
//   front  -> worker  GO (one u32) carrying the fds: cwd, then each of stdin, stdout, stderr the
//                      front has open (as the request's fd_mask said). Only now may the command
//                      run; without it nothing is done, and no fd of the caller's was sent (a
//                      request left in a stuck server's queue holds none of its pipes open)
//   worker -> front   SPAWN (create, run and exec; at most one per connection): DAEMON_SPAWN_WORDS u32 with
//                      fds: a channel (one end of a SOCK_SEQPACKET pair, the worker keeps the other),
//                      the plan's sealed memfd, tsrunc-init's sealed memfd, then the plan's fd slots.
//                      The front starts tsrunc-init as the direct path's node would (native/spawn.cc),
//                      so that the container's init is the caller's grandchild as with runc, and
//                      answers on the channel:
//   front  -> worker  SPAWNED (on the channel): DAEMON_SPAWNED_WORDS u32
//   front  -> worker  CHILD (on the channel): DAEMON_CHILD_WORDS u32 for each child the front has
//                      reaped (the spawned one; as a subreaper, the processes reparented to it: a
//                      foreground run's init, an exec's process and their orphans), and once with
//                      pid 0 when it has no child left: the worker reads them as it would waitpid's
//   worker -> front   SIGNAL (on the channel): DAEMON_SIGNAL_WORDS u32: a signal the worker forwards
//                      (a foreground run's or exec's) to a process; the front sends it only to its
//                      own child or its spawned child's child, never reaped yet
//   server -> front   STATUS: DAEMON_STATUS_WORDS u32, sent by the server once the worker has exited,
//                      or has finished the command and given back everything of the caller's (a worker
//                      that serves again: src/daemon/reuse.ts)
#pragma once

#define DAEMON_PROTOCOL_VERSION 3
#define DAEMON_BUILD_ID_LEN 32

#define DAEMON_MAGIC_REQUEST 0x51525354u  // "TSRQ"
#define DAEMON_MAGIC_REPLY 0x59525354u    // "TSRY"
#define DAEMON_MAGIC_GO 0x4f475354u       // "TSGO"
#define DAEMON_MAGIC_STATUS 0x54535354u   // "TSST"
#define DAEMON_MAGIC_SPAWN 0x50535354u    // "TSSP"
#define DAEMON_MAGIC_SPAWNED 0x44535354u  // "TSSD"
#define DAEMON_MAGIC_CHILD 0x48435354u    // "TSCH"
#define DAEMON_MAGIC_SIGNAL 0x47535354u   // "TSSG"

// REQUEST header words: magic, version, length of the strings, argc, envc, umask, fd_mask.
#define DAEMON_REQUEST_WORDS 7
#define DAEMON_FD_STDIN 1u
#define DAEMON_FD_STDOUT 2u
#define DAEMON_FD_STDERR 4u
// The most bytes of strings a request may carry (argv and environment together).
#define DAEMON_MAX_STRINGS 4194304

// REPLY words: magic, version, kind, the worker's pid.
#define DAEMON_REPLY_WORDS 4
#define DAEMON_REPLY_READY 1     // the worker will run the command when it gets GO
#define DAEMON_REPLY_DIRECT 2    // not a command the server runs: take the direct path
#define DAEMON_REPLY_REFUSED 3   // the caller is not one the server serves (uid, namespaces, ...)
#define DAEMON_REPLY_MISMATCH 4  // another build: take the direct path

// STATUS words: magic, kind, value.
#define DAEMON_STATUS_WORDS 3
#define DAEMON_STATUS_EXITED 1    // value: the exit status
#define DAEMON_STATUS_SIGNALED 2  // value: the signal that killed the worker
#define DAEMON_STATUS_NONE 3      // CHILD only (pid 0): the front has no child left (ECHILD)

// SPAWN words: magic, the count of the plan's fd slots, preserve (the slots start at 3+preserve),
// flags (0 or DAEMON_SPAWN_SUBREAPER: the front becomes a child subreaper first, as the direct
// path's node does for a foreground run or exec). The fds carried are DAEMON_SPAWN_FIXED_FDS (channel, plan, tsrunc-init) + that count.
#define DAEMON_SPAWN_WORDS 4
#define DAEMON_SPAWN_FIXED_FDS 3
#define DAEMON_SPAWN_MAX_SLOTS 16
#define DAEMON_SPAWN_MAX_PRESERVE 65536
#define DAEMON_SPAWN_SUBREAPER 1u

// SPAWNED words: magic, the child's pid (0: none started), errno (0 when started).
#define DAEMON_SPAWNED_WORDS 3

// CHILD words: magic, pid, kind (DAEMON_STATUS_EXITED | DAEMON_STATUS_SIGNALED | DAEMON_STATUS_NONE), value.
#define DAEMON_CHILD_WORDS 4

// SIGNAL words: magic, pid, signal.
#define DAEMON_SIGNAL_WORDS 3

// Where `tsrunc daemon` listens and bin/tsrunc looks, unless told otherwise.
#define DAEMON_DEFAULT_SOCKET "/run/tsrunc-daemon/tsrunc.sock"

// How long the front waits for a worker's REPLY before it takes the direct path (an overloaded
// or stuck server), in milliseconds.
#define DAEMON_REPLY_TIMEOUT_MS 250

// The signals the front passes on to its worker while it waits (and a worker that serves again
// ignores between commands, where their default would end it: one the front passed on after the
// command's end must not reach the next one).
#define DAEMON_FORWARDED_SIGNALS SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCONT
