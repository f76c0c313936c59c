// IPv4 and IPv6 prefixes matched against client addresses, for the view
// rules (Knot Resolver 5.6's view:addr()).
//
// A Subnet keeps its address and mask as two 64-bit words, so a match is
// two XOR-and-mask tests: a client's address is turned into a Key once
// per query, then compared with each view in turn. Twenty views cost
// about as much as one hash lookup; nothing is allocated.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace kresd::policy {

// A client address in the form Subnet compares (family 0: none).
struct SubnetKey {
    int family = 0;
    uint64_t hi = 0, lo = 0; // the address, big-endian words; IPv4 in the top of `hi`

    static SubnetKey of(const sockaddr* sa);
};

struct Subnet {
    int family = 0; // AF_INET or AF_INET6
    unsigned bits = 0;
    uint64_t hi = 0, lo = 0, mask_hi = 0, mask_lo = 0;

    // "192.0.2.0/24", "2001:db8::/32"; without "/len" a single host. The
    // host bits beyond the prefix are ignored, as in Knot Resolver.
    static std::optional<Subnet> parse(std::string_view text);
    bool contains(const SubnetKey& k) const {
        return k.family == family && (((k.hi ^ hi) & mask_hi) | ((k.lo ^ lo) & mask_lo)) == 0;
    }
    std::string to_string() const; // "192.0.2.0/24"
};

} // namespace kresd::policy
