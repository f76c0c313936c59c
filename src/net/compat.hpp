// Batched datagram calls where the system lacks them (macOS, OpenBSD):
// recvmmsg/sendmmsg emulated with one recvmsg/sendmsg per message, so the
// UDP code has a single shape on every system.
#pragma once

#include <sys/socket.h>

#if !defined(__linux__) && !defined(__FreeBSD__) && !defined(__NetBSD__)
#include <cerrno>
#include <ctime>

struct mmsghdr {
    msghdr msg_hdr;
    unsigned int msg_len;
};

inline int recvmmsg(int fd, mmsghdr* v, unsigned int n, int flags, timespec*)
{
    unsigned int i = 0;
    for (; i < n; ++i) {
        ssize_t r = recvmsg(fd, &v[i].msg_hdr, flags);
        if (r < 0) return i ? static_cast<int>(i) : -1;
        v[i].msg_len = static_cast<unsigned int>(r);
    }
    return static_cast<int>(i);
}

inline int sendmmsg(int fd, mmsghdr* v, unsigned int n, int flags)
{
    unsigned int i = 0;
    for (; i < n; ++i) {
        ssize_t r = sendmsg(fd, &v[i].msg_hdr, flags);
        if (r < 0) return i ? static_cast<int>(i) : -1;
        v[i].msg_len = static_cast<unsigned int>(r);
    }
    return static_cast<int>(i);
}
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace kresd::net {

// Stream connections to clients write whole answers (or TLS records) at
// once and coalesce them per loop step themselves: Nagle's algorithm would
// only hold the next answer back until the client's delayed ACK (tens of
// milliseconds with pipelined queries). Best effort.
inline void set_nodelay(int fd)
{
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

} // namespace kresd::net
