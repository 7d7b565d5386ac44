// systemd's manager over D-Bus, for the systemd cgroup driver (src/native/addon.ts declares the
// functions and their contract).
//
// libsystemd.so.0 is opened with dlopen on the first call of one of these functions, never when
// the addon loads: commands that do not use systemd do not load it, and a host without it fails
// only there, with ENOENT. Every symbol keeps its prototype from <systemd/sd-bus.h> (decltype),
// so a change of signature is a compile error rather than a wrong call.
//
// One connection per Node environment (in practice per process) and scope, opened on first use
// and kept: 'system' is the system bus (falling back, for root, to systemd's private socket when
// the bus cannot be reached, as runc's go-systemd does), 'user' the calling user's bus. sd-bus
// opens its socket close-on-exec. A kept connection found closed is reopened, and a call that
// finds it closed is sent once more on a new one.
//
// Jobs: before the first StartTransientUnit or StopUnit on a connection, Manager.Subscribe and a
// match on Manager.JobRemoved. Every JobRemoved that arrives is remembered (job path -> result),
// including those read while sd_bus_call was waiting for the call's reply, so a job that
// finishes before its own reply is read is not missed.
#include "sdbus.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace tsrunc {

namespace {

// Signals blocked in this thread while it waits on the bus, restored (and any that arrived
// delivered) when it goes out of scope. sd_bus_call (systemd 252 at least) returns -EINTR when a
// signal interrupts its poll -- Node's SIGCHLD handler, say, for a child that exits meanwhile --
// and a call cannot simply be sent again (StartTransientUnit would find its own unit).
class SignalsHeld {
 public:
  SignalsHeld() {
    sigset_t all;
    sigfillset(&all);
    held_ = pthread_sigmask(SIG_BLOCK, &all, &old_) == 0;
  }
  ~SignalsHeld() {
    if (held_) pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalsHeld(const SignalsHeld &) = delete;
  SignalsHeld &operator=(const SignalsHeld &) = delete;

 private:
  sigset_t old_;
  bool held_;
};

#define TSRUNC_SDBUS_SYMBOLS(X)     \
  X(sd_bus_open_system)             \
  X(sd_bus_open_user)               \
  X(sd_bus_new)                     \
  X(sd_bus_set_address)             \
  X(sd_bus_start)                   \
  X(sd_bus_is_open)                 \
  X(sd_bus_flush_close_unref)       \
  X(sd_bus_add_match)               \
  X(sd_bus_call)                    \
  X(sd_bus_process)                 \
  X(sd_bus_wait)                    \
  X(sd_bus_message_new_method_call) \
  X(sd_bus_message_append)          \
  X(sd_bus_message_append_basic)    \
  X(sd_bus_message_append_array)    \
  X(sd_bus_message_open_container)  \
  X(sd_bus_message_close_container) \
  X(sd_bus_message_peek_type)       \
  X(sd_bus_message_read)            \
  X(sd_bus_message_unref)           \
  X(sd_bus_error_get_errno)         \
  X(sd_bus_error_free)

// The functions of libsystemd this file calls, each with the header's own type.
struct SdBus {
#define TSRUNC_SDBUS_MEMBER(name) decltype(&::name) name;
  TSRUNC_SDBUS_SYMBOLS(TSRUNC_SDBUS_MEMBER)
#undef TSRUNC_SDBUS_MEMBER
};

// Loads libsystemd.so.0 and resolves every symbol, once per process (the handle stays open).
// nullptr with *why and *err (an errno) when the library or one of its symbols is missing; the
// next call tries again.
const SdBus *LoadSdBus(std::string *why, int *err) {
  static std::mutex mutex;
  static SdBus lib;
  static bool loaded = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded) return &lib;
  void *handle = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char *text = dlerror();
    *why = std::string("libsystemd.so.0 is not available: ") + (text ? text : "dlopen failed");
    *err = ENOENT;
    return nullptr;
  }
  SdBus found;
#define TSRUNC_SDBUS_RESOLVE(name)                                                                    \
  dlerror();                                                                                          \
  found.name = reinterpret_cast<decltype(found.name)>(dlsym(handle, #name));                          \
  if (found.name == nullptr) {                                                                        \
    const char *text = dlerror();                                                                     \
    *why = std::string("libsystemd.so.0 lacks " #name " (too old?): ") + (text ? text : "not found"); \
    *err = ENOSYS;                                                                                    \
    dlclose(handle);                                                                                  \
    return nullptr;                                                                                   \
  }
  TSRUNC_SDBUS_SYMBOLS(TSRUNC_SDBUS_RESOLVE)
#undef TSRUNC_SDBUS_RESOLVE
  lib = found;
  loaded = true;
  return &lib;
}

const char kDestination[] = "org.freedesktop.systemd1";
const char kManagerPath[] = "/org/freedesktop/systemd1";
const char kManager[] = "org.freedesktop.systemd1.Manager";
const char kUnit[] = "org.freedesktop.systemd1.Unit";
const char kProperties[] = "org.freedesktop.DBus.Properties";
const char kPrivateSocket[] = "unix:path=/run/systemd/private";
const char kNoSuchUnit[] = "org.freedesktop.systemd1.NoSuchUnit";

enum Scope { kSystem = 0, kUser = 1 };

// JobRemoved signals remembered at most (a connection sees every job of the manager).
const size_t kRemovedMax = 4096;

struct Connection {
  const SdBus *lib = nullptr;
  sd_bus *bus = nullptr;
  bool direct = false;                                   // systemd's private socket: no bus daemon, no sender names
  bool matched = false;                                  // the JobRemoved match is installed
  bool subscribed = false;                               // Manager.Subscribe was called
  std::unordered_map<std::string, std::string> removed;  // job path -> result, from JobRemoved
};

void Drop(Connection *conn) {
  if (conn->bus != nullptr) conn->lib->sd_bus_flush_close_unref(conn->bus);
  conn->bus = nullptr;
  conn->direct = conn->matched = conn->subscribed = false;
  conn->removed.clear();
}

// The connections of one Node environment, freed with it.
struct State {
  Connection scopes[2];
  ~State() {
    for (Connection &conn : scopes) Drop(&conn);
  }
};

// Owners of what sd-bus hands out, so that no return path leaks them.
struct Message {
  const SdBus *lib = nullptr;
  sd_bus_message *m = nullptr;
  Message() = default;
  Message(const Message &) = delete;
  Message &operator=(const Message &) = delete;
  void Reset() {
    if (m != nullptr) lib->sd_bus_message_unref(m);
    m = nullptr;
  }
  ~Message() { Reset(); }
};

struct BusError {
  const SdBus *lib = nullptr;
  sd_bus_error e = {nullptr, nullptr, 0};
  BusError() = default;
  BusError(const BusError &) = delete;
  BusError &operator=(const BusError &) = delete;
  void Reset() {
    if (lib != nullptr) lib->sd_bus_error_free(&e);
  }
  ~BusError() { Reset(); }
  bool Is(const char *name) const { return e.name != nullptr && strcmp(e.name, name) == 0; }
};

const char *ErrnoName(int err) {
  const char *name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

// Throws an Error carrying `code` (the errno's name), `errno` (negative, as Node's and
// sys.cc's ThrowErrno) and `dbusName` when there is one.
Napi::Value ThrowError(Napi::Env env, const std::string &message, int err, const char *dbusName) {
  if (err <= 0) err = EIO;
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  if (dbusName != nullptr) e.Set("dbusName", Napi::String::New(env, dbusName));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// One call of a function of this file: its environment, connection and how messages start.
struct Call {
  Napi::Env env;
  State *state;
  Scope scope;
  std::string what;  // "StartTransientUnit(x.scope)"
  const SdBus *lib = nullptr;
  Connection *conn = nullptr;
};

Napi::Value Fail(const Call &c, int err, const std::string &text) {
  return ThrowError(c.env, "systemd " + c.what + ": " + text, err, nullptr);
}

// A failed D-Bus call: systemd's own message (or the errno's text) and name.
Napi::Value FailBus(const Call &c, int r, const BusError &error) {
  int err = error.e.name != nullptr ? c.lib->sd_bus_error_get_errno(&error.e) : -r;
  if (err <= 0) err = r < 0 ? -r : EIO;
  std::string text = error.e.message != nullptr ? error.e.message : strerror(err);
  return ThrowError(c.env, "systemd " + c.what + ": " + text, err, error.e.name);
}

// ---- Input ----------------------------------------------------------------------------------

// A property as validated from JS, ready to be appended without touching JS again.
struct Property {
  std::string name;
  std::string type;  // the variant's signature
  std::string s;
  bool b = false;
  uint64_t t = 0;
  int64_t x = 0;
  uint32_t u = 0;
  int32_t i = 0;
  double d = 0;
  std::vector<std::string> strings;  // as; the first elements of a(ss) and a(st)
  std::vector<std::string> seconds;  // the second elements of a(ss)
  std::vector<uint64_t> numbers;     // the second elements of a(st)
  std::vector<uint32_t> u32s;        // au
  std::vector<uint8_t> bytes;        // ay
};

bool Refuse(Napi::Env env, const std::string &text) {
  // A getter that threw already left its exception.
  if (!env.IsExceptionPending()) Napi::TypeError::New(env, text).ThrowAsJavaScriptException();
  return false;
}

// A JS string that D-Bus can carry (no NUL).
bool GetString(Napi::Value v, std::string *out) {
  if (!v.IsString()) return false;
  *out = v.As<Napi::String>().Utf8Value();
  return out->find('\0') == std::string::npos;
}

bool GetUint32(Napi::Value v, uint32_t *out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != trunc(d)) return false;
  *out = (uint32_t)d;
  return true;
}

bool GetInt32(Napi::Value v, int32_t *out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != trunc(d)) return false;
  *out = (int32_t)d;
  return true;
}

bool GetUint64(Napi::Value v, uint64_t *out) {
  if (!v.IsBigInt()) return false;
  bool lossless = false;
  *out = v.As<Napi::BigInt>().Uint64Value(&lossless);
  return lossless;
}

bool GetInt64(Napi::Value v, int64_t *out) {
  if (!v.IsBigInt()) return false;
  bool lossless = false;
  *out = v.As<Napi::BigInt>().Int64Value(&lossless);
  return lossless;
}

// The elements of a JS array; false if `v` is not one (or a getter threw).
bool GetElements(Napi::Env env, Napi::Value v, std::vector<Napi::Value> *out) {
  if (!v.IsArray()) return false;
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  out->clear();
  out->reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value e = a.Get(i);
    if (env.IsExceptionPending()) return false;
    out->push_back(e);
  }
  return true;
}

// [first, second] of a(ss) or a(st).
bool GetPair(Napi::Env env, Napi::Value v, Napi::Value *first, Napi::Value *second) {
  std::vector<Napi::Value> pair;
  if (!GetElements(env, v, &pair) || pair.size() != 2) return false;
  *first = pair[0];
  *second = pair[1];
  return true;
}

bool ParseValue(Napi::Env env, Napi::Value v, Property *p) {
  const std::string &t = p->type;
  const std::string bad = "systemd property " + p->name + ": ";
  std::vector<Napi::Value> items;
  if (t == "s") {
    if (!GetString(v, &p->s)) return Refuse(env, bad + "type 's' needs a string (without NUL)");
  } else if (t == "b") {
    if (!v.IsBoolean()) return Refuse(env, bad + "type 'b' needs a boolean");
    p->b = v.As<Napi::Boolean>().Value();
  } else if (t == "t") {
    if (!GetUint64(v, &p->t)) return Refuse(env, bad + "type 't' needs a BigInt from 0 to 2^64-1");
  } else if (t == "x") {
    if (!GetInt64(v, &p->x)) return Refuse(env, bad + "type 'x' needs a BigInt from -2^63 to 2^63-1");
  } else if (t == "u") {
    if (!GetUint32(v, &p->u)) return Refuse(env, bad + "type 'u' needs an integer from 0 to 2^32-1");
  } else if (t == "i") {
    if (!GetInt32(v, &p->i)) return Refuse(env, bad + "type 'i' needs an integer from -2^31 to 2^31-1");
  } else if (t == "d") {
    if (!v.IsNumber()) return Refuse(env, bad + "type 'd' needs a number");
    p->d = v.As<Napi::Number>().DoubleValue();
  } else if (t == "as") {
    if (!GetElements(env, v, &items)) return Refuse(env, bad + "type 'as' needs an array of strings");
    for (const Napi::Value &e : items) {
      std::string s;
      if (!GetString(e, &s)) return Refuse(env, bad + "type 'as' needs an array of strings (without NUL)");
      p->strings.push_back(s);
    }
  } else if (t == "au") {
    if (!GetElements(env, v, &items)) return Refuse(env, bad + "type 'au' needs an array of integers");
    for (const Napi::Value &e : items) {
      uint32_t u;
      if (!GetUint32(e, &u)) return Refuse(env, bad + "type 'au' needs an array of integers from 0 to 2^32-1");
      p->u32s.push_back(u);
    }
  } else if (t == "ay") {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      return Refuse(env, bad + "type 'ay' needs a Buffer");
    Napi::Uint8Array bytes = v.As<Napi::Uint8Array>();
    p->bytes.assign(bytes.Data(), bytes.Data() + bytes.ElementLength());
  } else if (t == "a(ss)" || t == "a(st)") {
    bool st = t == "a(st)";
    const std::string shape = bad + "type '" + t + "' needs an array of [string, " + (st ? "BigInt" : "string") + "]" +
                              (st ? " (a BigInt from 0 to 2^64-1)" : "");
    if (!GetElements(env, v, &items)) return Refuse(env, shape);
    for (const Napi::Value &e : items) {
      Napi::Value first, second;
      std::string a, b;
      uint64_t n = 0;
      if (!GetPair(env, e, &first, &second) || !GetString(first, &a)) return Refuse(env, shape);
      if (st ? !GetUint64(second, &n) : !GetString(second, &b)) return Refuse(env, shape);
      p->strings.push_back(a);
      if (st)
        p->numbers.push_back(n);
      else
        p->seconds.push_back(b);
    }
  } else {
    return Refuse(env, bad + "type '" + t + "' is not one of s, b, t, u, i, x, d, as, au, ay, a(ss), a(st)");
  }
  return true;
}

// properties: [{name, value: {type, value}}] (SystemdProperty[]).
bool ParseProperties(Napi::Env env, Napi::Value v, std::vector<Property> *out) {
  std::vector<Napi::Value> items;
  if (!GetElements(env, v, &items)) return Refuse(env, "systemd properties: not an array");
  for (size_t i = 0; i < items.size(); i++) {
    Property p;
    const std::string label = "systemd property #" + std::to_string(i);
    if (!items[i].IsObject()) return Refuse(env, label + ": not an object {name, value}");
    Napi::Object o = items[i].As<Napi::Object>();
    Napi::Value name = o.Get("name");
    if (env.IsExceptionPending()) return false;
    if (!GetString(name, &p.name) || p.name.empty()) return Refuse(env, label + ": its name is not a non-empty string");
    Napi::Value value = o.Get("value");
    if (env.IsExceptionPending()) return false;
    if (!value.IsObject())
      return Refuse(env, "systemd property " + p.name + ": its value is not an object {type, value}");
    Napi::Value type = value.As<Napi::Object>().Get("type");
    if (env.IsExceptionPending()) return false;
    Napi::Value inner = value.As<Napi::Object>().Get("value");
    if (env.IsExceptionPending()) return false;
    if (!GetString(type, &p.type)) return Refuse(env, "systemd property " + p.name + ": value.type is not a string");
    if (!ParseValue(env, inner, &p)) return false;
    out->push_back(std::move(p));
  }
  return true;
}

bool ParseScope(Napi::Env env, Napi::Value v, Scope *out) {
  std::string s;
  if (!GetString(v, &s) || (s != "system" && s != "user")) return Refuse(env, "systemd scope: not 'system' or 'user'");
  *out = s == "user" ? kUser : kSystem;
  return true;
}

bool ParseName(Napi::Env env, Napi::Value v, const char *what, std::string *out) {
  if (!GetString(v, out) || out->empty())
    return Refuse(env, std::string("systemd ") + what + ": not a non-empty string (without NUL)");
  return true;
}

// timeoutMs -> microseconds.
bool ParseTimeout(Napi::Env env, Napi::Value v, uint64_t *usec) {
  double ms = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(ms > 0 && ms <= 1e12)) return Refuse(env, "systemd timeoutMs: not a positive number of milliseconds");
  *usec = (uint64_t)(ms * 1000);
  return true;
}

// ---- Output: message building ---------------------------------------------------------------

int AppendValue(const SdBus *lib, sd_bus_message *m, const Property &p) {
  const std::string &t = p.type;
  int r;
  if (t == "s") return lib->sd_bus_message_append_basic(m, 's', p.s.c_str());
  if (t == "b") {
    int b = p.b;
    return lib->sd_bus_message_append_basic(m, 'b', &b);
  }
  if (t == "t") return lib->sd_bus_message_append_basic(m, 't', &p.t);
  if (t == "x") return lib->sd_bus_message_append_basic(m, 'x', &p.x);
  if (t == "u") return lib->sd_bus_message_append_basic(m, 'u', &p.u);
  if (t == "i") return lib->sd_bus_message_append_basic(m, 'i', &p.i);
  if (t == "d") return lib->sd_bus_message_append_basic(m, 'd', &p.d);
  if (t == "au") return lib->sd_bus_message_append_array(m, 'u', p.u32s.data(), p.u32s.size() * sizeof(uint32_t));
  if (t == "ay") return lib->sd_bus_message_append_array(m, 'y', p.bytes.data(), p.bytes.size());
  if (t == "as") {
    if ((r = lib->sd_bus_message_open_container(m, 'a', "s")) < 0) return r;
    for (const std::string &s : p.strings)
      if ((r = lib->sd_bus_message_append_basic(m, 's', s.c_str())) < 0) return r;
    return lib->sd_bus_message_close_container(m);
  }
  if (t == "a(ss)" || t == "a(st)") {
    bool st = t == "a(st)";
    if ((r = lib->sd_bus_message_open_container(m, 'a', st ? "(st)" : "(ss)")) < 0) return r;
    for (size_t i = 0; i < p.strings.size(); i++) {
      if ((r = lib->sd_bus_message_open_container(m, 'r', st ? "st" : "ss")) < 0) return r;
      if ((r = lib->sd_bus_message_append_basic(m, 's', p.strings[i].c_str())) < 0) return r;
      r = st ? lib->sd_bus_message_append_basic(m, 't', &p.numbers[i])
             : lib->sd_bus_message_append_basic(m, 's', p.seconds[i].c_str());
      if (r < 0) return r;
      if ((r = lib->sd_bus_message_close_container(m)) < 0) return r;
    }
    return lib->sd_bus_message_close_container(m);
  }
  return -EINVAL;  // ParseValue let no other type through
}

// a(sv); *where names the property being appended when it fails.
int AppendProperties(const SdBus *lib, sd_bus_message *m, const std::vector<Property> &props, std::string *where) {
  int r;
  if ((r = lib->sd_bus_message_open_container(m, 'a', "(sv)")) < 0) return r;
  for (const Property &p : props) {
    *where = p.name;
    if ((r = lib->sd_bus_message_open_container(m, 'r', "sv")) < 0) return r;
    if ((r = lib->sd_bus_message_append_basic(m, 's', p.name.c_str())) < 0) return r;
    if ((r = lib->sd_bus_message_open_container(m, 'v', p.type.c_str())) < 0) return r;
    if ((r = AppendValue(lib, m, p)) < 0) return r;
    if ((r = lib->sd_bus_message_close_container(m)) < 0) return r;
    if ((r = lib->sd_bus_message_close_container(m)) < 0) return r;
  }
  where->clear();
  return lib->sd_bus_message_close_container(m);
}

// ---- Connection and calls -------------------------------------------------------------------

int OpenPrivate(const SdBus *lib, sd_bus **out) {
  sd_bus *bus = nullptr;
  int r = lib->sd_bus_new(&bus);
  if (r < 0) return r;
  r = lib->sd_bus_set_address(bus, kPrivateSocket);
  if (r >= 0) r = lib->sd_bus_start(bus);
  if (r < 0) {
    lib->sd_bus_flush_close_unref(bus);
    return r;
  }
  *out = bus;
  return 0;
}

// Loads libsystemd and opens (or reuses) the scope's connection; false after throwing.
bool Connect(Call &c) {
  std::string why;
  int err = 0;
  c.lib = LoadSdBus(&why, &err);
  if (c.lib == nullptr) {
    Fail(c, err, why);
    return false;
  }
  Connection &conn = c.state->scopes[c.scope];
  conn.lib = c.lib;
  c.conn = &conn;
  if (conn.bus != nullptr && c.lib->sd_bus_is_open(conn.bus) <= 0) Drop(&conn);
  if (conn.bus != nullptr) return true;
  sd_bus *bus = nullptr;
  int r;
  if (c.scope == kUser) {
    r = c.lib->sd_bus_open_user(&bus);
    if (r < 0) {
      Fail(c, -r, std::string("connecting to the user bus: ") + strerror(-r));
      return false;
    }
  } else {
    r = c.lib->sd_bus_open_system(&bus);
    if (r < 0) {
      std::string text = std::string("connecting to the system bus: ") + strerror(-r);
      if (geteuid() != 0) {
        Fail(c, -r, text);
        return false;
      }
      int r2 = OpenPrivate(c.lib, &bus);
      if (r2 < 0) {
        Fail(c, -r, text + "; to systemd's private socket (" + kPrivateSocket + "): " + strerror(-r2));
        return false;
      }
      conn.direct = true;
    }
  }
  conn.bus = bus;
  return true;
}

int OnJobRemoved(sd_bus_message *m, void *userdata, sd_bus_error *) {
  Connection *conn = static_cast<Connection *>(userdata);
  uint32_t id = 0;
  const char *job = nullptr, *unit = nullptr, *result = nullptr;
  if (conn->lib->sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
  if (conn->removed.size() >= kRemovedMax) conn->removed.clear();
  conn->removed[job] = result;
  return 0;
}

// Manager.Subscribe and the JobRemoved match, once per connection; false after throwing.
bool Watch(Call &c) {
  Connection &conn = *c.conn;
  int r;
  if (!conn.matched) {
    // Through a bus, only what systemd sends (the daemon checks the sender); on the private
    // socket messages carry no sender.
    std::string match = "type='signal',";
    if (!conn.direct) match += std::string("sender='") + kDestination + "',";
    match += std::string("path='") + kManagerPath + "',interface='" + kManager + "',member='JobRemoved'";
    r = c.lib->sd_bus_add_match(conn.bus, nullptr, match.c_str(), OnJobRemoved, &conn);
    if (r < 0) {
      Fail(c, -r, std::string("adding a match for JobRemoved: ") + strerror(-r));
      return false;
    }
    conn.matched = true;
  }
  if (!conn.subscribed) {
    Message m, reply;
    BusError error;
    m.lib = reply.lib = error.lib = c.lib;
    r = c.lib->sd_bus_message_new_method_call(conn.bus, &m.m, kDestination, kManagerPath, kManager, "Subscribe");
    if (r >= 0) {
      SignalsHeld held;
      r = c.lib->sd_bus_call(conn.bus, m.m, 0, &error.e, &reply.m);
    }
    if (r < 0 && !error.Is("org.freedesktop.systemd1.AlreadySubscribed")) {
      Call subscribe = c;
      subscribe.what += ": Subscribe";
      FailBus(subscribe, r, error);
      return false;
    }
    conn.subscribed = true;
  }
  return true;
}

bool Disconnected(int r) { return r == -ENOTCONN || r == -ECONNRESET || r == -EPIPE || r == -ESHUTDOWN; }

// Calls `member` of `iface` on `path`, with the arguments `fill` appends, and waits up to usec
// (0: sd-bus's default) for the reply. A connection that turns out to be closed is replaced and
// the call sent once more. false after throwing (cannot connect or build); otherwise *r is
// sd_bus_call's result, with *error and *reply.
template <typename Fill>
bool CallMethod(Call &c, bool jobs, const char *path, const char *iface, const char *member, uint64_t usec, Fill fill,
                int *r, BusError *error, Message *reply) {
  for (int attempt = 0;; attempt++) {
    if (!Connect(c) || (jobs && !Watch(c))) return false;
    error->Reset();
    reply->Reset();
    Message m;
    m.lib = error->lib = reply->lib = c.lib;
    std::string where;
    int rc = c.lib->sd_bus_message_new_method_call(c.conn->bus, &m.m, kDestination, path, iface, member);
    if (rc >= 0) rc = fill(m.m, &where);
    if (rc < 0) {
      Fail(
          c, -rc,
          std::string("building the call") + (where.empty() ? "" : " (property " + where + ")") + ": " + strerror(-rc));
      return false;
    }
    // Job results seen before this call are of other jobs.
    if (jobs) c.conn->removed.clear();
    {
      SignalsHeld held;
      rc = c.lib->sd_bus_call(c.conn->bus, m.m, usec, &error->e, &reply->m);
    }
    if (rc < 0 && attempt == 0 && Disconnected(rc)) {
      Drop(c.conn);
      continue;
    }
    *r = rc;
    return true;
  }
}

uint64_t NowUsec() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

// Reads the job path of a StartTransientUnit/StopUnit reply and waits until JobRemoved names it
// (or the deadline passes). Returns false after throwing; throws unless the result is "done".
bool WaitForJob(Call &c, const std::string &unit, sd_bus_message *reply, uint64_t deadline, uint64_t usec) {
  const char *path = nullptr;
  int r = c.lib->sd_bus_message_read(reply, "o", &path);
  if (r < 0) {
    Fail(c, -r, std::string("reading the job from the reply: ") + strerror(-r));
    return false;
  }
  const std::string job = path;
  Connection &conn = *c.conn;
  for (;;) {
    auto found = conn.removed.find(job);
    if (found != conn.removed.end()) {
      std::string result = found->second;
      conn.removed.erase(found);
      if (result == "done") return true;
      Napi::Error e = Napi::Error::New(c.env, unit + ": job " + result);
      e.Set("code", Napi::String::New(c.env, "EIO"));
      e.Set("errno", Napi::Number::New(c.env, -EIO));
      e.Set("jobResult", Napi::String::New(c.env, result));
      e.ThrowAsJavaScriptException();
      return false;
    }
    r = c.lib->sd_bus_process(conn.bus, nullptr);
    if (r < 0) {
      Fail(c, -r, "waiting for job " + job + ": " + strerror(-r));
      return false;
    }
    if (r > 0) continue;
    uint64_t now = NowUsec();
    if (now >= deadline) {
      Fail(c, ETIMEDOUT, "job " + job + " did not finish within " + std::to_string(usec / 1000) + " ms");
      return false;
    }
    r = c.lib->sd_bus_wait(conn.bus, deadline - now);
    if (r < 0 && r != -EINTR) {
      Fail(c, -r, "waiting for job " + job + ": " + strerror(-r));
      return false;
    }
  }
}

// The string in a Properties.Get reply (a variant of type s, o or g); false after throwing.
bool ReadStringVariant(Call &c, sd_bus_message *reply, std::string *out) {
  char type = 0;
  const char *contents = nullptr;
  int r = c.lib->sd_bus_message_peek_type(reply, &type, &contents);
  if (r <= 0 || type != 'v' || contents == nullptr) {
    Fail(c, EBADMSG, "the reply holds no variant");
    return false;
  }
  const std::string signature = contents;
  if (signature != "s" && signature != "o" && signature != "g") {
    Fail(c, EINVAL, "the property is of type '" + signature + "', not a string");
    return false;
  }
  const char *s = nullptr;
  r = c.lib->sd_bus_message_read(reply, "v", signature.c_str(), &s);
  if (r < 0) {
    Fail(c, -r, std::string("reading the reply: ") + strerror(-r));
    return false;
  }
  *out = s;
  return true;
}

State *StateOf(const Napi::CallbackInfo &info) { return static_cast<State *>(info.Data()); }

// ---- The functions --------------------------------------------------------------------------

// systemdStartTransientUnit(scope, unit, properties, timeoutMs)
Napi::Value StartTransientUnit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Scope scope;
  std::string unit;
  std::vector<Property> props;
  uint64_t usec;
  if (!ParseScope(env, info[0], &scope) || !ParseName(env, info[1], "unit name", &unit) ||
      !ParseProperties(env, info[2], &props) || !ParseTimeout(env, info[3], &usec))
    return env.Undefined();
  uint64_t deadline = NowUsec() + usec;
  Call c{env, StateOf(info), scope, "StartTransientUnit(" + unit + ")"};
  int r = 0;
  BusError error;
  Message reply;
  auto fill = [&](sd_bus_message *m, std::string *where) {
    int rc = c.lib->sd_bus_message_append(m, "ss", unit.c_str(), "replace");
    if (rc >= 0) rc = AppendProperties(c.lib, m, props, where);
    if (rc >= 0) rc = c.lib->sd_bus_message_append(m, "a(sa(sv))", 0);
    return rc;
  };
  if (!CallMethod(c, true, kManagerPath, kManager, "StartTransientUnit", usec, fill, &r, &error, &reply))
    return env.Undefined();
  if (r < 0) return FailBus(c, r, error);
  WaitForJob(c, unit, reply.m, deadline, usec);
  return env.Undefined();
}

// systemdStopUnit(scope, unit, timeoutMs) -> false when there is no such unit
Napi::Value StopUnit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Scope scope;
  std::string unit;
  uint64_t usec;
  if (!ParseScope(env, info[0], &scope) || !ParseName(env, info[1], "unit name", &unit) ||
      !ParseTimeout(env, info[2], &usec))
    return env.Undefined();
  uint64_t deadline = NowUsec() + usec;
  Call c{env, StateOf(info), scope, "StopUnit(" + unit + ")"};
  int r = 0;
  BusError error;
  Message reply;
  auto fill = [&](sd_bus_message *m, std::string *) {
    return c.lib->sd_bus_message_append(m, "ss", unit.c_str(), "replace");
  };
  if (!CallMethod(c, true, kManagerPath, kManager, "StopUnit", usec, fill, &r, &error, &reply)) return env.Undefined();
  if (r < 0) {
    if (error.Is(kNoSuchUnit)) return Napi::Boolean::New(env, false);
    return FailBus(c, r, error);
  }
  if (!WaitForJob(c, unit, reply.m, deadline, usec)) return env.Undefined();
  return Napi::Boolean::New(env, true);
}

