#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tsrunc {
namespace rtnl {

namespace {

uint32_t g_seq = 1;

// A request being built: the header, its fixed part, then attributes.
struct Request {
  alignas(NLMSG_ALIGNTO) char buf[512];
  struct nlmsghdr *h() {
    return reinterpret_cast<struct nlmsghdr *>(buf);
  }

  Request(int type, int flags, const void *fixed, size_t fixedLen) {
    memset(buf, 0, sizeof buf);
    h()->nlmsg_len = (uint32_t)NLMSG_LENGTH(fixedLen);
    h()->nlmsg_type = (uint16_t)type;
    h()->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
    h()->nlmsg_seq = g_seq++;
    memcpy(NLMSG_DATA(h()), fixed, fixedLen);
  }

  // false when it does not fit (never for what this file sends).
  bool Attr(int type, const void *data, size_t len) {
    size_t at = NLMSG_ALIGN(h()->nlmsg_len);
    size_t total = RTA_LENGTH(len);
    if (at + RTA_ALIGN(total) > sizeof buf) return false;
    struct rtattr *rta = reinterpret_cast<struct rtattr *>(buf + at);
    rta->rta_type = (unsigned short)type;
    rta->rta_len = (unsigned short)total;
    memcpy(RTA_DATA(rta), data, len);
    h()->nlmsg_len = (uint32_t)(at + RTA_ALIGN(total));
    return true;
  }
};

// Sends `req` and reads the kernel's answers to it until its ack (NLMSG_ERROR) or, for a dump,
// NLMSG_DONE; every other message answering it goes to onMessage. Only the kernel's messages
// (port 0) with the request's sequence number are read as answers. *interrupted: a dump's
// NLM_F_DUMP_INTR (the kernel's list changed while it was read).
template <typename F>
int Talk(int sock, Request &req, F onMessage, bool *interrupted = nullptr) {
  struct sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do n = sendto(sock, req.buf, req.h()->nlmsg_len, 0, reinterpret_cast<struct sockaddr *>(&kernel), sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if ((size_t)n != req.h()->nlmsg_len) return -EIO;
  uint32_t seq = req.h()->nlmsg_seq;
  bool dump = (req.h()->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  std::vector<char> buf(65536);
  for (;;) {
    struct sockaddr_nl from = {};
    struct iovec iov = {buf.data(), buf.size()};
    struct msghdr msg = {};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    do n = recvmsg(sock, &msg, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    if (n == 0) return -EIO;
    if (msg.msg_flags & MSG_TRUNC) return -EMSGSIZE;
    if (from.nl_pid != 0) continue;  // not the kernel's
    int len = (int)n;
    for (struct nlmsghdr *h = reinterpret_cast<struct nlmsghdr *>(buf.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (interrupted != nullptr && (h->nlmsg_flags & NLM_F_DUMP_INTR)) *interrupted = true;
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return -EIO;
        return reinterpret_cast<struct nlmsgerr *>(NLMSG_DATA(h))->error;
      }
      if (h->nlmsg_type == NLMSG_DONE) {
        if (!dump) return -EIO;
        int err = 0;
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) memcpy(&err, NLMSG_DATA(h), sizeof err);
        return err < 0 ? err : 0;
      }
      onMessage(h);
    }
  }
}

int ParseLink(struct nlmsghdr *h, Link *out) {
  if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) return -EIO;
  struct ifinfomsg *ifi = reinterpret_cast<struct ifinfomsg *>(NLMSG_DATA(h));
  out->index = ifi->ifi_index;
  out->flags = ifi->ifi_flags;
  out->name.clear();
  int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *ifi));
  for (struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
    if (rta->rta_type == IFLA_IFNAME)
      out->name.assign(reinterpret_cast<const char *>(RTA_DATA(rta)),
                       strnlen((const char *)RTA_DATA(rta), RTA_PAYLOAD(rta)));
  }
  return 0;
}

int GetLink(int sock, int index, const char *name, Link *out) {
  struct ifinfomsg ifi = {};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  Request req(RTM_GETLINK, NLM_F_ACK, &ifi, sizeof ifi);
  if (name != nullptr) {
    size_t len = strlen(name);
    if (len == 0 || len >= IFNAMSIZ) return -EINVAL;
    req.Attr(IFLA_IFNAME, name, len + 1);
  }
  int parsed = -ENODEV;
  int err = Talk(sock, req, [&](struct nlmsghdr *h) {
    if (h->nlmsg_type == RTM_NEWLINK) parsed = ParseLink(h, out);
  });
  if (err < 0) return err;
  return parsed;
}

}  // namespace

int Open() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  return fd < 0 ? -errno : fd;
}

int LinkByName(int sock, const char *name, Link *out) { return GetLink(sock, 0, name, out); }

int LinkByIndex(int sock, int index, Link *out) {
  if (index <= 0) return -ENODEV;
  return GetLink(sock, index, nullptr, out);
}

