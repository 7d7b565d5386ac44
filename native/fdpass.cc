#include "fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tsrunc {

ssize_t SendWithFds(int sock, const void *data, size_t len, const int *fds, size_t count) {
  if (count > kMaxPassedFds) {
    errno = EINVAL;
    return -1;
  }
  struct iovec iov = {const_cast<void *>(data), len};
  char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (count > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
  }
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

ssize_t RecvWithFds(int sock, void *buf, size_t size, int flags, int *fds, size_t max, size_t *count, bool *truncated) {
  *count = 0;
  *truncated = false;
  if (max > kMaxPassedFds) {
    errno = EINVAL;
    return -1;
  }
  struct iovec iov = {buf, size};
  char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * (max > 0 ? max : 1));
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
  while (n < 0 && errno == EINTR);
  if (n < 0) return n;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t carried = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < carried; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*count < max) {
        fds[(*count)++] = fd;
      } else {
        // CMSG_SPACE rounds up: room for one more than `max` can come in without MSG_CTRUNC.
        close(fd);
        *truncated = true;
      }
    }
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) *truncated = true;
  return n;
}

ssize_t SendWithFd(int sock, const void *data, size_t len, int fd) {
  return SendWithFds(sock, data, len, &fd, fd >= 0 ? 1 : 0);
}

ssize_t RecvWithFd(int sock, void *buf, size_t size, int *fd, bool *truncated) {
  size_t count = 0;
  ssize_t n = RecvWithFds(sock, buf, size, 0, fd, 1, &count, truncated);
  if (count == 0) *fd = -1;
  return n;
}

}  // namespace tsrunc
