// The resident server's side of native/front/protocol.h (issue 17), for src/daemon/: the
// listening socket, and a worker's accept of one caller — who it is (SO_PEERCRED, and through
// SO_PEERPIDFD the same credentials, capabilities, namespaces and root as this process, or it is
// refused), its request (argv, environment, umask, cwd and stdio fds), the REPLY and the GO.
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fdpass.h"
#include "front/protocol.h"
#include "peer.h"
#include "spawn.h"
#include "sys.h"

namespace tsrunc {

namespace {

// daemonListen(path) -> a listening unix stream socket bound at path (close-on-exec);
// daemonListen(fd): systemd's socket (socket activation), checked to be one and made close-on-exec.
Napi::Value Listen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info[0].IsNumber()) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    int listening = 0, domain = 0, type = 0;
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
      return ThrowErrno(env, "getsockopt", errno);
    if (!listening || domain != AF_UNIX || type != SOCK_STREAM) return ThrowErrno(env, "listen", ENOTSOCK);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return ThrowErrno(env, "fcntl", errno);
    return Napi::Number::New(env, fd);
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return ThrowErrno(env, "bind", ENAMETOOLONG);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return ThrowErrno(env, "socket", errno);
  // Only this uid may connect even were the directory opened up.
  mode_t old = umask(0177);
  int rc = bind(s, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr);
  int err = errno;
  umask(old);
  if (rc != 0 || listen(s, 128) != 0) {
    if (rc == 0) err = errno;
    close(s);
    return ThrowErrno(env, rc != 0 ? "bind" : "listen", err);
  }
  return Napi::Number::New(env, s);
}

