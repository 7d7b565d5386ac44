#include "sys.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fdpass.h"
#include "spawn.h"

namespace tsrunc {

static const char *ErrnoName(int err) {
  const char *name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

Napi::Value ThrowErrno(Napi::Env env, const char *syscall, int err) {
  // errno's text in Go's (and Node's) lower case, as runc's callers read it
  std::string text = strerror(err);
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z' && !(text.size() > 1 && text[1] >= 'A' && text[1] <= 'Z'))
    text[0] = (char)(text[0] - 'A' + 'a');
  std::string msg = std::string(ErrnoName(err)) + ": " + text + ", " + syscall;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// poll(2) for input on one fd, retried on EINTR: 1 ready, 0 timed out, -1 with errno.
static int PollIn(int fd, int timeoutMs) {
  struct pollfd p = {fd, POLLIN, 0};
  int rc;
  do rc = poll(&p, 1, timeoutMs);
  while (rc < 0 && errno == EINTR);
  return rc < 0 ? -1 : rc > 0 ? 1 : 0;
}

// flock(fd, exclusive, wait): shared or exclusive advisory lock on an open file.
static Napi::Value Flock(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool exclusive = info[1].As<Napi::Boolean>().Value();
  bool wait = info[2].As<Napi::Boolean>().Value();
  int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
  int rc;
  do rc = flock(fd, op);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return ThrowErrno(env, "flock", errno);
  return env.Undefined();
}

// poll(fd, events "r"|"w", timeoutMs) -> true when ready, false on timeout.
static Napi::Value Poll(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct pollfd p = {};
  p.fd = info[0].As<Napi::Number>().Int32Value();
  p.events = info[1].As<Napi::String>().Utf8Value() == "w" ? POLLOUT : POLLIN;
  int timeout = info[2].As<Napi::Number>().Int32Value();
  int rc;
  do rc = poll(&p, 1, timeout);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return ThrowErrno(env, "poll", errno);
  return Napi::Boolean::New(env, rc > 0);
}

// connectUnix(path) -> fd of a connected SOCK_STREAM unix socket (O_CLOEXEC).
static Napi::Value ConnectUnix(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return ThrowErrno(env, "connect", ENAMETOOLONG);
  memcpy(addr.sun_path, path.c_str(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, "socket", errno);
  if (connect(fd, reinterpret_cast<struct sockaddr *>(&addr), sizeof(addr)) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "connect", err);
  }
  return Napi::Number::New(env, fd);
}

// A unix address for `path`; a leading '@' names an abstract socket (as systemd's
// NOTIFY_SOCKET may). Returns the address length, or 0 when the path is too long or empty.
static socklen_t UnixAddress(const std::string &path, struct sockaddr_un *addr) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) return 0;
  memcpy(addr->sun_path, path.c_str(), path.size());
  if (path[0] == '@') addr->sun_path[0] = '\0';
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1));
}

// bindUnixgram(path) -> a datagram socket bound at path (close-on-exec), its file mode 0777 so
// that any user of the container can send to it (the NOTIFY_SOCKET tsrunc proxies).
static Napi::Value BindUnixgram(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct sockaddr_un addr;
  socklen_t len = UnixAddress(path, &addr);
  if (len == 0 || path[0] == '@') return ThrowErrno(env, "bind", ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, "socket", errno);
  if (bind(fd, reinterpret_cast<struct sockaddr *>(&addr), len) < 0 || chmod(path.c_str(), 0777) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "bind", err);
  }
  return Napi::Number::New(env, fd);
}

// recvDatagram(fd, timeoutMs) -> one datagram's text (at most 4096 bytes; the rest of a longer
// one is dropped), or null when none came in time. No ancillary data is read: an fd someone
// sends along is never installed here (the kernel discards it).
static Napi::Value RecvDatagram(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int timeout = info[1].As<Napi::Number>().Int32Value();
  int rc = PollIn(fd, timeout);
  if (rc < 0) return ThrowErrno(env, "poll", errno);
  if (rc == 0) return env.Null();
  char buf[4096];
  ssize_t n;
  do n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return env.Null();
    return ThrowErrno(env, "recv", errno);
  }
  return Napi::String::New(env, buf, (size_t)n);
}

