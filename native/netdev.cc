// linux.netDevices on the host's side (src/lifecycle/net-devices.ts): what the runtime reads of
// a host interface before it moves it, the move itself (into the container's network namespace,
// by an fd the runtime holds: this process never enters it), and the addresses and link state
// given back to an interface returned to the host after a failed create. Errors keep errno
// (`code`, `errno`) and name the netlink request in `syscall`.
#include "netdev.h"

#include <errno.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <unistd.h>

#include <string>

#include "netlink.h"
#include "sys.h"

namespace tsrunc {

namespace {

// A NETLINK_ROUTE socket of this process's (the host's) network namespace, closed on scope exit.
struct Socket {
  int fd;
  Socket() : fd(rtnl::Open()) {}
  ~Socket() {
    if (fd >= 0) close(fd);
  }
};

// netdevInspect(name) -> {index, name, up, addresses: [{address: "a/p", scope, permanent}]}
Napi::Value Inspect(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  Socket sock;
  if (sock.fd < 0) return ThrowErrno(env, "socket(NETLINK_ROUTE)", -sock.fd);
  rtnl::Link link;
  int err = rtnl::LinkByName(sock.fd, name.c_str(), &link);
  if (err < 0) return ThrowErrno(env, "RTM_GETLINK", -err);
  std::vector<rtnl::Address> addrs;
  err = rtnl::Addresses(sock.fd, link.index, &addrs);
  if (err < 0) return ThrowErrno(env, "RTM_GETADDR", -err);
  Napi::Object out = Napi::Object::New(env);
  out.Set("index", link.index);
  out.Set("name", link.name);
  out.Set("up", Napi::Boolean::New(env, (link.flags & IFF_UP) != 0));
  Napi::Array list = Napi::Array::New(env, addrs.size());
  for (size_t i = 0; i < addrs.size(); i++) {
    Napi::Object a = Napi::Object::New(env);
    a.Set("address", rtnl::FormatAddress(addrs[i]));
    a.Set("scope", addrs[i].scope);
    a.Set("permanent", Napi::Boolean::New(env, (addrs[i].flags & IFA_F_PERMANENT) != 0));
    list.Set((uint32_t)i, a);
  }
  out.Set("addresses", list);
  return out;
}

// netdevMove(index, newName, netnsFd): RTM_NEWLINK with IFLA_NET_NS_FD (and IFLA_IFNAME).
Napi::Value Move(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int index = info[0].As<Napi::Number>().Int32Value();
  std::string newName = info[1].As<Napi::String>().Utf8Value();
  int nsFd = info[2].As<Napi::Number>().Int32Value();
  Socket sock;
  if (sock.fd < 0) return ThrowErrno(env, "socket(NETLINK_ROUTE)", -sock.fd);
  int err = rtnl::MoveLink(sock.fd, index, newName.c_str(), nsFd);
  if (err < 0) return ThrowErrno(env, "RTM_NEWLINK", -err);
  return env.Undefined();
}

// netdevConfigure(index, addresses ["a/p"], up): each address added (RTM_NEWADDR), then IFF_UP.
Napi::Value Configure(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int index = info[0].As<Napi::Number>().Int32Value();
  Napi::Array list = info[1].As<Napi::Array>();
  bool up = info[2].As<Napi::Boolean>().Value();
  Socket sock;
  if (sock.fd < 0) return ThrowErrno(env, "socket(NETLINK_ROUTE)", -sock.fd);
  for (uint32_t i = 0; i < list.Length(); i++) {
    std::string text = list.Get(i).As<Napi::String>().Utf8Value();
    rtnl::Address a;
    if (!rtnl::ParseAddress(text.c_str(), &a)) return ThrowErrno(env, ("parsing address " + text).c_str(), EINVAL);
    int err = rtnl::AddAddress(sock.fd, index, a);
    if (err < 0) return ThrowErrno(env, ("RTM_NEWADDR " + text).c_str(), -err);
  }
  if (up) {
    int err = rtnl::SetUp(sock.fd, index);
    if (err < 0) return ThrowErrno(env, "RTM_NEWLINK (up)", -err);
  }
  return env.Undefined();
}

}  // namespace

void RegisterNetdev(Napi::Env env, Napi::Object exports) {
  exports.Set("netdevInspect", Napi::Function::New(env, Inspect, "netdevInspect"));
  exports.Set("netdevMove", Napi::Function::New(env, Move, "netdevMove"));
  exports.Set("netdevConfigure", Napi::Function::New(env, Configure, "netdevConfigure"));
}

}  // namespace tsrunc
