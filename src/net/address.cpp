#include "net/address.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace kresd::net {

uint16_t SockAddr::port() const
{
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
    return 0;
}

std::string SockAddr::ip() const
{
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = "";
    if (family() == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof(buf));
    } else if (family() == AF_INET6) {
        const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf));
        if (s6->sin6_scope_id) {
            char ifname[IF_NAMESIZE] = "";
            if (if_indextoname(s6->sin6_scope_id, ifname)) {
                std::strcat(buf, "%");
                std::strcat(buf, ifname);
            }
        }
    } else if (family() == AF_UNIX) {
        return reinterpret_cast<const sockaddr_un*>(&ss)->sun_path;
    }
    return buf;
}

std::string SockAddr::to_string() const { return ip() + "@" + std::to_string(port()); }

bool SockAddr::is_wildcard() const
{
    if (family() == AF_INET)
        return reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (family() == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr);
    return false;
}

bool SockAddr::same(const SockAddr& o) const
{
    if (family() != o.family() || port() != o.port()) return false;
    if (family() == AF_INET)
        return reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in*>(&o.ss)->sin_addr.s_addr;
    if (family() == AF_INET6)
        return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr,
                           &reinterpret_cast<const sockaddr_in6*>(&o.ss)->sin6_addr,
                           sizeof(in6_addr)) == 0;
    return false;
}

std::optional<SockAddr> parse_ip(const std::string& ip, uint16_t port)
{
    SockAddr a;
    auto* s4 = reinterpret_cast<sockaddr_in*>(&a.ss);
    if (inet_pton(AF_INET, ip.c_str(), &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        a.len = sizeof(sockaddr_in);
        return a;
    }
    std::string host = ip;
    unsigned scope = 0;
    if (auto pct = host.find('%'); pct != std::string::npos) {
        scope = if_nametoindex(host.c_str() + pct + 1);
        if (scope == 0) return std::nullopt;
        host.resize(pct);
    }
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    if (inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        s6->sin6_scope_id = scope;
        a.len = sizeof(sockaddr_in6);
        return a;
    }
    return std::nullopt;
}

SockAddr from_sockaddr(const sockaddr* sa, socklen_t len)
{
    SockAddr a;
    if (len > sizeof(a.ss)) len = sizeof(a.ss);
    std::memcpy(&a.ss, sa, len);
    a.len = len;
    return a;
}

std::optional<SockAddr> local_address(int fd)
{
    SockAddr a;
    a.len = sizeof(a.ss);
    if (getsockname(fd, a.sa(), &a.len) != 0) return std::nullopt;
    return a;
}

} // namespace kresd::net