// sendUnixgram(path, text): one datagram to the socket at path ('@': abstract).
static Napi::Value SendUnixgram(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string text = info[1].As<Napi::String>().Utf8Value();
  struct sockaddr_un addr;
  socklen_t len = UnixAddress(path, &addr);
  if (len == 0) return ThrowErrno(env, "sendto", ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, "socket", errno);
  ssize_t n;
  do n = sendto(fd, text.data(), text.size(), 0, reinterpret_cast<struct sockaddr *>(&addr), len);
  while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) return ThrowErrno(env, "sendto", err);
  return env.Undefined();
}

// kill(pid, signal): signal 0 probes. Returns false for ESRCH instead of throwing.
static Napi::Value Kill(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int sig = info[1].As<Napi::Number>().Int32Value();
  if (kill(pid, sig) < 0) {
    if (errno == ESRCH) return Napi::Boolean::New(env, false);
    return ThrowErrno(env, "kill", errno);
  }
  return Napi::Boolean::New(env, true);
}

// recvFd(sock) -> the fd sent with SCM_RIGHTS (the console's pty master), close-on-exec.
static Napi::Value RecvFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sock = info[0].As<Napi::Number>().Int32Value();
  char data[256];
  int fd;
  bool truncated;
  if (RecvWithFd(sock, data, sizeof data, &fd, &truncated) < 0) return ThrowErrno(env, "recvmsg", errno);
  if (fd < 0) return ThrowErrno(env, "recvmsg", EBADMSG);
  return Napi::Number::New(env, fd);
}

// setWinsize(fd, rows, cols)
static Napi::Value SetWinsize(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct winsize ws = {};
  ws.ws_row = (unsigned short)info[1].As<Napi::Number>().Uint32Value();
  ws.ws_col = (unsigned short)info[2].As<Napi::Number>().Uint32Value();
  if (ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCSWINSZ, &ws) < 0) return ThrowErrno(env, "ioctl", errno);
  return env.Undefined();
}

// sealedCopy(path) -> fd of a memfd holding the file's bytes, sealed against any change
// (close-on-exec), named after the file. The executor execs tsrunc-init from it.
static Napi::Value SealedCopy(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int src = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return ThrowErrno(env, "open", errno);
  const char *slash = strrchr(path.c_str(), '/');
  int mem = memfd_create(slash ? slash + 1 : path.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) {
    int err = errno;
    close(src);
    return ThrowErrno(env, "memfd_create", err);
  }
  char buf[65536];
  ssize_t n;
  while ((n = read(src, buf, sizeof buf)) > 0) {
    if (write(mem, buf, (size_t)n) != n) {
      int err = errno;
      close(src);
      close(mem);
      return ThrowErrno(env, "write", err);
    }
  }
  close(src);
  if (n < 0 || fcntl(mem, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    int err = errno;
    close(mem);
    return ThrowErrno(env, "sealing the memfd", err);
  }
  return Napi::Number::New(env, mem);
}

// socketpair() -> [parentFd, childFd], SOCK_SEQPACKET, close-on-exec.
static Napi::Value SocketPair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return ThrowErrno(env, "socketpair", errno);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, sv[0]);
  out.Set(1u, sv[1]);
  return out;
}

// recv(fd, timeoutMs) -> string message, "" on EOF, null on timeout.
static Napi::Value RecvMessage(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int timeout = info[1].As<Napi::Number>().Int32Value();
  struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
  int rc;
  do rc = poll(&p, 1, timeout);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return ThrowErrno(env, "poll", errno);
  if (rc == 0) return env.Null();
  std::vector<char> buf(65536);
  int passed;
  bool truncated;
  ssize_t n = RecvWithFd(fd, buf.data(), buf.size(), &passed, &truncated);
  if (n < 0) {
    if (errno == ECONNRESET) return Napi::String::New(env, "");
    return ThrowErrno(env, "recv", errno);
  }
  // What the child says is refused whole rather than cut; an empty datagram is not mistaken for
  // the socket's end (after "ready", exec reads the end as "the program runs").
  if (truncated || (n == 0 && passed >= 0)) {
    if (passed >= 0) close(passed);
    return ThrowErrno(env, "recv (a message cut or empty with an fd)", EMSGSIZE);
  }
  if (n == 0 && !(p.revents & (POLLHUP | POLLRDHUP))) return ThrowErrno(env, "recv (an empty message)", EBADMSG);
  if (passed >= 0) {
    // A message carrying an fd: {text, fd}.
    Napi::Object out = Napi::Object::New(env);
    out.Set("text", Napi::String::New(env, buf.data(), (size_t)n));
    out.Set("fd", passed);
    return out;
  }
  return Napi::String::New(env, buf.data(), (size_t)n);
}

