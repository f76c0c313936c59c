// Local names set with hints['name'] = 'address' and hints.set(): the
// worker answers them before the policy and the cache (docs/resolution.rst,
// "Local answers: hints"), and their addresses' reverse names too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "resolve/resolve.hpp"

namespace kresd::resolve {

struct LocalHints {
    static constexpr uint32_t kTtl = 5; // of every answer from the hints
    // Lower-cased wire name -> its addresses, in the order added.
    std::map<std::vector<uint8_t>, std::vector<Address>> names;
    // Address bytes (4 or 16) -> the name last given that address: the PTR
    // answer of its reverse name (one name, as Knot Resolver answers).
    std::map<std::vector<uint8_t>, std::vector<uint8_t>> reverse;

    bool empty() const { return names.empty(); }
    // Adds `a` to `name` (lower-cased wire) and points its reverse name at it.
    void add(std::span<const uint8_t> name, const Address& a);
};

// The 4 or 16 bytes of an IPv4 or IPv6 address (as in A and AAAA RDATA).
std::span<const uint8_t> address_bytes(const Address& a);

// The address bytes of a reverse name (lower-cased wire): 4 for
// d.c.b.a.in-addr.arpa. (decimal labels 0-255), 16 for the 32 nibble
// labels of ip6.arpa.; nullopt for any other name.
std::optional<std::vector<uint8_t>> reverse_address(std::span<const uint8_t> name);

} // namespace kresd::resolve
