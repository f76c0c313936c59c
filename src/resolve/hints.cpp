#include "resolve/hints.hpp"

#include <algorithm>
#include <iterator>
#include <netinet/in.h>
#include <string_view>

#include "dns/wire.hpp"

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

namespace {

std::vector<uint8_t> lowered(std::span<const uint8_t> name) {
    dns::Name n;
    n.len = static_cast<uint8_t>(std::min(name.size(), n.wire.size()));
    std::copy_n(name.begin(), n.len, n.wire.begin());
    dns::name_lower(n);
    return {n.wire.begin(), n.wire.begin() + n.len};
}

bool same_ip(const Address& a, const Address& b) {
    const auto x = address_bytes(a), y = address_bytes(b);
    return std::equal(x.begin(), x.end(), y.begin(), y.end());
}

std::vector<uint8_t> key_of(const Address& a) {
    const auto bytes = address_bytes(a);
    return {bytes.begin(), bytes.end()};
}

} // namespace

void LocalHints::add(std::span<const uint8_t> name, const Address& a, bool with_reverse) {
    auto lower = lowered(name);
    auto& addrs = names[lower];
    if (std::any_of(addrs.begin(), addrs.end(), [&](const Address& x) { return same_ip(x, a); }))
        return;
    addrs.push_back(a);
    if (!with_reverse) return;
    auto& owners = reverse[key_of(a)];
    if (std::find(owners.begin(), owners.end(), lower) == owners.end())
        owners.push_back(std::move(lower));
}

size_t LocalHints::remove(std::span<const uint8_t> name, const Address* a) {
    const auto lower = lowered(name);
    auto it = names.find(lower);
    if (it == names.end()) return 0;
    size_t removed = 0;
    auto& addrs = it->second;
    for (auto x = addrs.begin(); x != addrs.end();) {
        if (a != nullptr && !same_ip(*x, *a)) {
            ++x;
            continue;
        }
        auto r = reverse.find(key_of(*x));
        if (r != reverse.end()) {
            std::erase(r->second, lower);
            if (r->second.empty()) reverse.erase(r);
        }
        x = addrs.erase(x);
        ++removed;
    }
    if (addrs.empty()) names.erase(it);
    return removed;
}

const std::vector<uint8_t>* LocalHints::ptr_target(std::span<const uint8_t> bytes) const {
    auto it = reverse.find(bytes);
    return it == reverse.end() || it->second.empty() ? nullptr : &it->second.back();
}

HostsLine parse_hosts_line(std::string_view line) {
    HostsLine out;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string_view> words;
    for (size_t pos = 0;;) {
        pos = line.find_first_not_of(" \t\r\n\v\f", pos);
        if (pos == std::string_view::npos) break;
        const size_t end = std::min(line.size(), line.find_first_of(" \t\r\n\v\f", pos));
        words.push_back(line.substr(pos, end - pos));
        pos = end;
    }
    if (words.empty()) return out; // blank
    const auto addr = words[0].find('@') == std::string_view::npos
                          ? parse_address(std::string(words[0]))
                          : std::nullopt; // an address, not an address@port
    if (!addr) {
        out.kind = HostsLine::Kind::bad_address;
        out.bad = words[0];
        return out;
    }
    out.address = *addr;
    if (words.size() == 1) {
        out.kind = HostsLine::Kind::no_name;
        return out;
    }
    for (size_t i = 1; i < words.size(); ++i) {
        dns::Name n;
        if (!dns::name_from_text(words[i], n)) {
            out.kind = HostsLine::Kind::bad_name;
            out.bad = words[i];
            return out;
        }
        out.names.emplace_back(n.wire.begin(), n.wire.begin() + n.len);
    }
    out.kind = HostsLine::Kind::entry;
    return out;
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
