// Loads a cgroup v2 device filter (an eBPF program compiled by src/cgroups/device-filter.ts)
// and attaches it to a cgroup directory.
#include "bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys.h"

namespace tsrunc {

static long Bpf(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

// attachDeviceFilter(cgroupDir, instructions: Buffer of struct bpf_insn)
static Napi::Value AttachDeviceFilter(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string dir = info[0].As<Napi::String>().Utf8Value();
  Napi::Buffer<uint8_t> insns = info[1].As<Napi::Buffer<uint8_t>>();
  static char log[65536];
  log[0] = '\0';
  union bpf_attr load;
  memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (uint64_t)(uintptr_t)insns.Data();
  load.insn_cnt = (uint32_t)(insns.Length() / sizeof(struct bpf_insn));
  load.license = (uint64_t)(uintptr_t) "Apache";
  load.log_buf = (uint64_t)(uintptr_t)log;
  load.log_size = sizeof log;
  load.log_level = 1;
  int prog = (int)Bpf(BPF_PROG_LOAD, &load);
  if (prog < 0) {
    int err = errno;
    if (log[0]) {
      Napi::Error::New(env, std::string("loading the device filter: ") + strerror(err) + ": " + log)
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return ThrowErrno(env, "bpf(BPF_PROG_LOAD)", err);
  }
  int cg = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) {
    int err = errno;
    close(prog);
    return ThrowErrno(env, "open cgroup", err);
  }
  union bpf_attr attach;
  memset(&attach, 0, sizeof attach);
  attach.target_fd = (uint32_t)cg;
  attach.attach_bpf_fd = (uint32_t)prog;
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  long rc = Bpf(BPF_PROG_ATTACH, &attach);
  int err = errno;
  close(cg);
  close(prog);  // the attachment keeps the program
  if (rc < 0) return ThrowErrno(env, "bpf(BPF_PROG_ATTACH)", err);
  return env.Undefined();
}

void RegisterBpf(Napi::Env env, Napi::Object exports) {
  exports.Set("attachDeviceFilter", Napi::Function::New(env, AttachDeviceFilter, "attachDeviceFilter"));
}

}  // namespace tsrunc
