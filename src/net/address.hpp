// Socket addresses: parsing IP literals, printing them kresd-style
// ("127.0.0.1@53", "::1@53").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/socket.h>

namespace kresd::net {

struct SockAddr {
    sockaddr_storage ss{};
    socklen_t len = 0;

    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
    sockaddr* sa() { return reinterpret_cast<sockaddr*>(&ss); }
    int family() const { return ss.ss_family; }
    uint16_t port() const;
    std::string ip() const;                       // "127.0.0.1", "::1"
    std::string to_string() const;                // "127.0.0.1@53"
    bool is_wildcard() const;                     // 0.0.0.0 or ::
    bool same(const SockAddr& o) const;           // same family, ip and port
};

// IPv4 or IPv6 literal (IPv6 may carry a %scope); nullopt otherwise.
std::optional<SockAddr> parse_ip(const std::string& ip, uint16_t port);
SockAddr from_sockaddr(const sockaddr* sa, socklen_t len);
// The address a socket is bound to.
std::optional<SockAddr> local_address(int fd);

} // namespace kresd::net
