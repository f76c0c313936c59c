// Local names set with hints['name'] = 'address' and hints.set(): the
// worker answers them before the policy and the cache (docs/resolution.rst,
// "Local answers: hints"), and their addresses' reverse names too.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "resolve/resolve.hpp"

namespace kresd::resolve {

// Orders byte strings as std::vector's operator< does, and lets a map
// keyed by vectors be searched with a span (no copy per lookup).
struct BytesLess {
    using is_transparent = void;
    bool operator()(std::span<const uint8_t> a, std::span<const uint8_t> b) const {
        return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    }
};

struct LocalHints {
    static constexpr uint32_t kDefaultTtl = 5;
    uint32_t ttl = kDefaultTtl; // of every answer from the hints (hints.ttl())
    // A hinted name's other types (and its reverse name's) get NODATA;
    // false lets those queries be resolved (hints.use_nodata()).
    bool use_nodata = true;
    // Lower-cased wire name -> its addresses, in the order added.
    std::map<std::vector<uint8_t>, std::vector<Address>, BytesLess> names;
    // Address bytes (4 or 16) -> the names given that address, in the
    // order added: the PTR answer of its reverse name is the last one (one
    // name, as Knot Resolver answers).
    std::map<std::vector<uint8_t>, std::vector<std::vector<uint8_t>>, BytesLess> reverse;

    bool empty() const { return names.empty(); }
    // Adds `a` to `name` (a wire name, any case) unless it is there, and
    // with `with_reverse`, `name` to the names of `a` (a hosts file's
    // aliases are added without: the PTR names the first name of a line).
    void add(std::span<const uint8_t> name, const Address& a, bool with_reverse = true);
    // Removes `a` from `name`, or every address of `name` when `a` is
    // null, and `name` from the names of each address removed. Returns how
    // many addresses were removed.
    size_t remove(std::span<const uint8_t> name, const Address* a);
    // Forgets every name and address (ttl and use_nodata stay).
    void clear() {
        names.clear();
        reverse.clear();
    }
    // The PTR answer for the address bytes, or null.
    const std::vector<uint8_t>* ptr_target(std::span<const uint8_t> bytes) const;
};

// One line of a hosts file (hosts(5)): an address, then its names; '#'
// starts a comment. Blank and comment-only lines give `blank`.
struct HostsLine {
    enum class Kind { entry, blank, bad_address, bad_name, no_name } kind = Kind::blank;
    Address address;
    std::vector<std::vector<uint8_t>> names; // wire, as written
    std::string bad;                         // the address or name refused
};
HostsLine parse_hosts_line(std::string_view line);

// The 4 or 16 bytes of an IPv4 or IPv6 address (as in A and AAAA RDATA).
std::span<const uint8_t> address_bytes(const Address& a);

// The address bytes of a reverse name (lower-cased wire): 4 for
// d.c.b.a.in-addr.arpa. (decimal labels 0-255), 16 for the 32 nibble
// labels of ip6.arpa.; nullopt for any other name.
std::optional<std::vector<uint8_t>> reverse_address(std::span<const uint8_t> name);

} // namespace kresd::resolve
