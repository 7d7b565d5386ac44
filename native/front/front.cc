// bin/tsrunc (issue 17): the executable clients exec. It is small and holds nothing of Node:
//
//  * the direct path, the default and the reference: exactly what the sh launcher that
//    scripts/build.mjs used to write did (the environment the way dash hands it on, without
//    NODE_OPTIONS, NODE_EXTRA_CA_CERTS and a caller's TSRUNC_CALLER_FDS; TSRUNC_CALLER_FDS
//    listing the fds the caller passed for --preserve-fds / LISTEN_FDS / --status-fd), then
//    exec of node on dist/boot.cjs with the same arguments;
//  * when a resident server (`tsrunc daemon`) is reachable, the same command answered by one of
//    its warm workers: argv, environment, cwd (an fd), stdin, stdout and stderr go over the
//    server's socket; the front waits, forwards signals, and exits as the worker did. Anything
//    short of a worker's READY for this very build (no socket, a directory others can reach,
//    another uid listening, a full server, a reply that is not exactly the protocol's) takes the
//    direct path; nothing has been done by then (the worker runs only on GO).
//
// Where node, the bundle and the socket are is written into tsrunc_front_config by
// scripts/build.mjs (scripts/front-config.mjs) when it installs this binary as bin/tsrunc.
// Every fd it opens is close-on-exec, and the socket is closed before node is exec'd.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "../fdpass.h"
#include "../peer.h"
#include "../spawn.h"
#include "protocol.h"

#define FRONT_CONFIG_MARKER "TSRUNC-FRONT-CONFIG-v1\n"

extern "C" {
// Patched in the installed copy: MARKER, then "key\0value\0" pairs, then an empty key.
__attribute__((used)) volatile char tsrunc_front_config[8192] = FRONT_CONFIG_MARKER;
}

extern char **environ;

namespace {

// The most fds looked at for --preserve-fds (MAX_PRESERVED_FDS of the sh launcher).
constexpr long kMaxPreservedFds = 65536;

struct Config {
  std::string node, boot, daemon, socket = DAEMON_DEFAULT_SOCKET, build;
  std::vector<std::string> flags;
  long reply_timeout_ms = DAEMON_REPLY_TIMEOUT_MS;
};

bool ReadConfig(Config *c) {
  static char buf[sizeof tsrunc_front_config];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = tsrunc_front_config[i];
  buf[sizeof buf - 1] = '\0';
  // (the marker is not compared: its only copy in the binary must be the one to patch)
  const char *p = buf + sizeof FRONT_CONFIG_MARKER - 1;
  const char *end = buf + sizeof buf - 1;
  while (p < end && *p != '\0') {
    const char *key = p;
    p += strlen(p) + 1;
    if (p >= end) return false;
    const char *value = p;
    p += strlen(p) + 1;
    if (strcmp(key, "node") == 0)
      c->node = value;
    else if (strcmp(key, "boot") == 0)
      c->boot = value;
    else if (strcmp(key, "daemon") == 0)
      c->daemon = value;
    else if (strcmp(key, "socket") == 0)
      c->socket = value;
    else if (strcmp(key, "build") == 0)
      c->build = value;
    else if (strcmp(key, "flag") == 0)
      c->flags.push_back(value);
    else if (strcmp(key, "reply-timeout-ms") == 0)
      c->reply_timeout_ms = strtol(value, nullptr, 10);
  }
  return !c->node.empty() && !c->boot.empty();
}

void Say(const char *a, const char *b = "", const char *c = "") {
  std::string s = std::string("tsrunc: ") + a + b + c + "\n";
  ssize_t r = write(2, s.data(), s.size());
  (void)r;
}

// ---- the environment, as dash hands it on -----------------------------------------------------

// dash's endofname: a name is [A-Za-z_][A-Za-z0-9_]*.
bool ShellName(const char *s, size_t len) {
  if (len == 0 || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))) return false;
  for (size_t i = 1; i < len; i++) {
    char ch = s[i];
    if (!(ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) return false;
  }
  return true;
}

