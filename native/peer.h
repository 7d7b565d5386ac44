// Whether the process at the other end of a unix socket is this process's equal: the same uid,
// gids, capabilities, no_new_privs, seccomp, namespaces, root and security label. The resident
// server serves only such callers (native/daemon.cc), and the front (native/front/front.cc) hands
// its command, and lets a worker start an init, only to such a server. Shared by the addon and
// the static front (no Node here).
#pragma once

#include <sys/types.h>

#include <string>

namespace tsrunc {

// The contents of a small file (at most ~1 MiB); false when it cannot be read.
bool ReadFile(const std::string &path, std::string *out);

// The value of `key:` in a /proc/PID/status text ("" when absent).
std::string StatusField(const std::string &status, const char *key);

// Why the peer of the connected unix socket `conn` is not this process's equal ("" when it is);
// *peer_pid is its pid (SO_PEERCRED: for a listening server, the process that listened).
std::string PeerRefusal(int conn, pid_t *peer_pid);

}  // namespace tsrunc
