// linux.netDevices on the host's side: inspect, move and configure host interfaces (netdev.cc).
#pragma once
#include <napi.h>

namespace tsrunc {

void RegisterNetdev(Napi::Env env, Napi::Object exports);

}  // namespace tsrunc