// systemdSetUnitProperties(scope, unit, properties)
Napi::Value SetUnitProperties(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Scope scope;
  std::string unit;
  std::vector<Property> props;
  if (!ParseScope(env, info[0], &scope) || !ParseName(env, info[1], "unit name", &unit) ||
      !ParseProperties(env, info[2], &props))
    return env.Undefined();
  Call c{env, StateOf(info), scope, "SetUnitProperties(" + unit + ")"};
  int r = 0;
  BusError error;
  Message reply;
  auto fill = [&](sd_bus_message *m, std::string *where) {
    int rc = c.lib->sd_bus_message_append(m, "sb", unit.c_str(), 1);
    if (rc >= 0) rc = AppendProperties(c.lib, m, props, where);
    return rc;
  };
  if (!CallMethod(c, false, kManagerPath, kManager, "SetUnitProperties", 0, fill, &r, &error, &reply))
    return env.Undefined();
  if (r < 0) return FailBus(c, r, error);
  return env.Undefined();
}

// systemdResetFailedUnit(scope, unit): a unit that is not loaded is no error (one that is loaded
// but not failed is none either: systemd answers it without error).
Napi::Value ResetFailedUnit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Scope scope;
  std::string unit;
  if (!ParseScope(env, info[0], &scope) || !ParseName(env, info[1], "unit name", &unit)) return env.Undefined();
  Call c{env, StateOf(info), scope, "ResetFailedUnit(" + unit + ")"};
  int r = 0;
  BusError error;
  Message reply;
  auto fill = [&](sd_bus_message *m, std::string *) { return c.lib->sd_bus_message_append(m, "s", unit.c_str()); };
  if (!CallMethod(c, false, kManagerPath, kManager, "ResetFailedUnit", 0, fill, &r, &error, &reply))
    return env.Undefined();
  if (r < 0 && !error.Is(kNoSuchUnit)) return FailBus(c, r, error);
  return env.Undefined();
}