int Addresses(int sock, int index, std::vector<Address> *out) {
  for (int attempt = 0; attempt < 10; attempt++) {
    out->clear();
    struct ifaddrmsg ifa = {};
    ifa.ifa_family = AF_UNSPEC;
    ifa.ifa_index = (uint32_t)index;
    Request req(RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof ifa);
    bool interrupted = false;
    int err = Talk(
        sock, req,
        [&](struct nlmsghdr *h) {
          if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg))) return;
          struct ifaddrmsg *m = reinterpret_cast<struct ifaddrmsg *>(NLMSG_DATA(h));
          if ((int)m->ifa_index != index || (m->ifa_family != AF_INET && m->ifa_family != AF_INET6)) return;
          Address a;
          a.family = m->ifa_family;
          a.prefixlen = m->ifa_prefixlen;
          a.scope = m->ifa_scope;
          a.flags = m->ifa_flags;
          size_t want = a.family == AF_INET ? 4 : 16;
          bool haveLocal = false, haveAddress = false;
          int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
          for (struct rtattr *rta = IFA_RTA(m); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
            if (rta->rta_type == IFA_FLAGS && RTA_PAYLOAD(rta) >= sizeof(uint32_t)) {
              memcpy(&a.flags, RTA_DATA(rta), sizeof(uint32_t));
            } else if (rta->rta_type == IFA_LOCAL && RTA_PAYLOAD(rta) == want) {
              memcpy(a.bytes, RTA_DATA(rta), want);
              haveLocal = true;
            } else if (rta->rta_type == IFA_ADDRESS && RTA_PAYLOAD(rta) == want && !haveLocal) {
              memcpy(a.bytes, RTA_DATA(rta), want);
              haveAddress = true;
            }
          }
          if (haveLocal || haveAddress) out->push_back(a);
        },
        &interrupted);
    if (err < 0) return err;
    if (!interrupted) return 0;
  }
  return -EINTR;
}

int MoveLink(int sock, int index, const char *newName, int netnsFd) {
  struct ifinfomsg ifi = {};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  Request req(RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi);
  uint32_t fd = (uint32_t)netnsFd;
  req.Attr(IFLA_NET_NS_FD, &fd, sizeof fd);
  size_t len = strlen(newName);
  if (len >= IFNAMSIZ) return -EINVAL;
  if (len > 0) req.Attr(IFLA_IFNAME, newName, len + 1);
  return Talk(sock, req, [](struct nlmsghdr *) {});
}

int AddAddress(int sock, int index, const Address &a) {
  struct ifaddrmsg ifa = {};
  ifa.ifa_family = (uint8_t)a.family;
  ifa.ifa_prefixlen = (uint8_t)a.prefixlen;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = (uint32_t)index;
  Request req(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
  size_t len = a.family == AF_INET ? 4 : 16;
  req.Attr(IFA_LOCAL, a.bytes, len);
  req.Attr(IFA_ADDRESS, a.bytes, len);
  if (a.family == AF_INET && a.prefixlen < 31) {
    uint32_t addr;
    memcpy(&addr, a.bytes, 4);
    uint32_t mask = a.prefixlen == 0 ? 0 : htonl(~0u << (32 - a.prefixlen));
    uint32_t broadcast = addr | ~mask;
    req.Attr(IFA_BROADCAST, &broadcast, 4);
  }
  return Talk(sock, req, [](struct nlmsghdr *) {});
}

int SetUp(int sock, int index) {
  struct ifinfomsg ifi = {};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  Request req(RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi);
  return Talk(sock, req, [](struct nlmsghdr *) {});
}

bool ParseAddress(const char *text, Address *out) {
  const char *slash = strrchr(text, '/');
  if (slash == nullptr || slash == text || slash[1] == '\0') return false;
  std::string host(text, (size_t)(slash - text));
  char *end;
  errno = 0;
  unsigned long prefix = strtoul(slash + 1, &end, 10);
  if (errno != 0 || *end != '\0' || slash[1] < '0' || slash[1] > '9') return false;
  Address a;
  if (inet_pton(AF_INET, host.c_str(), a.bytes) == 1) {
    a.family = AF_INET;
    if (prefix > 32) return false;
  } else if (inet_pton(AF_INET6, host.c_str(), a.bytes) == 1) {
    a.family = AF_INET6;
    if (prefix > 128) return false;
  } else {
    return false;
  }
  a.prefixlen = (unsigned)prefix;
  *out = a;
  return true;
}

std::string FormatAddress(const Address &a) {
  char host[INET6_ADDRSTRLEN] = "";
  if (inet_ntop(a.family, a.bytes, host, sizeof host) == nullptr) return "";
  char buf[INET6_ADDRSTRLEN + 8];
  snprintf(buf, sizeof buf, "%s/%u", host, a.prefixlen);
  return buf;
}

}  // namespace rtnl
}  // namespace tsrunc
