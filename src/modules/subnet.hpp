// Addresses and subnets as Knot Resolver's module options write them
// ("192.0.2.0/24", "2001:db8::/32", "::1", "64:ff9b::"), for dns64 and
// renumber: the family follows from the text (a ':' means IPv6), a missing
// length means the whole address, as Knot Resolver's kr_straddr_subnet().
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace kresd::modules {

struct Subnet {
    std::array<uint8_t, 16> bytes{}; // IPv4 in the first 4
    bool v6 = false;
    unsigned bits = 0; // prefix length

    size_t size() const { return v6 ? 16 : 4; }
    std::span<const uint8_t> address() const { return {bytes.data(), size()}; }
    // The first `bits` bits of `addr` (A or AAAA RDATA) are ours; an address
    // shorter than the prefix never is.
    bool contains(std::span<const uint8_t> addr) const;
};

// "ADDR" or "ADDR/LEN"; nullopt when either part is malformed or LEN is
// longer than the address.
std::optional<Subnet> parse_subnet(std::string_view text);
// Just an address (no length): bits is its full length.
std::optional<Subnet> parse_ip(std::string_view text);

} // namespace kresd::modules
