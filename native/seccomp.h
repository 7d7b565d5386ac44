#pragma once
#include <napi.h>

namespace tsrunc {

void RegisterSeccomp(Napi::Env env, Napi::Object exports);

}  // namespace tsrunc