class Env {
 public:
  // dash imports only entries NAME=VALUE with a shell name; a later entry of a name wins.
  void Import(char **envp) {
    for (char **e = envp; *e != nullptr; e++) {
      const char *eq = strchr(*e, '=');
      if (eq == nullptr || !ShellName(*e, eq - *e)) continue;
      Set(std::string(*e, eq - *e), eq + 1);
    }
  }
  const std::string *Get(const std::string &name) const {
    for (auto &e : entries_)
      if (e.compare(0, name.size(), name) == 0 && e.size() > name.size() && e[name.size()] == '=') return &e;
    return nullptr;
  }
  const char *Value(const std::string &name) const {
    const std::string *e = Get(name);
    return e == nullptr ? nullptr : e->c_str() + name.size() + 1;
  }
  void Set(const std::string &name, const std::string &value) {
    for (auto &e : entries_)
      if (e.compare(0, name.size(), name) == 0 && e.size() > name.size() && e[name.size()] == '=') {
        e = name + "=" + value;
        return;
      }
    entries_.push_back(name + "=" + value);
  }
  void Unset(const std::string &name) {
    for (size_t i = 0; i < entries_.size(); i++)
      if (entries_[i].compare(0, name.size(), name) == 0 && entries_[i].size() > name.size() &&
          entries_[i][name.size()] == '=') {
        entries_.erase(entries_.begin() + i);
        return;
      }
  }
  const std::vector<std::string> &entries() const { return entries_; }
  std::vector<char *> Pointers() {
    std::vector<char *> out;
    for (auto &e : entries_) out.push_back(&e[0]);
    out.push_back(nullptr);
    return out;
  }

 private:
  std::vector<std::string> entries_;
};

// What dash does to an exported environment as it starts: IFS, OPTIND and PPID, when exported,
// get its values; PWD is kept when it names the working directory, else set to getcwd().
void DashStart(Env *env) {
  if (env->Get("IFS") != nullptr) env->Set("IFS", " \t\n");
  if (env->Get("OPTIND") != nullptr) env->Set("OPTIND", "1");
  if (env->Get("PPID") != nullptr) env->Set("PPID", std::to_string(static_cast<long>(getppid())));
  const char *pwd = env->Value("PWD");
  struct stat a, b;
  if (pwd != nullptr && pwd[0] == '/' && stat(pwd, &a) == 0 && stat(".", &b) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino)
    return;
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) != nullptr) env->Set("PWD", cwd);
}

