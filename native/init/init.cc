// tsrunc-init's entry: checks how it was started, forgets what the runtime's clone left behind
// (signal dispositions, the signal mask), reads the plan and runs its steps.
//
// Messages to the parent over the sync socket (one datagram each):
//   "sync TAG"          waiting for the parent's ack ("ack", an fd may carry data; or "abort")
//   "pid N"             the next steps run in process N (after OP_FORK); waits for "ack"
//   "ready"             setup finished; the init now waits for `start`
//   "error I CODE TEXT" step I (-1: before the first step) failed with errno CODE
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../fdpass.h"
#include "../ops.h"

namespace tsrunc {

int g_base;
int g_slots;
int g_sync = -1;
int g_runtime = -1;
int g_step = -1;

void SendRaw(const char *buf, size_t len) {
  if (g_sync < 0) return;
  ssize_t rc;
  do rc = send(g_sync, buf, len, MSG_NOSIGNAL);
  while (rc < 0 && errno == EINTR);
  // After wait-start the channel is exec.fifo, where `start` reads what follows the byte.
  if (rc < 0 && errno == ENOTSOCK) {
    // A `start` killed meanwhile leaves no reader: EPIPE, not death by SIGPIPE (we _exit next).
    struct sigaction ign = {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, NULL);
    do rc = write(g_sync, buf, len);
    while (rc < 0 && errno == EINTR);
  }
}

const char *ErrnoText(int err, char *buf, size_t size) {
  const char *desc = strerrordesc_np(err);
  snprintf(buf, size, "%s", desc ? desc : "unknown error");
  // Go's wording, which runc's callers match case-sensitively ("no such file or directory")
  if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z')) buf[0] = (char)(buf[0] - 'A' + 'a');
  return buf;
}

void Fail(const char *what, int err) {
  char text[128];
  char full[1024];
  snprintf(full, sizeof full, "%s: %s", what, ErrnoText(err, text, sizeof text));
  FailText(full, err);
}

void FailText(const char *message, int err) {
  char buf[1200];
  const char *name = strerrorname_np(err);
  int len = snprintf(buf, sizeof buf, "error %d %s %s", g_step, name ? name : "EUNKNOWN", message);
  size_t n = len < 0 ? 0 : (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1;
  if (g_sync >= 0) {
    SendRaw(buf, n);
  } else {
    // Nobody listens any more (after "ready", before the fifo opened): the container's stderr
    // is the only place left to say why it died.
    buf[n] = '\n';
    if (write(2, buf, n + 1) < 0) {
    }
  }
  _exit(1);
}

// Reads all of fd from offset 0 into out.
static bool ReadAll(int fd, std::vector<uint8_t> &out) {
  out.clear();
  uint8_t chunk[65536];
  off_t off = 0;
  for (;;) {
    ssize_t n = pread(fd, chunk, sizeof chunk, off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out.insert(out.end(), chunk, chunk + n);
    off += n;
  }
}

// A pidfd of the parent (the runtime process: bin/tsrunc's node, or a served command's front),
// moved above the plan's slots; opened only while the parent is still ours (a parent that died
// before is the end of this process). Without pidfd_open (a kernel before 5.3, or a seccomp
// filter of the caller's refusing it) the socket's EOF stays the only sign, as before.
static void WatchRuntime() {
  pid_t parent = getppid();
  int fd = (int)syscall(SYS_pidfd_open, parent, 0);
  if (fd < 0) return;
  if (getppid() != parent) _exit(1);
  int high = fcntl(fd, F_DUPFD_CLOEXEC, g_base + g_slots);
  if (high < 0) Fail("moving the runtime's pidfd above the plan's fds", errno);
  close(fd);
  g_runtime = high;
}

void ForgetRuntime() {
  if (g_runtime >= 0) close(g_runtime);
  g_runtime = -1;
}

// Receives one message (and the fd it may carry) from the sync socket; the parent gone is the
// end of this process: nobody is left to finish the setup for.
static ssize_t Receive(char *buf, size_t size, int *fd) {
  bool truncated;
  // The runtime process that started this one may die while another holds the socket's other
  // end (a served command's worker, which its server kills only once it has seen the front go):
  // its exit ends this process as soon as a closed socket would. A message already sent is read
  // first (an ack the runtime sent before it died lets the setup finish, as with EOF after it).
  while (g_runtime >= 0) {
    struct pollfd p[2] = {{g_sync, POLLIN, 0}, {g_runtime, POLLIN, 0}};
    int rc = poll(p, 2, -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) {
      ForgetRuntime();  // (the socket alone, as without a pidfd)
      break;
    }
    if (p[0].revents != 0) break;
    if (p[1].revents != 0) _exit(1);
  }
  ssize_t n = RecvWithFd(g_sync, buf, size, fd, &truncated);
  if (n <= 0) _exit(1);
  if (truncated) Fail("a message from the runtime was cut", EMSGSIZE);
  return n;
}

void WaitAck(std::string *payload) {
  char buf[64];
  int fd;
  ssize_t n = Receive(buf, sizeof buf, &fd);
  if (n != 3 || memcmp(buf, "ack", 3) != 0) _exit(1);  // "abort", or not our parent
  if (fd >= 0) {
    // The data comes as a file (any size: the state documents for hooks can be large).
    std::vector<uint8_t> data;
    if (!ReadAll(fd, data)) Fail("reading the data of the runtime's ack", errno);
    close(fd);
    if (payload != NULL) payload->assign(data.begin(), data.end());
  }
}

void Sync(const char *tag, std::string *payload) {
  char buf[256];
  int len = snprintf(buf, sizeof buf, "sync %s", tag);
  SendRaw(buf, (size_t)len);
  WaitAck(payload);
}

void SendFdSync(const char *tag, int fd) {
  char text[256];
  int len = snprintf(text, sizeof text, "sync %s", tag);
  if (SendWithFd(g_sync, text, (size_t)len, fd) < 0) Fail("sending an fd to the runtime", errno);
  WaitAck(NULL);
}

// ---- the plan ----

namespace {
struct Reader {
  const uint8_t *p, *end;
  bool ok = true;
  template <typename T>
  T Get() {
    T v{};
    if ((size_t)(end - p) < sizeof v) return ok = false, v;
    memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  uint32_t U32() { return Get<uint32_t>(); }
  int64_t I64() { return Get<int64_t>(); }
  bool Bytes(size_t len, const uint8_t **out) {
    if ((size_t)(end - p) < len) return ok = false;
    *out = p;
    p += len;
    return true;
  }
};
}  // namespace

static_assert(sizeof(size_t) >= 8, "ParsePlan's length checks need a 64-bit size_t");

int SlotFd(int64_t slot) {
  if (slot < 0 || slot >= g_slots) Fail("the plan names an fd slot it does not have", EBADF);
  return g_base + (int)slot;
}

bool ParsePlan(const std::vector<uint8_t> &bytes, Plan &plan, const char **why) {
  Reader r{bytes.data(), bytes.data() + bytes.size()};
  const uint8_t *magic;
  if (!r.Bytes(PLAN_MAGIC_LEN, &magic) || memcmp(magic, PLAN_MAGIC, PLAN_MAGIC_LEN) != 0)
    return *why = "not a tsrunc plan", false;
  if (r.U32() != PLAN_VERSION)
    return *why = "a plan of another tsrunc version (the addon and tsrunc-init differ)", false;
  plan.base = (int)r.U32();
  plan.slots = (int)r.U32();
  uint32_t count = r.U32();
  if (!r.ok || plan.base < 3 || plan.base > 65536 || plan.slots < 1 || plan.slots > 16)
    return *why = "a malformed plan header", false;
  // (each step takes 16 bytes at least: a count the bytes cannot hold is refused before any allocation)
  if (count >= 100000 || (size_t)count * 16 > (size_t)(r.end - r.p)) return *why = "a plan with too many steps", false;
  plan.steps.resize(count);
  for (Step &st : plan.steps) {
    st.op = (int)r.U32();
    uint32_t ns = r.U32(), nn = r.U32(), nb = r.U32();
    if (!r.ok || st.op <= 0 || st.op >= OP_COUNT) return *why = "a plan step with an unknown opcode", false;
    if ((size_t)(r.end - r.p) < (size_t)ns * 4 + (size_t)nn * 8 + nb) return *why = "a truncated plan", false;
    st.s.resize(ns);
    st.isNull.resize(ns);
    for (uint32_t i = 0; i < ns; i++) {
      uint32_t len = r.U32();
      if (len == PLAN_NULL_STRING) {
        st.isNull[i] = true;
        continue;
      }
      const uint8_t *data;
      if (!r.Bytes(len, &data)) return *why = "a truncated plan", false;
      // A NUL would cut the string that the runtime checked: never pass it on.
      if (memchr(data, '\0', len) != NULL) return *why = "a plan string with a NUL character", false;
      st.s[i].assign((const char *)data, len);
    }
    st.n.resize(nn);
    for (uint32_t i = 0; i < nn; i++) st.n[i] = r.I64();
    const uint8_t *blob;
    if (!r.Bytes(nb, &blob)) return *why = "a truncated plan", false;
    st.b.assign(blob, blob + nb);
    if (!r.ok) return *why = "a truncated plan", false;
  }
  if (r.p != r.end) return *why = "trailing bytes after the plan", false;
  for (Step &st : plan.steps) {
    for (size_t i = 0; i < st.s.size(); i++) st.sp.push_back(st.isNull[i] ? nullptr : st.s[i].c_str());
    st.sp.push_back(nullptr);
  }
  return true;
}

}  // namespace tsrunc

using namespace tsrunc;

static int ParseFd(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  return (errno != 0 || *end != '\0' || end == s || v < 0 || v > 1 << 20) ? -1 : (int)v;
}

// argv = { "tsrunc-init", PLAN_FD, SYNC_FD } (what a container sees of it in /proc/1/cmdline of
// a created container: nothing of the host)
int main(int argc, char **argv) {
  if (argc != 3 || strcmp(argv[0], "tsrunc-init") != 0) {
    // Run as an interpreter (an image's "#!/proc/self/exe") or by hand: there is nothing to do.
    fputs("tsrunc-init: not a program to run directly\n", stderr);
    return 127;
  }
  // Before anything else: no ptrace or /proc access to this process by the container's users.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int planFd = ParseFd(argv[1]);
  // (a runtime that died before the death signal was armed is seen at the first sync point: EOF)
  g_sync = ParseFd(argv[2]);
  // Node ignores SIGPIPE (kept across execve) and the runtime blocked every signal around the
  // clone: the container starts from the defaults and an empty mask.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (planFd < 0 || g_sync < 0) Fail("tsrunc-init: bad arguments", EINVAL);
  std::vector<uint8_t> bytes;
  if (!ReadAll(planFd, bytes)) Fail("reading the plan", errno);
  close(planFd);
  Plan plan;
  const char *why = "";
  if (!ParsePlan(bytes, plan, &why)) Fail(why, EINVAL);
  bytes = std::vector<uint8_t>();
  g_base = plan.base;
  g_slots = plan.slots;
  if (g_sync != g_base) Fail("tsrunc-init: the sync socket is not the first slot", EINVAL);
  // The slots came without close-on-exec (to survive the execve into this program): nothing this
  // process runs (hooks, the container's program) may inherit them.
  for (int fd = g_base; fd < g_base + g_slots; fd++) {
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) Fail("marking the plan's fds close-on-exec", errno);
  }
  WatchRuntime();
  for (g_step = 0; g_step < (int)plan.steps.size(); g_step++) RunStep(plan.steps[(size_t)g_step]);
  _exit(0);
}
