// Socket address helpers declared in resolve.hpp: parsing "addr@port",
// printing, comparing, and the local/private test that ALLOW_LOCAL guards.
#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>

#include "resolve/resolve.hpp"

namespace kresd::resolve {
namespace {

bool parse_port(const std::string& text, uint16_t& port)
{
    if (text.empty() || text.size() > 5)
        return false;
    unsigned v = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    port = static_cast<uint16_t>(v);
    return true;
}

bool v4_is_local(const uint8_t* a)
{
    // RFC 1122 3.2.1.3 (0/8, 127/8), RFC 1918 (10/8, 172.16/12, 192.168/16),
    // RFC 6598 (100.64/10), RFC 3927 (169.254/16), multicast and reserved
    // (224/4, 240/4, including 255.255.255.255).
    return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 100 && (a[1] & 0xC0) == 64) ||
           (a[0] == 169 && a[1] == 254) || (a[0] == 172 && (a[1] & 0xF0) == 16) ||
           (a[0] == 192 && a[1] == 168) || a[0] >= 224;
}

} // namespace

std::optional<Address> parse_address(const std::string& text)
{
    std::string host = text;
    uint16_t port = 53;
    const size_t sep = text.find_first_of("@#");
    if (sep != std::string::npos) {
        host = text.substr(0, sep);
        if (!parse_port(text.substr(sep + 1), port))
            return std::nullopt;
    }
    Address out;
    in_addr a4{};
    in6_addr a6{};
    if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        sin.sin_addr = a4;
        std::memcpy(&out.ss, &sin, sizeof(sin));
        out.len = sizeof(sin);
        return out;
    }
    if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
        sin6.sin6_addr = a6;
        std::memcpy(&out.ss, &sin6, sizeof(sin6));
        out.len = sizeof(sin6);
        return out;
    }
    return std::nullopt;
}

std::string address_to_string(const Address& a)
{
    char buf[INET6_ADDRSTRLEN] = {0};
    uint16_t port = 0;
    if (a.family() == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&a.ss);
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
        port = ntohs(sin->sin_port);
    } else if (a.family() == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&a.ss);
        inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
        port = ntohs(sin6->sin6_port);
    } else {
        return "(none)";
    }
    return std::string(buf) + "@" + std::to_string(port);
}

bool same_address(const Address& a, const Address& b)
{
    if (a.family() != b.family())
        return false;
    if (a.family() == AF_INET) {
        const auto* x = reinterpret_cast<const sockaddr_in*>(&a.ss);
        const auto* y = reinterpret_cast<const sockaddr_in*>(&b.ss);
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a.family() == AF_INET6) {
        const auto* x = reinterpret_cast<const sockaddr_in6*>(&a.ss);
        const auto* y = reinterpret_cast<const sockaddr_in6*>(&b.ss);
        return x->sin6_port == y->sin6_port &&
               std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(in6_addr)) == 0;
    }
    return false;
}

bool is_local_address(const Address& a)
{
    if (a.family() == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&a.ss);
        return v4_is_local(reinterpret_cast<const uint8_t*>(&sin->sin_addr));
    }
    if (a.family() != AF_INET6)
        return true; // not something we would send to
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&a.ss);
    const uint8_t* b = sin6->sin6_addr.s6_addr;
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (std::memcmp(b, kMapped, 12) == 0) // ::ffff:0:0/96 (RFC 4291 2.5.5.2)
        return v4_is_local(b + 12);
    bool zero_prefix = true; // ::/128 unspecified, ::1 loopback (RFC 4291 2.5.2-3)
    for (int i = 0; i < 15; ++i)
        zero_prefix = zero_prefix && b[i] == 0;
    if (zero_prefix && b[15] <= 1)
        return true;
    return (b[0] & 0xFE) == 0xFC ||                  // fc00::/7 ULA (RFC 4193)
           (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) || // fe80::/10 link-local
           (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) || // fec0::/10 site-local (deprecated)
           b[0] == 0xFF;                              // multicast
}

} // namespace kresd::resolve