// systemdManagerProperty(scope, name) -> string
Napi::Value ManagerProperty(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Scope scope;
  std::string name;
  if (!ParseScope(env, info[0], &scope) || !ParseName(env, info[1], "property name", &name)) return env.Undefined();
  Call c{env, StateOf(info), scope, std::string("Get(") + kManager + "." + name + ")"};
  int r = 0;
  BusError error;
  Message reply;
  auto fill = [&](sd_bus_message *m, std::string *) {
    return c.lib->sd_bus_message_append(m, "ss", kManager, name.c_str());
  };
  if (!CallMethod(c, false, kManagerPath, kProperties, "Get", 0, fill, &r, &error, &reply)) return env.Undefined();
  if (r < 0) return FailBus(c, r, error);
  std::string value;
  if (!ReadStringVariant(c, reply.m, &value)) return env.Undefined();
  return Napi::String::New(env, value);
}

// systemdUnitProperty(scope, unit, name) -> string, or undefined when the unit is not loaded
Napi::Value UnitProperty(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Scope scope;
  std::string unit, name;
  if (!ParseScope(env, info[0], &scope) || !ParseName(env, info[1], "unit name", &unit) ||
      !ParseName(env, info[2], "property name", &name))
    return env.Undefined();
  Call c{env, StateOf(info), scope, "GetUnit(" + unit + ")"};
  int r = 0;
  BusError error;
  Message reply;
  auto getUnit = [&](sd_bus_message *m, std::string *) { return c.lib->sd_bus_message_append(m, "s", unit.c_str()); };
  if (!CallMethod(c, false, kManagerPath, kManager, "GetUnit", 0, getUnit, &r, &error, &reply)) return env.Undefined();
  if (r < 0) {
    if (error.Is(kNoSuchUnit)) return env.Undefined();
    return FailBus(c, r, error);
  }
  const char *path = nullptr;
  r = c.lib->sd_bus_message_read(reply.m, "o", &path);
  if (r < 0) return Fail(c, -r, std::string("reading the reply: ") + strerror(-r));
  const std::string unitPath = path;
  c.what = "Get(" + unit + ", " + kUnit + "." + name + ")";
  auto get = [&](sd_bus_message *m, std::string *) {
    return c.lib->sd_bus_message_append(m, "ss", kUnit, name.c_str());
  };
  if (!CallMethod(c, false, unitPath.c_str(), kProperties, "Get", 0, get, &r, &error, &reply)) return env.Undefined();
  if (r < 0) {
    // Unloaded between the two calls.
    if (error.Is(kNoSuchUnit) || error.Is("org.freedesktop.DBus.Error.UnknownObject")) return env.Undefined();
    return FailBus(c, r, error);
  }
  std::string value;
  if (!ReadStringVariant(c, reply.m, &value)) return env.Undefined();
  return Napi::String::New(env, value);
}

}  // namespace

void RegisterSdbus(Napi::Env env, Napi::Object exports) {
  // The connections live as long as the environment; nothing here touches libsystemd.
  State *state = new State();
  env.AddCleanupHook([state]() { delete state; });
  struct {
    const char *name;
    Napi::Value (*fn)(const Napi::CallbackInfo &);
  } functions[] = {
      {"systemdStartTransientUnit", StartTransientUnit}, {"systemdStopUnit", StopUnit},
      {"systemdSetUnitProperties", SetUnitProperties},   {"systemdResetFailedUnit", ResetFailedUnit},
      {"systemdManagerProperty", ManagerProperty},       {"systemdUnitProperty", UnitProperty},
  };
  for (const auto &f : functions) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name, state));
}

}  // namespace tsrunc
