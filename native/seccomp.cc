// Compiles a seccomp profile (already normalised by src/seccomp/profile.ts) into a BPF
// program with libseccomp, in the parent, behind runc's -ENOSYS stub when the profile wants
// it: the child only loads the bytes with seccomp(2), at the point of the plan where runc
// loads it.
#include "seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stddef.h>
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

// The -ENOSYS stub, as runc 1.1.5's patchbpf behaves: a program placed before libseccomp's that
// answers -ENOSYS for syscall numbers above the highest the profile names on the calling
// architecture (and, on s390/s390x, for the multiplexer number 0), so that a program newer
// than the profile (glibc trying clone3, say) sees "not implemented" and falls back instead of
// meeting the default action. Everything else falls through to libseccomp's program.
//
// Per architecture of the profile: its AUDIT_ARCH value, and the largest syscall number of
// the profile's names there (names unknown there are ignored; none known: no section, as runc).
// x86_64 and x32 share AUDIT_ARCH_X86_64 and are told apart by bit 30 of the number.
namespace {

constexpr uint32_t kX32Bit = 0x40000000u;

struct StubArch {
  uint32_t audit;
  int maxNative;  // largest number for the architecture itself (0: none)
  int maxX32;     // x86_64's section only: largest x32 number (bit 30 set; 0: none)
  bool s390;
};

// A stub instruction whose jump targets are still symbolic: a label number, resolved once
// every instruction is placed. kNext: the next instruction.
constexpr int kNext = -1;
struct Insn {
  uint16_t code;
  uint32_t k;
  int jt;  // conditional: label when true; BPF_JA: the label
  int jf;
};

class StubBuilder {
 public:
  int NewLabel() {
    at_.push_back(-1);
    return (int)at_.size() - 1;
  }
  void Place(int label) { at_[label] = (int)insns_.size(); }
  void Emit(uint16_t code, uint32_t k, int jt = kNext, int jf = kNext) { insns_.push_back({code, k, jt, jf}); }
  // The program; false when a jump does not fit (never for the stub's size, but checked).
  bool Assemble(std::vector<struct sock_filter> *out) const {
    for (size_t i = 0; i < insns_.size(); i++) {
      const Insn &in = insns_[i];
      struct sock_filter f = {in.code, 0, 0, in.k};
      if (BPF_CLASS(in.code) == BPF_JMP) {
        if (BPF_OP(in.code) == BPF_JA) {
          long off = Offset(i, in.jt);
          if (off < 0) return false;
          f.k = (uint32_t)off;
        } else {
          long t = Offset(i, in.jt), e = Offset(i, in.jf);
          if (t < 0 || t > 255 || e < 0 || e > 255) return false;
          f.jt = (uint8_t)t;
          f.jf = (uint8_t)e;
        }
      }
      out->push_back(f);
    }
    return true;
  }

