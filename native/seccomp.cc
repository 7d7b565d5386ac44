// Compiles a seccomp profile (already normalised by src/seccomp/profile.ts) into a BPF
// program with libseccomp, in the parent: the child only loads the bytes with seccomp(2),
// at the point of the plan where runc loads it.
#include "seccomp.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "sys.h"

namespace tsrunc {

static Napi::Value Fail(Napi::Env env, const std::string &what) {
  Napi::Error::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

// compileSeccomp({defaultAction, archs: string[], rules: [{name, action, args: [[index, op, value, valueTwo]]}]})
//   -> {program: Buffer, skipped: string[]} (syscall names this libseccomp does not know)
static Napi::Value CompileSeccomp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object profile = info[0].As<Napi::Object>();
  uint32_t defaultAction = profile.Get("defaultAction").As<Napi::Number>().Uint32Value();
  scmp_filter_ctx ctx = seccomp_init(defaultAction);
  if (ctx == nullptr) return Fail(env, "seccomp_init failed");
  struct Guard {
    scmp_filter_ctx c;
    ~Guard() { seccomp_release(c); }
  } guard{ctx};
  Napi::Array archs = profile.Get("archs").As<Napi::Array>();
  for (uint32_t i = 0; i < archs.Length(); i++) {
    std::string name = archs.Get(i).As<Napi::String>().Utf8Value();
    uint32_t arch = seccomp_arch_resolve_name(name.c_str());
    if (arch == 0) return Fail(env, "unknown seccomp architecture " + name);
    int rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) return Fail(env, "adding seccomp architecture " + name + ": " + strerror(-rc));
  }
  Napi::Array skipped = Napi::Array::New(env);
  Napi::Array rules = profile.Get("rules").As<Napi::Array>();
  for (uint32_t i = 0; i < rules.Length(); i++) {
    Napi::Object rule = rules.Get(i).As<Napi::Object>();
    std::string name = rule.Get("name").As<Napi::String>().Utf8Value();
    uint32_t action = rule.Get("action").As<Napi::Number>().Uint32Value();
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) {
      skipped.Set(skipped.Length(), name);
      continue;
    }
    Napi::Array args = rule.Get("args").As<Napi::Array>();
    std::vector<struct scmp_arg_cmp> cmps;
    for (uint32_t j = 0; j < args.Length(); j++) {
      Napi::Array a = args.Get(j).As<Napi::Array>();
      struct scmp_arg_cmp c = {};
      c.arg = a.Get(0u).As<Napi::Number>().Uint32Value();
      c.op = (enum scmp_compare)a.Get(1u).As<Napi::Number>().Uint32Value();
      bool lossless = true;
      c.datum_a = a.Get(2u).As<Napi::BigInt>().Uint64Value(&lossless);
      c.datum_b = a.Get(3u).As<Napi::BigInt>().Uint64Value(&lossless);
      cmps.push_back(c);
    }
    int rc = seccomp_rule_add_array(ctx, action, nr, (unsigned)cmps.size(), cmps.empty() ? nullptr : cmps.data());
    if (rc < 0) return Fail(env, "adding the seccomp rule for " + name + ": " + strerror(-rc));
  }
  int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, "memfd_create", errno);
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0) {
    close(fd);
    return Fail(env, std::string("exporting the seccomp filter: ") + strerror(-rc));
  }
  off_t size = lseek(fd, 0, SEEK_END);
  std::vector<uint8_t> bytes((size_t)size);
  if (pread(fd, bytes.data(), bytes.size(), 0) != (ssize_t)bytes.size()) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "pread", err);
  }
  close(fd);
  Napi::Object out = Napi::Object::New(env);
  out.Set("program", Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
  out.Set("skipped", skipped);
  return out;
}

static Napi::Value SeccompVersion(const Napi::CallbackInfo &info) {
  const struct scmp_version *v = seccomp_version();
  return Napi::String::New(info.Env(), std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro));
}

void RegisterSeccomp(Napi::Env env, Napi::Object exports) {
  exports.Set("compileSeccomp", Napi::Function::New(env, CompileSeccomp, "compileSeccomp"));
  exports.Set("seccompVersion", Napi::Function::New(env, SeccompVersion, "seccompVersion"));
}

}  // namespace tsrunc
