#include "activation/socket_check.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>

namespace kresd::activation::detail {

bool fits(Kind kind, int socktype) {
    if (kind == Kind::dns) return socktype == SOCK_DGRAM || socktype == SOCK_STREAM;
    return socktype == SOCK_STREAM;
}

namespace {

std::string describe_type(int socktype) {
    switch (socktype) {
    case SOCK_DGRAM:
        return "a datagram socket";
    case SOCK_STREAM:
        return "a stream socket";
#ifdef SOCK_SEQPACKET
    case SOCK_SEQPACKET:
        return "a seqpacket socket";
#endif
    default:
        return "a socket of type " + std::to_string(socktype);
    }
}

} // namespace

Inherited inspect(int fd, Kind kind, std::string name, const std::string& origin) {
    // F_GETFD is the cheapest way to learn whether the descriptor exists at all.
    int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) {
        if (errno == EBADF) throw ActivationError(origin + " is not open");
        throw ActivationError(origin + ": " + std::strerror(errno));
    }

    int socktype = 0;
    socklen_t len = sizeof(socktype);
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &socktype, &len) < 0) {
        if (errno == ENOTSOCK) throw ActivationError(origin + " is not a socket");
        throw ActivationError(origin + ": cannot read its socket type: " + std::strerror(errno));
    }
    if (!fits(kind, socktype)) {
        std::string need = kind == Kind::dns ? "a datagram or stream socket" : "a stream socket";
        throw ActivationError(origin + " is " + describe_type(socktype) + ", but " +
                              kind_name(kind) + " needs " + need);
    }

    // Inherited sockets are ours now; they must not leak into anything we
    // might exec later.
    if (!(flags & FD_CLOEXEC) && ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
        throw ActivationError(origin + ": cannot set close-on-exec: " + std::strerror(errno));
    }

    Inherited out;
    out.fd = fd;
    out.kind = kind;
    out.socktype = socktype;
    out.name = std::move(name);
    return out;
}

} // namespace kresd::activation::detail