// Every fd from 3 up close-on-exec: nothing the server or a worker was started with (an fd its
// own starter leaked) reaches what a worker starts (hooks, ps).
void CloexecAll() {
  std::vector<int> fds;
  DIR *dir = opendir("/proc/self/fd");
  if (dir != nullptr) {
    for (struct dirent *e = readdir(dir); e != nullptr; e = readdir(dir))
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') fds.push_back(atoi(e->d_name));
    closedir(dir);
  } else {
    for (int fd = 3; fd < 65536; fd++) fds.push_back(fd);  // no /proc: every fd a process may have
  }
  for (int fd : fds) {
    int flags = fd < 3 ? -1 : fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

// daemonCloexecAll(): the server's start (CloexecAll).
Napi::Value CloexecAllJs(const Napi::CallbackInfo &info) {
  CloexecAll();
  return info.Env().Undefined();
}

// daemonWorkerStart(listenFd): every inherited fd, the listening one too, close-on-exec, a
// session of its own, and this worker killed with its server (a worker outliving it would serve with nobody to report
// its status). Returns the parent's pid at the time, for the caller to compare.
Napi::Value WorkerStart(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (fcntl(fd, F_GETFD) < 0) return ThrowErrno(env, "fcntl", errno);
  CloexecAll();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return ThrowErrno(env, "prctl", errno);
  // A session of its own, without a controlling terminal: a foreground run's or exec's pty relay
  // reads and sets the caller's terminal, which must not be the server's (where this worker would
  // be in a background process group, stopped by SIGTTIN/SIGTTOU).
  setsid();
  return Napi::Number::New(env, getppid());
}

bool RecvExact(int fd, char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = recv(fd, buf, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

uint32_t Word(const char *p, int i) {
  uint32_t w;
  memcpy(&w, p + 4 * i, sizeof w);
  return w;
}

void PutWord(char *p, int i, uint32_t w) { memcpy(p + 4 * i, &w, sizeof w); }

bool Reply(int conn, uint32_t kind, const std::string &build) {
  char buf[DAEMON_REPLY_WORDS * 4 + DAEMON_BUILD_ID_LEN] = {};
  PutWord(buf, 0, DAEMON_MAGIC_REPLY);
  PutWord(buf, 1, DAEMON_PROTOCOL_VERSION);
  PutWord(buf, 2, kind);
  PutWord(buf, 3, static_cast<uint32_t>(getpid()));
  memcpy(buf + DAEMON_REPLY_WORDS * 4, build.data(),
         build.size() < DAEMON_BUILD_ID_LEN ? build.size() : DAEMON_BUILD_ID_LEN);
  const char *p = buf;
  size_t left = sizeof buf;
  while (left > 0) {
    ssize_t n = send(conn, p, left, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

void CloseAll(const std::vector<int> &fds) {
  for (int fd : fds)
    if (fd >= 0) close(fd);
}

// daemonAccept(listenFd, buildId) -> one caller: {conn, peer, argv, env, umask, present},
// or {refused: why} (the connection is then closed, with a REPLY when the front is to know why).
Napi::Value Accept(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int lfd = info[0].As<Napi::Number>().Int32Value();
  std::string build = info[1].As<Napi::String>().Utf8Value();
  Napi::Object out = Napi::Object::New(env);
  int conn;
  do conn = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  while (conn < 0 && (errno == EINTR || errno == ECONNABORTED));
  if (conn < 0) return ThrowErrno(env, "accept4", errno);
  // A caller that does not say its request at once is not waited for.
  struct timeval tv = {2, 0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  pid_t peer = 0;
  std::string why = PeerRefusal(conn, &peer);
  if (!why.empty()) {
    Reply(conn, DAEMON_REPLY_REFUSED, build);
    close(conn);
    out.Set("refused", Napi::String::New(env, why));
    return out;
  }
  char head[DAEMON_REQUEST_WORDS * 4];
  auto refuse = [&](const std::string &reason) -> Napi::Value {
    close(conn);
    out.Set("refused", Napi::String::New(env, reason));
    return out;
  };
  if (!RecvExact(conn, head, sizeof head)) return refuse("a short request");
  if (Word(head, 0) != DAEMON_MAGIC_REQUEST || Word(head, 1) != DAEMON_PROTOCOL_VERSION)
    return refuse("not a request of this protocol");
  uint32_t length = Word(head, 2), argc = Word(head, 3), envc = Word(head, 4), mask = Word(head, 5),
           present = Word(head, 6);
  if (length > DAEMON_MAX_STRINGS || argc == 0 || argc + envc > length || mask > 0777 || (present & ~7u) != 0)
    return refuse("a request out of bounds");
  std::string caller_build(DAEMON_BUILD_ID_LEN, '\0');
  std::string strings(length, '\0');
  if (!RecvExact(conn, &caller_build[0], DAEMON_BUILD_ID_LEN) || (length > 0 && !RecvExact(conn, &strings[0], length)))
    return refuse("a short request");
  if (caller_build != build) {
    Reply(conn, DAEMON_REPLY_MISMATCH, build);
    return refuse("another build");
  }
  if (length == 0 || strings[length - 1] != '\0') return refuse("strings not ended");
  std::vector<std::string> words;
  for (size_t at = 0; at < length;) {
    size_t end = strings.find('\0', at);
    words.push_back(strings.substr(at, end - at));
    at = end + 1;
  }
  if (words.size() != argc + envc) return refuse("a request with another count of strings");
  Napi::Array argv = Napi::Array::New(env, argc);
  Napi::Array envv = Napi::Array::New(env, envc);
  for (uint32_t i = 0; i < argc; i++) argv.Set(i, Napi::String::New(env, words[i]));
  for (uint32_t i = 0; i < envc; i++) envv.Set(i, Napi::String::New(env, words[argc + i]));
  // Blocking again, and no timeout while it waits for GO and runs (the front is there).
  struct timeval none = {0, 0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
  out.Set("conn", Napi::Number::New(env, conn));
  out.Set("peer", Napi::Number::New(env, peer));
  out.Set("argv", argv);
  out.Set("env", envv);
  out.Set("umask", Napi::Number::New(env, mask));
  out.Set("present", Napi::Number::New(env, present));
  return out;
}

// daemonReply(conn, kind, buildId) -> whether it was sent.
Napi::Value ReplyJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int conn = info[0].As<Napi::Number>().Int32Value();
  uint32_t kind = info[1].As<Napi::Number>().Uint32Value();
  std::string build = info[2].As<Napi::String>().Utf8Value();
  return Napi::Boolean::New(env, Reply(conn, kind, build));
}

// daemonAwaitGo(conn, present) -> the fds GO carried, {cwd, stdio: [fd|-1 x3]} (stdio as the
// request's fd_mask `present` said), once a whole GO came; null when the front went away instead
// (or sent anything else: then nothing is kept).
Napi::Value AwaitGo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int conn = info[0].As<Napi::Number>().Int32Value();
  uint32_t present = info[1].As<Napi::Number>().Uint32Value();
  char go[4];
  int got[4];
  size_t count = 0;
  bool truncated = false;
  ssize_t n = RecvWithFds(conn, go, sizeof go, MSG_WAITALL, got, 4, &count, &truncated);
  std::vector<int> fds(got, got + count);
  size_t want = 1 + ((present & 1) != 0) + ((present & 2) != 0) + ((present & 4) != 0);
  struct stat st;
  if (n != static_cast<ssize_t>(sizeof go) || Word(go, 0) != DAEMON_MAGIC_GO || truncated || fds.size() != want ||
      fstat(fds[0], &st) != 0 || !S_ISDIR(st.st_mode)) {
    CloseAll(fds);
    return env.Null();
  }
  Napi::Object out = Napi::Object::New(env);
  Napi::Array stdio = Napi::Array::New(env, 3);
  size_t next = 1;
  for (uint32_t i = 0; i < 3; i++) stdio.Set(i, Napi::Number::New(env, (present & (1u << i)) != 0 ? fds[next++] : -1));
  out.Set("cwd", Napi::Number::New(env, fds[0]));
  out.Set("stdio", stdio);
  return out;
}

// daemonTakeStdio([fd|-1 x3]): the caller's stdin, stdout and stderr become this process's fds
// 0, 1 and 2 (/dev/null where the caller had none, as node opens it then), the received fds closed.
Napi::Value TakeStdio(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array stdio = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < 3; i++) {
    int fd = stdio.Get(i).As<Napi::Number>().Int32Value();
    bool opened = false;
    if (fd < 0) {
      fd = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (fd < 0) return ThrowErrno(env, "open", errno);
      opened = true;
    }
    if (fd != static_cast<int>(i)) {
      if (dup2(fd, static_cast<int>(i)) < 0) return ThrowErrno(env, "dup2", errno);
      close(fd);
    } else if (!opened) {
      int flags = fcntl(fd, F_GETFD);
      fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
  }
  return env.Undefined();
}

// daemonSaveStdio() -> [fd x3]: copies (close-on-exec, above 2) of this worker's own fds 0..2,
// which daemonRestoreStdio puts back once a command that had the caller's there has ended.
Napi::Value SaveStdio(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 3);
  int saved[3] = {-1, -1, -1};
  for (int i = 0; i < 3; i++) {
    saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
    if (saved[i] < 0) {
      int err = errno;
      for (int j = 0; j < i; j++) close(saved[j]);
      return ThrowErrno(env, "fcntl", err);
    }
  }
  for (uint32_t i = 0; i < 3; i++) out.Set(i, Napi::Number::New(env, saved[i]));
  return out;
}

// daemonRestoreStdio([fd x3]): the copies back on 0..2 (the caller's stdio closed here), the
// copies closed.
Napi::Value RestoreStdio(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array saved = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < 3; i++) {
    int fd = saved.Get(i).As<Napi::Number>().Int32Value();
    if (dup2(fd, static_cast<int>(i)) < 0) return ThrowErrno(env, "dup2", errno);
    close(fd);
  }
  return env.Undefined();
}

// daemonQuiesceSignals(on): between two commands of a worker that serves again, the signals a
// front passes on (DAEMON_FORWARDED_SIGNALS) are ignored, whatever their action was (the
// default, node's handler that ends the process for SIGTERM and SIGINT, libuv's for a listener);
// ignoring also drops one already pending. Off puts back each action as it was before the first
// call (the worker's, before any command), not as a command left it: node's own handlers for
// SIGINT and SIGTERM are replaced by the default when a command's listener is removed.
struct sigaction baseline_actions[65];
bool have_baseline = false;
bool quiesced = false;
Napi::Value QuiesceSignals(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bool on = info[0].As<Napi::Boolean>().Value();
  static const int forwarded[] = {DAEMON_FORWARDED_SIGNALS};
  if (on == quiesced) return env.Undefined();
  if (on) {
    if (!have_baseline) {
      for (int sig : forwarded)
        if (sigaction(sig, nullptr, &baseline_actions[sig]) != 0) return ThrowErrno(env, "sigaction", errno);
      have_baseline = true;
    }
    struct sigaction ign = {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    for (int sig : forwarded)
      if (sigaction(sig, &ign, nullptr) != 0) return ThrowErrno(env, "sigaction", errno);
  } else {
    for (int sig : forwarded)
      if (sigaction(sig, &baseline_actions[sig], nullptr) != 0) return ThrowErrno(env, "sigaction", errno);
  }
  quiesced = on;
  return env.Undefined();
}

// daemonSelfFacts() -> what of this process's own state /proc does not show and a command must
// not have changed for its worker to serve again: subreaper, dumpable, keep-caps, nice, scheduling
// policy, personality, session and process group, the parent-death signal.
Napi::Value SelfFacts(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int subreaper = -1, pdeath = -1;
  prctl(PR_GET_CHILD_SUBREAPER, &subreaper, 0, 0, 0);
  prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0);
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, 0);
  std::string out = "subreaper=" + std::to_string(subreaper) + " pdeathsig=" + std::to_string(pdeath) +
                    " dumpable=" + std::to_string(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) +
                    " keepcaps=" + std::to_string(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0)) +
                    " nice=" + std::to_string(errno == 0 ? nice : 999) +
                    " sched=" + std::to_string(sched_getscheduler(0)) +
                    " personality=" + std::to_string(personality(0xffffffff)) + " sid=" + std::to_string(getsid(0)) +
                    " pgid=" + std::to_string(getpgid(0));
  return Napi::String::New(env, out);
}

// closeFd(fd)
Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// openFds() -> the fds this process has open (from /proc/self/fd), for tests and checks.
Napi::Value OpenFds(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  for (int fd = 0, i = 0; fd < 1024; fd++)
    if (fcntl(fd, F_GETFD) >= 0) out.Set(i++, Napi::Number::New(env, fd));
  return out;
}

// daemonKeepConn(conn) -> a copy of the connection (close-on-exec) the worker keeps once the
// server holds the connection: a served create sends its SPAWN on it, to this caller only.
Napi::Value KeepConn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return ThrowErrno(env, "fcntl", errno);
  return Napi::Number::New(env, fd);
}

// daemonSpawn(conn, plan, fds, preserve, initFd, subreaper) -> {pid, channel}: the front (the
// caller's process) starts tsrunc-init on the plan with the fds in their slots, as spawn() does
// here on the direct path (first becoming a child subreaper when asked, as the direct path's node
// does for a foreground run or exec); `channel` (close-on-exec) then carries the exits of the
// front's children (daemonChildNext) and the signals forwarded to them (daemonSignal).
// The fds passed stay open here (the caller closes them).
Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int conn = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> plan = info[1].As<Napi::Buffer<uint8_t>>();
  Napi::Array slots = info[2].As<Napi::Array>();
  int preserve = info[3].As<Napi::Number>().Int32Value();
  int initFd = info[4].As<Napi::Number>().Int32Value();
  bool subreaper = info[5].As<Napi::Boolean>().Value();
  if (preserve < 0 || preserve > DAEMON_SPAWN_MAX_PRESERVE || slots.Length() < 1 ||
      slots.Length() > DAEMON_SPAWN_MAX_SLOTS) {
    Napi::RangeError::New(env, "daemonSpawn: bad fd layout").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return ThrowErrno(env, "socketpair", errno);
  int planFd = SealedMemfd("tsrunc-plan", plan.Data(), plan.Length());
  if (planFd < 0) {
    int err = errno;
    close(pair[0]);
    close(pair[1]);
    return ThrowErrno(env, "memfd_create (the plan)", err);
  }
  std::vector<int> fds = {pair[1], planFd, initFd};
  for (uint32_t i = 0; i < slots.Length(); i++) fds.push_back(slots.Get(i).As<Napi::Number>().Int32Value());
  uint32_t words[DAEMON_SPAWN_WORDS] = {DAEMON_MAGIC_SPAWN, slots.Length(), static_cast<uint32_t>(preserve),
                                        subreaper ? DAEMON_SPAWN_SUBREAPER : 0u};
  ssize_t n = SendWithFds(conn, words, sizeof words, fds.data(), fds.size());
  int err = errno;
  close(pair[1]);
  close(planFd);
  if (n != static_cast<ssize_t>(sizeof words)) {
    close(pair[0]);
    return ThrowErrno(env, "sendmsg (SPAWN to the front)", n < 0 ? err : EPIPE);
  }
  uint32_t reply[DAEMON_SPAWNED_WORDS] = {};
  do n = recv(pair[0], reply, sizeof reply, 0);
  while (n < 0 && errno == EINTR);
  err = errno;
  if (n != static_cast<ssize_t>(sizeof reply) || reply[0] != DAEMON_MAGIC_SPAWNED) {
    close(pair[0]);
    return ThrowErrno(env, "the front's answer to SPAWN", n < 0 ? err : EPROTO);
  }
  if (reply[1] == 0 || reply[1] > 0x3fffffff) {
    close(pair[0]);
    return ThrowErrno(env, "the front's start of tsrunc-init", reply[2] != 0 && reply[2] < 4096 ? reply[2] : EIO);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, reply[1]));
  out.Set("channel", Napi::Number::New(env, pair[0]));
  return out;
}

// daemonChildNext(channel, nohang) -> {pid, exitCode, signal} as waitPid(-1) gives it: the next
// child the front has reaped; null when nohang and none has been. Throws ECHILD when the front
// has no child left, or is gone (or said anything else).
Napi::Value ChildNext(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int channel = info[0].As<Napi::Number>().Int32Value();
  bool nohang = info[1].As<Napi::Boolean>().Value();
  struct pollfd p = {channel, POLLIN, 0};
  int r;
  do r = poll(&p, 1, nohang ? 0 : -1);
  while (r < 0 && errno == EINTR);
  if (r < 0) return ThrowErrno(env, "poll", errno);
  if (r == 0) return env.Null();
  uint32_t msg[DAEMON_CHILD_WORDS] = {};
  ssize_t n;
  do n = recv(channel, msg, sizeof msg, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return nohang ? env.Null() : ChildNext(info);
  if (n != static_cast<ssize_t>(sizeof msg) || msg[0] != DAEMON_MAGIC_CHILD || msg[1] > 0x3fffffff ||
      (msg[1] == 0) != (msg[2] == DAEMON_STATUS_NONE) ||
      (msg[2] != DAEMON_STATUS_EXITED && msg[2] != DAEMON_STATUS_SIGNALED && msg[2] != DAEMON_STATUS_NONE))
    return ThrowErrno(env, "waitpid (the front's report)", ECHILD);
  if (msg[2] == DAEMON_STATUS_NONE) return ThrowErrno(env, "waitpid (the front has no child left)", ECHILD);
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, msg[1]));
  out.Set("exitCode", msg[2] == DAEMON_STATUS_EXITED ? Napi::Number::New(env, msg[3]) : env.Null());
  out.Set("signal", msg[2] == DAEMON_STATUS_SIGNALED ? Napi::Number::New(env, msg[3]) : env.Null());
  return out;
}