// sendWithFd(socket, text, fd): one message with an fd attached (SCM_RIGHTS).
static Napi::Value SendWithFdJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string text = info[1].As<Napi::String>().Utf8Value();
  if (SendWithFd(info[0].As<Napi::Number>().Int32Value(), text.data(), text.size(),
                 info[2].As<Napi::Number>().Int32Value()) < 0) {
    return ThrowErrno(env, "sendmsg", errno);
  }
  return env.Undefined();
}

// send(fd, message)
static Napi::Value SendMessage(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string msg = info[1].As<Napi::String>().Utf8Value();
  ssize_t n;
  do n = send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, "send", errno);
  return env.Undefined();
}

// waitpid(pid, nohang) -> {pid, exitCode, signal} or null when nohang and still running.
static Napi::Value WaitPid(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  bool nohang = info[1].As<Napi::Boolean>().Value();
  int status = 0;
  pid_t rc;
  do rc = waitpid(pid, &status, nohang ? WNOHANG : 0);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return ThrowErrno(env, "waitpid", errno);
  if (rc == 0) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", rc);
  out.Set("exitCode", WIFEXITED(status) ? Napi::Value(Napi::Number::New(env, WEXITSTATUS(status))) : env.Null());
  out.Set("signal", WIFSIGNALED(status) ? Napi::Value(Napi::Number::New(env, WTERMSIG(status))) : env.Null());
  return out;
}

// mkfifo(path, mode)
static Napi::Value MkFifo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (mkfifo(path.c_str(), (mode_t)info[1].As<Napi::Number>().Uint32Value()) < 0)
    return ThrowErrno(env, "mkfifo", errno);
  return env.Undefined();
}

// openPath(path) -> O_PATH|O_CLOEXEC fd (Node's fs cannot open O_PATH)
static Napi::Value OpenPath(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, "open", errno);
  return Napi::Number::New(env, fd);
}

// setSubreaper(on)
static Napi::Value SetSubreaper(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (prctl(PR_SET_CHILD_SUBREAPER, info[0].As<Napi::Boolean>().Value() ? 1 : 0, 0, 0, 0) < 0)
    return ThrowErrno(env, "prctl", errno);
  return env.Undefined();
}

// spawnProgram(file, argv[], env[], fds[]) -> pid: SpawnProgram (spawn.h), the child's fd i
// being fds[i] (-1: /dev/null) and nothing else.
static Napi::Value SpawnProgramJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string file = info[0].As<Napi::String>().Utf8Value();
  auto strings = [](Napi::Array a) {
    std::vector<std::string> out;
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    return out;
  };
  std::vector<std::string> args = strings(info[1].As<Napi::Array>());
  std::vector<std::string> envs = strings(info[2].As<Napi::Array>());
  Napi::Array fdList = info[3].As<Napi::Array>();
  if (fdList.Length() > (uint32_t)kProgramMaxFds) return ThrowErrno(env, "spawnProgram (too many fds)", EINVAL);
  std::vector<int> fds;
  for (uint32_t i = 0; i < fdList.Length(); i++) fds.push_back(fdList.Get(i).As<Napi::Number>().Int32Value());
  std::vector<const char *> argv, envp;
  for (const std::string &a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  for (const std::string &e : envs) envp.push_back(e.c_str());
  envp.push_back(nullptr);
  int err = 0;
  const char *what = "spawn";
  pid_t pid = SpawnProgram(file.c_str(), argv.data(), envp.data(), fds.data(), (int)fds.size(), &err, &what);
  if (pid < 0) return ThrowErrno(env, what, err);
  return Napi::Number::New(env, pid);
}

