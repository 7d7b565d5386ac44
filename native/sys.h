// Small host syscalls the TypeScript side needs directly (not in the container's child).
#pragma once
#include <napi.h>

namespace tsrunc {

// Throws a JS Error carrying errno as `code` (e.g. "EAGAIN"), `errno` and `syscall`.
Napi::Value ThrowErrno(Napi::Env env, const char *syscall, int err);

void RegisterSys(Napi::Env env, Napi::Object exports);

}  // namespace tsrunc