// daemonSignal(channel, pid, signal) -> whether the front was asked to send it (it does only to
// a child of its own or of the process it spawned).
Napi::Value SignalJs(const Napi::CallbackInfo &info) {
  int channel = info[0].As<Napi::Number>().Int32Value();
  uint32_t msg[DAEMON_SIGNAL_WORDS] = {DAEMON_MAGIC_SIGNAL, info[1].As<Napi::Number>().Uint32Value(),
                                       info[2].As<Napi::Number>().Uint32Value()};
  ssize_t n;
  do n = send(channel, msg, sizeof msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return Napi::Boolean::New(info.Env(), n == static_cast<ssize_t>(sizeof msg));
}

}  // namespace

void RegisterDaemon(Napi::Env env, Napi::Object exports) {
  exports.Set("daemonListen", Napi::Function::New(env, Listen, "daemonListen"));
  exports.Set("daemonCloexecAll", Napi::Function::New(env, CloexecAllJs, "daemonCloexecAll"));
  exports.Set("daemonWorkerStart", Napi::Function::New(env, WorkerStart, "daemonWorkerStart"));
  exports.Set("daemonAccept", Napi::Function::New(env, Accept, "daemonAccept"));
  exports.Set("daemonReply", Napi::Function::New(env, ReplyJs, "daemonReply"));
  exports.Set("daemonAwaitGo", Napi::Function::New(env, AwaitGo, "daemonAwaitGo"));
  exports.Set("daemonTakeStdio", Napi::Function::New(env, TakeStdio, "daemonTakeStdio"));
  exports.Set("daemonKeepConn", Napi::Function::New(env, KeepConn, "daemonKeepConn"));
  exports.Set("daemonSpawn", Napi::Function::New(env, Spawn, "daemonSpawn"));
  exports.Set("daemonChildNext", Napi::Function::New(env, ChildNext, "daemonChildNext"));
  exports.Set("daemonSignal", Napi::Function::New(env, SignalJs, "daemonSignal"));
  exports.Set("daemonSaveStdio", Napi::Function::New(env, SaveStdio, "daemonSaveStdio"));
  exports.Set("daemonRestoreStdio", Napi::Function::New(env, RestoreStdio, "daemonRestoreStdio"));
  exports.Set("daemonQuiesceSignals", Napi::Function::New(env, QuiesceSignals, "daemonQuiesceSignals"));
  exports.Set("daemonSelfFacts", Napi::Function::New(env, SelfFacts, "daemonSelfFacts"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("openFds", Napi::Function::New(env, OpenFds, "openFds"));
}

}  // namespace tsrunc
