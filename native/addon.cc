// The addon's entry point. The TypeScript side owns the API (src/native/addon.ts);
// this file only registers the functions.
#include <napi.h>

#include "bpf.h"
#include "daemon.h"
#include "executor.h"
#include "netdev.h"
#include "sdbus.h"
#include "seccomp.h"
#include "sys.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tsrunc::RegisterSys(env, exports);
  tsrunc::RegisterExecutor(env, exports);
  tsrunc::RegisterBpf(env, exports);
  tsrunc::RegisterSeccomp(env, exports);
  tsrunc::RegisterSdbus(env, exports);
  tsrunc::RegisterNetdev(env, exports);
  tsrunc::RegisterDaemon(env, exports);
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  return exports;
}

NODE_API_MODULE(tsrunc, Init)
