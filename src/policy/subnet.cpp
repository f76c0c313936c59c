#include "policy/subnet.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <netinet/in.h>

namespace kresd::policy {

namespace {

uint64_t load_be64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v = (v << 8) | p[i];
    return v;
}

// The mask of the first `bits` bits of a 64-bit word (0..64).
uint64_t word_mask(unsigned bits) {
    return bits == 0 ? 0 : bits >= 64 ? ~uint64_t{0} : ~uint64_t{0} << (64 - bits);
}

} // namespace

SubnetKey SubnetKey::of(const sockaddr* sa) {
    SubnetKey k;
    if (sa == nullptr) return k;
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        k.family = AF_INET;
        k.hi = uint64_t{ntohl(in->sin_addr.s_addr)} << 32;
    } else if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        k.family = AF_INET6;
        k.hi = load_be64(in6->sin6_addr.s6_addr);
        k.lo = load_be64(in6->sin6_addr.s6_addr + 8);
    }
    return k;
}

std::optional<Subnet> Subnet::parse(std::string_view text) {
    Subnet s;
    std::string addr(text);
    unsigned bits = 0;
    bool has_len = false;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        addr = std::string(text.substr(0, slash));
        auto len = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
        if (len.empty() || ec != std::errc() || end != len.data() + len.size()) return std::nullopt;
        has_len = true;
    }
    uint8_t buf[16] = {};
    if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
        s.family = AF_INET;
        if (!has_len) bits = 32;
        if (bits > 32) return std::nullopt;
        s.hi = uint64_t{buf[0]} << 56 | uint64_t{buf[1]} << 48 | uint64_t{buf[2]} << 40 |
               uint64_t{buf[3]} << 32;
    } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
        s.family = AF_INET6;
        if (!has_len) bits = 128;
        if (bits > 128) return std::nullopt;
        s.hi = load_be64(buf);
        s.lo = load_be64(buf + 8);
    } else {
        return std::nullopt;
    }
    s.bits = bits;
    s.mask_hi = word_mask(bits);
    s.mask_lo = bits > 64 ? word_mask(bits - 64) : 0;
    s.hi &= s.mask_hi;
    s.lo &= s.mask_lo;
    return s;
}

std::string Subnet::to_string() const {
    uint8_t buf[16] = {};
    for (int i = 0; i < 8; ++i) {
        buf[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
        buf[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
    }
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, buf, text, sizeof(text));
    return std::string(text) + "/" + std::to_string(bits);
}

} // namespace kresd::policy
