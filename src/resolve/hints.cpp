#include "resolve/hints.hpp"

#include <algorithm>
#include <iterator>
#include <netinet/in.h>
#include <string_view>

namespace kresd::resolve {

namespace {

// The labels of a wire name, root excluded; false if it is malformed.
bool labels(std::span<const uint8_t> name, std::vector<std::string_view>& out) {
    size_t pos = 0;
    while (pos < name.size()) {
        const size_t len = name[pos];
        if (len == 0) return pos + 1 == name.size();
        if (len > 63 || pos + 1 + len > name.size()) return false;
        out.emplace_back(reinterpret_cast<const char*>(name.data() + pos + 1), len);
        pos += 1 + len;
    }
    return false;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

} // namespace

std::span<const uint8_t> address_bytes(const Address& a) {
    if (a.family() == AF_INET)
        return {reinterpret_cast<const uint8_t*>(
                    &reinterpret_cast<const sockaddr_in*>(&a.ss)->sin_addr),
                4};
    return {
        reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(&a.ss)->sin6_addr),
        16};
}

void LocalHints::add(std::span<const uint8_t> name, const Address& a) {
    names[std::vector<uint8_t>(name.begin(), name.end())].push_back(a);
    const auto bytes = address_bytes(a);
    reverse[std::vector<uint8_t>(bytes.begin(), bytes.end())] =
        std::vector<uint8_t>(name.begin(), name.end());
}

std::optional<std::vector<uint8_t>> reverse_address(std::span<const uint8_t> name) {
    // Every query for a name that is not hinted comes here when there are
    // hints: turn the others away before splitting the name into labels.
    static constexpr uint8_t kArpa[] = {4, 'a', 'r', 'p', 'a', 0};
    if (name.size() < sizeof kArpa ||
        !std::equal(std::begin(kArpa), std::end(kArpa), name.end() - sizeof kArpa))
        return std::nullopt;
    std::vector<std::string_view> l;
    if (!labels(name, l) || l.size() < 2 || l[l.size() - 1] != "arpa") return std::nullopt;
    const std::string_view zone = l[l.size() - 2];
    std::vector<uint8_t> out;
    if (zone == "in-addr" && l.size() == 6) {
        for (size_t i = 4; i-- > 0;) { // d.c.b.a: the first label is the last byte
            const std::string_view d = l[i];
            if (d.empty() || d.size() > 3 || (d.size() > 1 && d[0] == '0')) return std::nullopt;
            unsigned v = 0;
            for (char c : d) {
                if (c < '0' || c > '9') return std::nullopt;
                v = v * 10 + static_cast<unsigned>(c - '0');
            }
            if (v > 255) return std::nullopt;
            out.push_back(static_cast<uint8_t>(v));
        }
        return out;
    }
    if (zone == "ip6" && l.size() == 34) {
        for (size_t i = 32; i > 0; i -= 2) { // nibbles, the lowest first
            if (l[i - 1].size() != 1 || l[i - 2].size() != 1) return std::nullopt;
            const int hi = hex_digit(l[i - 1][0]), lo = hex_digit(l[i - 2][0]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<uint8_t>(hi << 4 | lo));
        }
        return out;
    }
    return std::nullopt;
}

} // namespace kresd::resolve
