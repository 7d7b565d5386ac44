// The native executor: forks a child that carries out a plan (a list of steps computed by
// src/plan) using syscalls only, talking to the parent over a SOCK_SEQPACKET socket.
#pragma once
#include <napi.h>

namespace tsrunc {

void RegisterExecutor(Napi::Env env, Napi::Object exports);

}  // namespace tsrunc