// A shell-decimal value as the launcher's `case $v in ""|*[!0-9]*) continue`: digits only.
bool Digits(const char *s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

long Decimal(const char *s) {
  // "[ ${#v} -gt 5 ] && v=65536": longer values are capped before any arithmetic.
  if (strlen(s) > 5) return kMaxPreservedFds;
  return strtol(s, nullptr, 10);
}

// The fds above 2 the caller passed (CallerFds): the only ones a SPAWN may hand on below its slots.
std::vector<int> caller_fds;

// A --status-fd value the launcher looks at: canonical decimal (no sign, no leading zero), at
// most 10 digits and INT_MAX, above 2 (fds 0..2 are the caller's stdio, never listed); -1 else.
int StatusFdValue(const char *v) {
  if (!Digits(v) || (v[0] == '0' && v[1] != '\0') || strlen(v) > 10) return -1;
  long x = strtol(v, nullptr, 10);
  return x < 3 || x > 2147483647L ? -1 : static_cast<int>(x);
}

// The launcher's caller_fds: the open fds among 3..N+2 (N: the largest --preserve-fds value plus
// LISTEN_FDS, capped), then each open fd named by --status-fd (checkpoint writes criu's \0 to it
// and closes it) not listed yet, in TSRUNC_CALLER_FDS. This process has opened nothing yet.
void CallerFds(int argc, char **argv, Env *env) {
  bool scan = false;
  for (int i = 1; i < argc; i++)
    if (strstr(argv[i], "preserve-fds") != nullptr || strstr(argv[i], "status-fd") != nullptr) scan = true;
  const char *listen = env->Value("LISTEN_FDS");
  if (listen != nullptr && *listen != '\0') scan = true;
  if (!scan) return;
  long n = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v;
    if (strcmp(a, "--preserve-fds") == 0 || strcmp(a, "-preserve-fds") == 0) {
      if (i + 1 >= argc) break;
      v = argv[++i];
    } else if (strncmp(a, "--preserve-fds=", 15) == 0 || strncmp(a, "-preserve-fds=", 14) == 0) {
      v = strchr(a, '=') + 1;
    } else {
      continue;
    }
    if (!Digits(v)) continue;
    long x = Decimal(v);
    if (x > n) n = x;
  }
  if (listen != nullptr && Digits(listen)) n += Decimal(listen);
  if (n > kMaxPreservedFds) n = kMaxPreservedFds;
  std::string fds;
  for (long fd = 3; fd < n + 3; fd++) {
    if (fcntl(static_cast<int>(fd), F_GETFD) < 0) continue;
    if (!fds.empty()) fds += ' ';
    fds += std::to_string(fd);
    caller_fds.push_back(static_cast<int>(fd));
  }
  // --status-fd N / --status-fd=N, each one given (the CLI takes the last): one fd each.
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v;
    if (strcmp(a, "--status-fd") == 0) {
      if (i + 1 >= argc) break;
      v = argv[++i];
    } else if (strncmp(a, "--status-fd=", 12) == 0) {
      v = a + 12;
    } else {
      continue;
    }
    int fd = StatusFdValue(v);
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) continue;
    bool listed = false;
    for (int c : caller_fds) listed = listed || c == fd;
    if (listed) continue;
    if (!fds.empty()) fds += ' ';
    fds += std::to_string(fd);
    caller_fds.push_back(fd);
  }
  // caller_fds ends with `unset n next a v fds i`: exported variables of those names go too.
  for (const char *name : {"n", "next", "a", "v", "fds", "i"}) env->Unset(name);
  env->Set("TSRUNC_CALLER_FDS", fds);
}

[[noreturn]] void ExecNode(const Config &c, const std::string &entry, int argc, char **argv, int from, Env *env) {
  std::vector<char *> args;
  args.push_back(const_cast<char *>(c.node.c_str()));
  for (auto &f : c.flags) args.push_back(const_cast<char *>(f.c_str()));
  args.push_back(const_cast<char *>(entry.c_str()));
  for (int i = from; i < argc; i++) args.push_back(argv[i]);
  args.push_back(nullptr);
  std::vector<char *> envp = env->Pointers();
  execve(c.node.c_str(), args.data(), envp.data());
  int err = errno;
  Say("cannot run ", c.node.c_str(), (std::string(": ") + strerror(err)).c_str());
  _exit(err == ENOENT ? 127 : 126);
}

// ---- the resident server ----------------------------------------------------------------------

long NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

// Waits (until the deadline, -1: forever) for `events` on fd; false on timeout or error.
bool Wait(int fd, short events, long deadline) {
  for (;;) {
    int timeout = -1;
    if (deadline >= 0) {
      long left = deadline - NowMs();
      if (left <= 0) return false;
      timeout = static_cast<int>(left);
    }
    struct pollfd p = {fd, events, 0};
    int r = poll(&p, 1, timeout);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    return true;
  }
}

