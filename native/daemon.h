// The resident server's native side (native/daemon.cc): see native/front/protocol.h.
#pragma once
#include <napi.h>

namespace tsrunc {

void RegisterDaemon(Napi::Env env, Napi::Object exports);

}  // namespace tsrunc
