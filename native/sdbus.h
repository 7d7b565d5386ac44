// systemd's manager over D-Bus (sd-bus of libsystemd.so.0, loaded with dlopen on first use):
// what the systemd cgroup driver needs (transient units, their properties, their jobs).
#pragma once
#include <napi.h>

namespace tsrunc {

void RegisterSdbus(Napi::Env env, Napi::Object exports);

}  // namespace tsrunc
