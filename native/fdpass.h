// One message with fds attached (SCM_RIGHTS) over a unix socket: shared by the addon, tsrunc-init
// and the front (no Node here). All retry on EINTR.
#pragma once

#include <stddef.h>
#include <sys/types.h>

namespace tsrunc {

// Sends `len` bytes with `fd` attached (fd < 0: none). MSG_NOSIGNAL: a closed peer is EPIPE.
ssize_t SendWithFd(int sock, const void *data, size_t len, int fd);

// Receives one message into buf; *fd is the fd it carried (close-on-exec) or -1, and *truncated
// says whether the message or its control data did not fit.
ssize_t RecvWithFd(int sock, void *buf, size_t size, int *fd, bool *truncated);

// The most fds one message carries here (the front's SPAWN: 3 + 16 slots).
constexpr size_t kMaxPassedFds = 32;

// Sends `len` bytes with the `count` fds of `fds` attached (count <= kMaxPassedFds).
ssize_t SendWithFds(int sock, const void *data, size_t len, const int *fds, size_t count);

// Receives one message into buf (`flags` for recvmsg besides MSG_CMSG_CLOEXEC, e.g. MSG_WAITALL)
// with at most `max` fds (<= kMaxPassedFds), stored close-on-exec in fds[0..*count); any fd
// beyond `max` is not received (the kernel closes it) and *truncated is set, as it is when the
// message did not fit.
ssize_t RecvWithFds(int sock, void *buf, size_t size, int flags, int *fds, size_t max, size_t *count, bool *truncated);

}  // namespace tsrunc