bool SendAll(int fd, const char *data, size_t len, long deadline) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!Wait(fd, POLLOUT, deadline)) return false;
      continue;
    }
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Reads exactly len bytes; false on EOF, error or the deadline.
bool RecvAll(int fd, char *data, size_t len, long deadline) {
  while (len > 0) {
    if (!Wait(fd, POLLIN, deadline)) return false;
    ssize_t n = recv(fd, data, len, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// The server's directory must be this uid's and closed to everyone else.
bool TrustedDirectory(const std::string &socket_path) {
  size_t slash = socket_path.rfind('/');
  if (slash == std::string::npos || socket_path[0] != '/') return false;
  std::string dir = slash == 0 ? "/" : socket_path.substr(0, slash);
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  return st.st_uid == geteuid() && (st.st_mode & 077) == 0;
}

int Connect(const std::string &path) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return -1;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  if (connect(s, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr) != 0) {
    close(s);
    return -1;
  }
  // Only a server that is this process's equal is spoken to, as it serves only its equals: the
  // same uid is not enough (a root process with fewer capabilities, a seccomp filter or another
  // namespace can bind a socket in root's 0700 directory, and the worker's SPAWN would start
  // its program with this process's rights).
  pid_t server = 0;
  if (!tsrunc::PeerRefusal(s, &server).empty()) {
    close(s);
    return -1;
  }
  return s;
}

void PutWord(std::string *out, uint32_t w) { out->append(reinterpret_cast<const char *>(&w), sizeof w); }

uint32_t Word(const char *p, int i) {
  uint32_t w;
  memcpy(&w, p + 4 * i, sizeof w);
  return w;
}

// Sends GO with the fds attached; true when all of it went.
bool SendGo(int s, const std::vector<int> &fds) {
  uint32_t magic = DAEMON_MAGIC_GO;
  return tsrunc::SendWithFds(s, &magic, sizeof magic, fds.data(), fds.size()) == static_cast<ssize_t>(sizeof magic);
}

int signal_pipe[2] = {-1, -1};

void OnSignal(int sig) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(sig);
  ssize_t r = write(signal_pipe[1], &b, 1);
  (void)r;
  errno = saved;
}

// The signals a caller sends tsrunc (containerd's shim, a person's ^C): the worker gets them, as
// the process running the command on the direct path would.
const int kForwarded[] = {DAEMON_FORWARDED_SIGNALS};

// The process this front started for its worker (SPAWN: a container's init, an exec's process),
// reaped here and reported, with every other child the front has as a subreaper.
struct Spawned {
  bool done = false;  // a SPAWN was handled (one per connection)
  pid_t pid = -1;     // the spawned child, until it is reaped
  int pidfd = -1;
  int channel = -1;        // until the worker closes its end
  bool none_said = false;  // CHILD with pid 0 (no child left) was sent
};

bool SendWords(int fd, const uint32_t *w, size_t n) {
  ssize_t r;
  do r = send(fd, w, n * 4, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  return r == static_cast<ssize_t>(n * 4);
}

bool IsSeqpacket(int fd) {
  int domain = 0, type = 0;
  socklen_t len = sizeof(int);
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX &&
         getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET;
}

// A SPAWN's words (after the magic) and fds: checked, then tsrunc-init started on them exactly
// as the direct path's node starts it. Anything out of bounds starts nothing (the worker is told
// why when the channel is one, and otherwise sees its end of the channel close).
void HandleSpawn(const char *words, std::vector<int> fds, Spawned *sp) {
  uint32_t count = Word(words, 0), preserve = Word(words, 1), flags = Word(words, 2);
  int err = 0;
  const char *what = "";
  bool channel_ok = fds.size() >= 1 && IsSeqpacket(fds[0]);
  if (sp->done || !channel_ok) {
    err = EPROTO;
  } else if ((flags & ~DAEMON_SPAWN_SUBREAPER) != 0 || count < 1 || count > DAEMON_SPAWN_MAX_SLOTS ||
             preserve > DAEMON_SPAWN_MAX_PRESERVE || fds.size() != DAEMON_SPAWN_FIXED_FDS + count) {
    err = EINVAL;
  } else if (!tsrunc::FullySealed(fds[1]) || !tsrunc::FullySealed(fds[2])) {
    // The plan and tsrunc-init must be what the worker checked and cannot change under us.
    err = EPERM;
  } else {
    // Below the slots: stdio (checked open before GO) and only fds the caller passed, so that
    // nothing of this process's own reaches the container.
    for (uint32_t fd = 3; fd < 3 + preserve && err == 0; fd++) {
      bool passed = false;
      for (int c : caller_fds) passed = passed || c == static_cast<int>(fd);
      if (!passed) err = EBADF;
    }
  }
  // A foreground run's or exec's worker asks for what the direct path's node does: the process
  // its tsrunc-init forks (the container's init, the exec'd process) is reparented here.
  if (err == 0 && (flags & DAEMON_SPAWN_SUBREAPER) != 0 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) err = errno;
  pid_t pid = -1;
  if (err == 0) {
    pid = tsrunc::SpawnInit(fds[1], fds[2], fds.data() + DAEMON_SPAWN_FIXED_FDS, static_cast<int>(count),
                            static_cast<int>(preserve), &err, &what);
    if (pid < 0 && err == 0) err = EIO;
  }
  for (size_t i = 1; i < fds.size(); i++) close(fds[i]);
  sp->done = true;
  if (!channel_ok) {
    if (!fds.empty()) close(fds[0]);
    return;
  }
  sp->channel = fds[0];
  if (pid > 0) {
    sp->pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (sp->pidfd < 0) {
      // Its exit could not be watched (nor reported): it does not run.
      err = errno;
      kill(pid, SIGKILL);
      int status;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      pid = -1;
    } else {
      fcntl(sp->pidfd, F_SETFD, FD_CLOEXEC);
      sp->pid = pid;
    }
  }
  uint32_t reply[DAEMON_SPAWNED_WORDS] = {DAEMON_MAGIC_SPAWNED, pid > 0 ? static_cast<uint32_t>(pid) : 0u,
                                          static_cast<uint32_t>(pid > 0 ? 0 : err)};
  SendWords(sp->channel, reply, DAEMON_SPAWNED_WORDS);
}

// Every child that has exited is reaped and its status sent to the worker (as waitpid gives it):
// the spawned one and, as a subreaper, the processes reparented here. Once none is left, the
// worker is told so (its waitpid(-1) would fail with ECHILD).
void ReapAll(Spawned *sp) {
  if (!sp->done) return;  // nothing was started: this front has no child
  for (;;) {
    int status = 0;
    pid_t r = waitpid(-1, &status, WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return;
    if (r < 0) {
      if (errno == ECHILD && !sp->none_said && sp->channel >= 0) {
        uint32_t none[DAEMON_CHILD_WORDS] = {DAEMON_MAGIC_CHILD, 0u, DAEMON_STATUS_NONE, 0u};
        SendWords(sp->channel, none, DAEMON_CHILD_WORDS);
        sp->none_said = true;
      }
      return;
    }
    if (r == sp->pid) {
      close(sp->pidfd);
      sp->pidfd = -1;
      sp->pid = -1;
    }
    uint32_t msg[DAEMON_CHILD_WORDS] = {DAEMON_MAGIC_CHILD, static_cast<uint32_t>(r), DAEMON_STATUS_EXITED, 0};
    if (WIFSIGNALED(status)) {
      msg[2] = DAEMON_STATUS_SIGNALED;
      msg[3] = static_cast<uint32_t>(WTERMSIG(status));
    } else {
      msg[3] = static_cast<uint32_t>(WEXITSTATUS(status));
    }
    if (sp->channel >= 0) SendWords(sp->channel, msg, DAEMON_CHILD_WORDS);
  }
}

// The parent's pid of `pid` (/proc/PID/stat), or -1.
pid_t ParentOf(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char *close_paren = strrchr(buf, ')');
  if (close_paren == nullptr || close_paren[1] != ' ' || close_paren[2] == '\0' || close_paren[3] != ' ') return -1;
  char *end = nullptr;
  long ppid = strtol(close_paren + 4, &end, 10);
  if (end == close_paren + 4 || *end != ' ') return -1;
  return static_cast<pid_t>(ppid);
}

// A message of the worker's on the channel: SIGNAL, a signal its forwarder passes on (a foreground
// run's or exec's, as the direct path's node sends them). Sent only to a process the front may
// answer for: its own child (reparented here as subreaper: nobody else reaps it, so the pid cannot
// have been reused) or its spawned child's (before that child is reaped), checked through a pidfd
// so that the process checked is the one signalled. Anything else is dropped.
void HandleChannel(Spawned *sp) {
  uint32_t msg[DAEMON_SIGNAL_WORDS + 1] = {};
  ssize_t n;
  do n = recv(sp->channel, msg, sizeof msg, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    // The worker is done with it (or gone): nothing more is reported.
    close(sp->channel);
    sp->channel = -1;
    return;
  }
  if (n != static_cast<ssize_t>(DAEMON_SIGNAL_WORDS * 4) || msg[0] != DAEMON_MAGIC_SIGNAL) return;
  uint32_t target = msg[1], sig = msg[2];
  if (target < 2 || target > 0x3fffffff || sig < 1 || sig > 64) return;
  int fd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(target), 0));
  if (fd < 0) return;
  pid_t parent = ParentOf(static_cast<pid_t>(target));
  if (parent > 0 && (parent == getpid() || (sp->pid > 0 && parent == sp->pid)))
    syscall(SYS_pidfd_send_signal, fd, static_cast<int>(sig), nullptr, 0);
  close(fd);
}

// One message's magic word from the server's connection, with the fds that came with it
// (close-on-exec). False on EOF or error.
bool RecvMagic(int s, uint32_t *magic, std::vector<int> *fds) {
  int got[DAEMON_SPAWN_FIXED_FDS + DAEMON_SPAWN_MAX_SLOTS];
  size_t count = 0;
  bool truncated = false;
  ssize_t n =
      tsrunc::RecvWithFds(s, magic, sizeof *magic, MSG_WAITALL, got, sizeof got / sizeof got[0], &count, &truncated);
  fds->assign(got, got + count);
  if (truncated) {
    // More fds than any SPAWN carries: none is used.
    for (int fd : *fds) close(fd);
    fds->clear();
    *magic = 0;
  }
  return n == static_cast<ssize_t>(sizeof *magic);
}

// Once GO is sent: waits for the server's STATUS, forwarding signals, and ends as the worker did.
// A served create's, run's or exec's worker sends a SPAWN first: the front starts the container's
// init or the exec'd process (its own child, so the caller's, as runc's is; for a foreground run
// or exec, as a subreaper, the process tsrunc-init forks too) and reports their exits on the
// channel that came with it, on which the worker's forwarded signals come back.
[[noreturn]] void Follow(int s, int pidfd) {
  // A caller's SIGCHLD=SIG_IGN would have the kernel reap a spawned init, its status lost; a
  // blocked one would never say that a child reparented here has exited.
  signal(SIGCHLD, SIG_DFL);
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
    struct sigaction sa = {};
    sa.sa_handler = OnSignal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int sig : kForwarded) sigaction(sig, &sa, nullptr);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, nullptr);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &chld, nullptr);
  }
  Spawned spawned;
  char status[DAEMON_STATUS_WORDS * 4];
  bool have_status = false;
  for (;;) {
    struct pollfd p[4] = {
        {s, POLLIN, 0}, {signal_pipe[0], POLLIN, 0}, {spawned.pidfd, POLLIN, 0}, {spawned.channel, POLLIN, 0}};
    // (without the signal pipe, children are looked for once a second)
    int r = poll(p, 4, spawned.done && signal_pipe[0] < 0 ? 1000 : -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bool reap = r == 0;
    if (signal_pipe[0] >= 0 && (p[1].revents & POLLIN) != 0) {
      unsigned char b;
      while (read(signal_pipe[0], &b, 1) == 1) {
        if (b == SIGCHLD)
          reap = true;
        else if (pidfd >= 0)
          syscall(SYS_pidfd_send_signal, pidfd, static_cast<int>(b), nullptr, 0);
      }
    }
    if (spawned.pidfd >= 0 && (p[2].revents & (POLLIN | POLLHUP)) != 0) reap = true;
    // (a signal the worker asked for before a child's exit was reported goes first)
    if (spawned.channel >= 0 && (p[3].revents & (POLLIN | POLLHUP | POLLERR)) != 0) HandleChannel(&spawned);
    if (reap) ReapAll(&spawned);
    if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      uint32_t magic = 0;
      std::vector<int> fds;
      if (!RecvMagic(s, &magic, &fds)) {
        for (int fd : fds) close(fd);
        break;
      }
      // (a second SPAWN ends this front as a killed tsrunc, below)
      if (magic == DAEMON_MAGIC_SPAWN && !spawned.done) {
        char words[(DAEMON_SPAWN_WORDS - 1) * 4];
        if (!RecvAll(s, words, sizeof words, NowMs() + 5000)) {
          for (int fd : fds) close(fd);
          break;
        }
        HandleSpawn(words, fds, &spawned);
        // (a child that exited before the pidfd was polled is reaped on the next pass)
        ReapAll(&spawned);
        continue;
      }
      for (int fd : fds) close(fd);
      if (magic != DAEMON_MAGIC_STATUS) break;
      memcpy(status, &magic, sizeof magic);
      have_status = RecvAll(s, status + 4, sizeof status - 4, NowMs() + 5000);
      break;
    }
  }
  if (have_status) {
    uint32_t kind = Word(status, 1), value = Word(status, 2);
    if (kind == DAEMON_STATUS_EXITED && value <= 255) _exit(static_cast<int>(value));
    if (kind == DAEMON_STATUS_SIGNALED && value >= 1 && value < 65) {
      int sig = static_cast<int>(value);
      signal(sig, SIG_DFL);
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, sig);
      sigprocmask(SIG_UNBLOCK, &set, nullptr);
      kill(getpid(), sig);
      _exit(128 + sig);
    }
  }
  // The worker (or the server) was lost midway: the caller sees what a killed tsrunc shows.
  Say("the resident server's worker was lost during the command");
  signal(SIGKILL, SIG_DFL);
  kill(getpid(), SIGKILL);
  _exit(137);
}

