#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

namespace tsrunc {

bool ReadFile(const std::string &path, std::string *out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  out->clear();
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > (1 << 20)) break;
  }
  close(fd);
  return true;
}

// The value of `key:` in a /proc/PID/status text ("" when absent).
std::string StatusField(const std::string &status, const char *key) {
  std::string k = std::string("\n") + key + ":";
  size_t at = ("\n" + status).find(k);
  if (at == std::string::npos) return "";
  size_t start = at + k.size() - 1;
  size_t end = status.find('\n', start);
  return status.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

static bool SameInode(const std::string &a, const std::string &b) {
  struct stat x, y;
  return stat(a.c_str(), &x) == 0 && stat(b.c_str(), &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

// Why the peer is not one this server serves ("" when it is): it must be this process's equal,
// so that nothing the worker does on its behalf is more than it could do itself.
std::string PeerRefusal(int conn, pid_t *peer_pid) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) return "no peer credentials";
  if (cred.uid != geteuid()) return "uid " + std::to_string(cred.uid) + " is not the server's";
  if (cred.gid != getegid()) return "gid " + std::to_string(cred.gid) + " is not the server's";
  int pidfd = -1;
  len = sizeof pidfd;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0 || pidfd < 0) return "no SO_PEERPIDFD (Linux 6.5)";
  std::string proc = "/proc/" + std::to_string(cred.pid);
  std::string why;
  std::string mine, theirs;
  if (!ReadFile("/proc/self/status", &mine) || !ReadFile(proc + "/status", &theirs))
    why = "cannot read the peer's status";
  for (const char *key : {"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                          "Seccomp", "Seccomp_filters"})
    if (why.empty() && StatusField(mine, key) != StatusField(theirs, key)) why = std::string("its ") + key + " differ";
  for (const char *ns : {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"})
    if (why.empty() && !SameInode(std::string("/proc/self/ns/") + ns, proc + "/ns/" + ns))
      why = std::string("another ") + ns + " namespace";
  if (why.empty() && !SameInode("/proc/self/root", proc + "/root")) why = "another root directory";
  std::string a, b;
  bool la = ReadFile("/proc/self/attr/current", &a), lb = ReadFile(proc + "/attr/current", &b);
  if (why.empty() && (la != lb || a != b)) why = "another security label";
  // All of the above was read of the process that connected: its pidfd still names that pid.
  std::string fdinfo;
  if (why.empty() && (!ReadFile("/proc/self/fdinfo/" + std::to_string(pidfd), &fdinfo) ||
                      StatusField(fdinfo, "Pid") != "\t" + std::to_string(cred.pid)))
    why = "the peer is gone";
  close(pidfd);
  *peer_pid = cred.pid;
  return why;
}

}  // namespace tsrunc