 private:
  long Offset(size_t from, int label) const {
    if (label == kNext) return 0;
    if (label < 0 || (size_t)label >= at_.size() || at_[label] < 0) return -1;
    return (long)at_[label] - (long)from - 1;
  }
  std::vector<Insn> insns_;
  std::vector<int> at_;
};

// The largest syscall number (> 0) that `names` have on architecture `token`, 0 if none.
int LargestSyscall(uint32_t token, const std::vector<std::string> &names) {
  int largest = 0;
  for (const std::string &name : names) {
    int nr = seccomp_syscall_resolve_name_arch(token, name.c_str());
    if (nr > largest) largest = nr;
  }
  return largest;
}

// Architectures with at least one known syscall, in the profile's order, one per AUDIT_ARCH.
std::vector<StubArch> StubArchs(const std::vector<uint32_t> &tokens, const std::vector<std::string> &names) {
  std::vector<StubArch> archs;
  for (uint32_t token : tokens) {
    bool x32 = token == SCMP_ARCH_X32;
    uint32_t audit = x32 ? (uint32_t)SCMP_ARCH_X86_64 : token;
    int largest = LargestSyscall(token, names);
    if (largest <= 0) continue;
    StubArch *a = nullptr;
    for (StubArch &have : archs)
      if (have.audit == audit) a = &have;
    if (a == nullptr) {
      archs.push_back({audit, 0, 0, token == SCMP_ARCH_S390 || token == SCMP_ARCH_S390X});
      a = &archs.back();
    }
    (x32 ? a->maxX32 : a->maxNative) = largest;
  }
  return archs;
}

bool EnosysStub(const std::vector<uint32_t> &tokens, const std::vector<std::string> &names,
                std::vector<struct sock_filter> *out) {
  std::vector<StubArch> archs = StubArchs(tokens, names);
  if (archs.empty()) return true;
  const uint16_t ld = BPF_LD | BPF_W | BPF_ABS, ja = BPF_JMP | BPF_JA;
  const uint16_t jeq = BPF_JMP | BPF_JEQ | BPF_K, jgt = BPF_JMP | BPF_JGT | BPF_K, jset = BPF_JMP | BPF_JSET | BPF_K;
  StubBuilder b;
  int filter = b.NewLabel(), enosys = b.NewLabel();
  std::vector<int> sections;
  b.Emit(ld, offsetof(struct seccomp_data, arch));
  for (const StubArch &a : archs) {
    sections.push_back(b.NewLabel());
    b.Emit(jeq, a.audit, sections.back(), kNext);
  }
  b.Emit(ja, 0, filter);  // an architecture the stub does not cover: libseccomp's program decides
  for (size_t i = 0; i < archs.size(); i++) {
    const StubArch &a = archs[i];
    b.Place(sections[i]);
    b.Emit(ld, offsetof(struct seccomp_data, nr));
    if (a.s390) b.Emit(jeq, 0, enosys, kNext);
    if (a.audit == (uint32_t)SCMP_ARCH_X86_64 && a.maxNative > 0 && a.maxX32 > 0) {
      int x32 = b.NewLabel();
      b.Emit(jset, kX32Bit, x32, kNext);
      b.Emit(jgt, (uint32_t)a.maxNative, enosys, filter);
      b.Place(x32);
      b.Emit(jgt, (uint32_t)a.maxX32, enosys, filter);
    } else if (a.audit == (uint32_t)SCMP_ARCH_X86_64 && a.maxX32 > 0) {
      b.Emit(jset, kX32Bit, kNext, filter);  // an x86_64 call: not this profile's
      b.Emit(jgt, (uint32_t)a.maxX32, enosys, filter);
    } else if (a.audit == (uint32_t)SCMP_ARCH_X86_64) {
      b.Emit(jset, kX32Bit, filter, kNext);  // an x32 call: not this profile's
      b.Emit(jgt, (uint32_t)a.maxNative, enosys, filter);
    } else {
      b.Emit(jgt, (uint32_t)a.maxNative, enosys, filter);
    }
  }
  b.Place(enosys);
  b.Emit(BPF_RET | BPF_K, SCMP_ACT_ERRNO(ENOSYS));
  b.Place(filter);
  return b.Assemble(out);
}

}  // namespace

// compileSeccomp({defaultAction, archs: string[], rules: [{name, action, args: [[index, op, value, valueTwo]]}],
//                 enosysStub?: boolean, names?: string[]})
//   -> {program: Buffer, skipped: string[]} (syscall names this libseccomp does not know)
// With enosysStub, the program starts with the -ENOSYS stub computed from `names` (every
// syscall name the profile lists, whatever its action).
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
  std::vector<uint32_t> tokens;
  for (uint32_t i = 0; i < archs.Length(); i++) {
    std::string name = archs.Get(i).As<Napi::String>().Utf8Value();
    uint32_t arch = seccomp_arch_resolve_name(name.c_str());
    if (arch == 0) return Fail(env, "unknown seccomp architecture " + name);
    int rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) return Fail(env, "adding seccomp architecture " + name + ": " + strerror(-rc));
    tokens.push_back(arch);
  }
  std::vector<struct sock_filter> program;
  Napi::Value wantStub = profile.Get("enosysStub");
  if (wantStub.IsBoolean() && wantStub.As<Napi::Boolean>().Value()) {
    std::vector<std::string> names;
    Napi::Value list = profile.Get("names");
    if (list.IsArray()) {
      Napi::Array a = list.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) names.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
    if (!EnosysStub(tokens, names, &program)) return Fail(env, "the seccomp -ENOSYS stub has a jump too long for BPF");
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
  size_t stubBytes = program.size() * sizeof(struct sock_filter);
  std::vector<uint8_t> bytes(stubBytes + (size_t)size);
  if (stubBytes > 0) memcpy(bytes.data(), program.data(), stubBytes);
  if (pread(fd, bytes.data() + stubBytes, (size_t)size, 0) != (ssize_t)size) {
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
  return Napi::String::New(info.Env(),
                           std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro));
}

void RegisterSeccomp(Napi::Env env, Napi::Object exports) {
  exports.Set("compileSeccomp", Napi::Function::New(env, CompileSeccomp, "compileSeccomp"));
  exports.Set("seccompVersion", Napi::Function::New(env, SeccompVersion, "seccompVersion"));
}

}  // namespace tsrunc