// A command the server may run: create, run and exec (their process started here, SPAWN) and
// those that start no container process (the worker says for sure; this only spares it a round
// trip for checkpoint and restore, which take the direct path).
bool MaybeServed(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    for (const char *c : {"checkpoint", "restore"})
      if (strcmp(argv[i], c) == 0) return false;
  return argc > 1;
}

// Whether the command may have this front start a container's process (SPAWN): create, run, exec.
bool MaySpawn(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "create") == 0 || strcmp(argv[i], "run") == 0 || strcmp(argv[i], "exec") == 0) return true;
  return false;
}

// A foreground run or exec (no -d/--detach, no --console-socket) whose stdin is a terminal: a
// worker would relay the pty from outside the caller's session, where the kernel's job control
// (SIGTTIN for a background reader) cannot stop it, and a backgrounded job would read what is
// typed at the shell; the direct path's node is in the caller's session. Taken directly. The
// flags are read up to the first argument that is not one (a flag's value ends the scan early:
// the direct path, on the safe side).
bool ForegroundOnTerminal(int argc, char **argv) {
  if (!isatty(0)) return false;
  int cmd = -1;
  for (int i = 1; i < argc && cmd < 0; i++)
    if (strcmp(argv[i], "run") == 0 || strcmp(argv[i], "exec") == 0) cmd = i;
  if (cmd < 0) return false;
  for (int i = cmd + 1; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) break;
    if (strcmp(a, "-d") == 0 || strcmp(a, "--detach") == 0 || strcmp(a, "--detach=true") == 0 ||
        strcmp(a, "-d=true") == 0)
      return false;
    if (strcmp(a, "--console-socket") == 0 || strncmp(a, "--console-socket=", 17) == 0) return false;
  }
  return true;
}

