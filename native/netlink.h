// rtnetlink, as much as linux.netDevices needs: find a link, list its addresses, move it into
// another network namespace (renamed in the same message, as runc does), add addresses, set it
// up. Shared by the addon (the runtime, in the host's network namespace) and tsrunc-init (inside
// the container's): no Node here, no threads, no allocation beyond std::vector/std::string.
// Every function returns 0 or -errno, the kernel's own answer where it refused.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace tsrunc {
namespace rtnl {

struct Link {
  int index = 0;
  unsigned flags = 0;  // IFF_*
  std::string name;
};

struct Address {
  int family = 0;  // AF_INET or AF_INET6
  unsigned prefixlen = 0;
  unsigned scope = 0;      // RT_SCOPE_*
  uint32_t flags = 0;      // IFA_F_* (IFA_FLAGS when the kernel sends it)
  uint8_t bytes[16] = {};  // IFA_LOCAL, else IFA_ADDRESS
};

// A NETLINK_ROUTE socket of the calling process's network namespace (close-on-exec), or -errno.
int Open();
// The link named `name` (its alternative names too, as the kernel looks them up).
int LinkByName(int sock, const char *name, Link *out);
int LinkByIndex(int sock, int index, Link *out);
// Every address of link `index` (the dump is retried when the kernel says it was interrupted).
int Addresses(int sock, int index, std::vector<Address> *out);
// RTM_NEWLINK: link `index` into the network namespace `netnsFd`, named `newName` there ("" keeps
// its name; a name with %d is a template the kernel completes).
int MoveLink(int sock, int index, const char *newName, int netnsFd);
// RTM_NEWADDR: `a` on link `index` (IPv4: with the broadcast address of its prefix, as runc's
// netlink library adds it).
int AddAddress(int sock, int index, const Address &a);
// RTM_NEWLINK: IFF_UP on link `index`.
int SetUp(int sock, int index);

// "10.0.0.1/24", "fd00::1/64"; false when `text` is not an address with a prefix length.
bool ParseAddress(const char *text, Address *out);
std::string FormatAddress(const Address &a);

}  // namespace rtnl
}  // namespace tsrunc
