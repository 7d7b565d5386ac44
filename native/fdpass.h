// One message with at most one fd attached (SCM_RIGHTS) over a unix socket: shared by the addon
// and tsrunc-init (no Node here). Both retry on EINTR.
#pragma once

#include <stddef.h>
#include <sys/types.h>

namespace tsrunc {

// Sends `len` bytes with `fd` attached (fd < 0: none). MSG_NOSIGNAL: a closed peer is EPIPE.
ssize_t SendWithFd(int sock, const void *data, size_t len, int fd);

// Receives one message into buf; *fd is the fd it carried (close-on-exec) or -1, and *truncated
// says whether the message or its control data did not fit.
ssize_t RecvWithFd(int sock, void *buf, size_t size, int *fd, bool *truncated);

}  // namespace tsrunc