// Tries the server; returns only when the direct path is to be taken (nothing was done).
void TryServer(const Config &c, const std::string &socket_path, int argc, char **argv, Env *env) {
  if (socket_path.empty() || c.build.size() != DAEMON_BUILD_ID_LEN || !MaybeServed(argc, argv)) return;
  if (!TrustedDirectory(socket_path)) return;
  // Which of fds 0..2 the caller left open, read before this process opens anything (the socket
  // or the cwd would take a closed one's number, and be passed on as that stdio).
  uint32_t mask = 0;
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) >= 0) mask |= 1u << fd;
  // A container's process started here inherits fds 0..2 as they are: with one of them closed, an
  // fd of this process's (the socket) would sit there. The direct path's node fills it with
  // /dev/null first; so does that path.
  if (mask != 7 && MaySpawn(argc, argv)) return;
  if (ForegroundOnTerminal(argc, argv)) return;
  long deadline = NowMs() + c.reply_timeout_ms;
  int s = Connect(socket_path);
  if (s < 0) return;
  std::vector<int> fds;
  int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0) {
    close(s);
    return;
  }
  fds.push_back(cwd);
  for (int fd = 0; fd < 3; fd++)
    if ((mask & (1u << fd)) != 0) fds.push_back(fd);
  std::string strings;
  for (int i = 1; i < argc; i++) strings.append(argv[i], strlen(argv[i]) + 1);
  for (auto &e : env->entries()) strings.append(e.c_str(), e.size() + 1);
  if (strings.size() > DAEMON_MAX_STRINGS) {
    close(cwd);
    close(s);
    return;
  }
  mode_t mask_now = umask(0);
  umask(mask_now);
  std::string req;
  PutWord(&req, DAEMON_MAGIC_REQUEST);
  PutWord(&req, DAEMON_PROTOCOL_VERSION);
  PutWord(&req, static_cast<uint32_t>(strings.size()));
  PutWord(&req, static_cast<uint32_t>(argc - 1));
  PutWord(&req, static_cast<uint32_t>(env->entries().size()));
  PutWord(&req, static_cast<uint32_t>(mask_now));
  PutWord(&req, mask);
  req += c.build;
  req += strings;
  char reply[DAEMON_REPLY_WORDS * 4 + DAEMON_BUILD_ID_LEN];
  if (!SendAll(s, req.data(), req.size(), deadline) || !RecvAll(s, reply, sizeof reply, deadline) ||
      Word(reply, 0) != DAEMON_MAGIC_REPLY || Word(reply, 1) != DAEMON_PROTOCOL_VERSION ||
      Word(reply, 2) != DAEMON_REPLY_READY ||
      memcmp(reply + DAEMON_REPLY_WORDS * 4, c.build.data(), DAEMON_BUILD_ID_LEN) != 0) {
    close(cwd);
    close(s);
    return;
  }
  uint32_t pid = Word(reply, 3);
  if (pid < 2 || pid > 0x3fffffff) {
    close(cwd);
    close(s);
    return;
  }
  // The worker's pidfd, opened while it waits for GO (it cannot have exited and had its pid
  // reused yet): the caller's signals go to it and to nothing else.
  int worker = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (worker < 0) {
    close(cwd);
    close(s);
    return;
  }
  bool went = SendGo(s, fds);
  close(cwd);
  if (!went) {
    // Not a whole GO (4 bytes in one send; a stream never splits it short of an error): the
    // worker runs only on a whole one, so nothing was done.
    close(worker);
    close(s);
    return;
  }
  Follow(s, worker);
}

}  // namespace

