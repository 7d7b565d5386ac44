#pragma once
#include <napi.h>

namespace tsrunc {

void RegisterBpf(Napi::Env env, Napi::Object exports);

}  // namespace tsrunc