// recvPacket(fd, timeoutMs) -> {data: Buffer, fds: number[]} (data empty at EOF), null on timeout.
// One whole message of a SOCK_SEQPACKET socket with the fds it carried (close-on-exec); a message
// or fds cut short are refused (EMSGSIZE), their fds closed.
static Napi::Value RecvPacket(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int timeout = info[1].As<Napi::Number>().Int32Value();
  int rc = PollIn(fd, timeout);
  if (rc < 0) return ThrowErrno(env, "poll", errno);
  if (rc == 0) return env.Null();
  std::vector<char> buf(1 << 20);
  int fds[kMaxPassedFds];
  size_t count = 0;
  bool truncated = false;
  ssize_t n = RecvWithFds(fd, buf.data(), buf.size(), 0, fds, kMaxPassedFds, &count, &truncated);
  if (n < 0) {
    if (errno == ECONNRESET)
      n = 0;
    else
      return ThrowErrno(env, "recvmsg", errno);
  }
  if (truncated) {
    for (size_t i = 0; i < count; i++) close(fds[i]);
    return ThrowErrno(env, "recvmsg (a message or its fds cut short)", EMSGSIZE);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<char>::Copy(env, buf.data(), (size_t)n));
  Napi::Array list = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; i++) list.Set((uint32_t)i, fds[i]);
  out.Set("fds", list);
  return out;
}

// sendPacket(fd, data): one message (MSG_NOSIGNAL: a closed peer is EPIPE).
static Napi::Value SendPacket(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  ssize_t n;
  do n = send(fd, data.Data(), data.Length(), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, "send", errno);
  if ((size_t)n != data.Length()) return ThrowErrno(env, "send (cut short)", EMSGSIZE);
  return env.Undefined();
}

// bindMount(source, target): mount --rbind in this process's mount namespace (the host's).
static Napi::Value BindMount(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string source = info[0].As<Napi::String>().Utf8Value();
  std::string target = info[1].As<Napi::String>().Utf8Value();
  if (mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
    return ThrowErrno(env, "mount", errno);
  return env.Undefined();
}

// unmountDetach(target): umount2(MNT_DETACH | UMOUNT_NOFOLLOW).
static Napi::Value UnmountDetach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string target = info[0].As<Napi::String>().Utf8Value();
  if (umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) < 0) return ThrowErrno(env, "umount2", errno);
  return env.Undefined();
}

void RegisterSys(Napi::Env env, Napi::Object exports) {
  exports.Set("spawnProgram", Napi::Function::New(env, SpawnProgramJs, "spawnProgram"));
  exports.Set("recvPacket", Napi::Function::New(env, RecvPacket, "recvPacket"));
  exports.Set("sendPacket", Napi::Function::New(env, SendPacket, "sendPacket"));
  exports.Set("bindMount", Napi::Function::New(env, BindMount, "bindMount"));
  exports.Set("unmountDetach", Napi::Function::New(env, UnmountDetach, "unmountDetach"));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("recvMessage", Napi::Function::New(env, RecvMessage, "recvMessage"));
  exports.Set("sendMessage", Napi::Function::New(env, SendMessage, "sendMessage"));
  exports.Set("sendWithFd", Napi::Function::New(env, SendWithFdJs, "sendWithFd"));
  exports.Set("waitPid", Napi::Function::New(env, WaitPid, "waitPid"));
  exports.Set("mkfifo", Napi::Function::New(env, MkFifo, "mkfifo"));
  exports.Set("openPath", Napi::Function::New(env, OpenPath, "openPath"));
  exports.Set("setSubreaper", Napi::Function::New(env, SetSubreaper, "setSubreaper"));
  exports.Set("sealedCopy", Napi::Function::New(env, SealedCopy, "sealedCopy"));
  exports.Set("recvFd", Napi::Function::New(env, RecvFd, "recvFd"));
  exports.Set("setWinsize", Napi::Function::New(env, SetWinsize, "setWinsize"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("poll", Napi::Function::New(env, Poll, "poll"));
  exports.Set("connectUnix", Napi::Function::New(env, ConnectUnix, "connectUnix"));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("bindUnixgram", Napi::Function::New(env, BindUnixgram, "bindUnixgram"));
  exports.Set("recvDatagram", Napi::Function::New(env, RecvDatagram, "recvDatagram"));
  exports.Set("sendUnixgram", Napi::Function::New(env, SendUnixgram, "sendUnixgram"));
}

}  // namespace tsrunc