int main(int argc, char **argv) {
  Config c;
  if (!ReadConfig(&c)) {
    Say("this binary has not been installed by scripts/build.mjs (no paths in it)");
    return 127;
  }
  Env env;
  env.Import(environ);
  // The front's own settings, never passed on: another socket ("" for none), and how long to
  // wait for a worker (a busy CI host: every served command through the server).
  const char *chosen = env.Value("TSRUNC_DAEMON_SOCKET");
  std::string socket_path = chosen != nullptr ? chosen : c.socket;
  const char *wait = env.Value("TSRUNC_DAEMON_WAIT_MS");
  if (wait != nullptr && Digits(wait) && strlen(wait) <= 7) c.reply_timeout_ms = strtol(wait, nullptr, 10);
  for (const char *name :
       {"NODE_EXTRA_CA_CERTS", "NODE_OPTIONS", "TSRUNC_CALLER_FDS", "TSRUNC_DAEMON_SOCKET", "TSRUNC_DAEMON_WAIT_MS"})
    env.Unset(name);
  DashStart(&env);
  // `tsrunc daemon ...`: the resident server itself (src/daemon/server.ts).
  if (argc > 1 && strcmp(argv[1], "daemon") == 0 && !c.daemon.empty()) ExecNode(c, c.daemon, argc, argv, 2, &env);
  CallerFds(argc, argv, &env);
  TryServer(c, socket_path, argc, argv, &env);
  ExecNode(c, c.boot, argc, argv, 1, &env);
}
