// One resource record as the resolution core and the validator handle it:
// owner name (case as received), type, class, TTL and RDATA in wire form
// with names uncompressed.
#pragma once

#include <cstdint>
#include <vector>

#include "dns/wire.hpp"

namespace kresd::dns {

// The DNSSEC status of data (src/dnssec decides it; the cache keeps it).
enum class Security : uint8_t {
    unknown = 0,  // not validated (data the validator did not look at)
    insecure = 1, // provably unsigned (no trust anchor, NTA, insecure delegation)
    secure = 2,   // validated from a trust anchor
    bogus = 3,    // should be signed and is not, or the signatures fail
};

struct Record {
    Name owner;
    uint16_t type = 0;
    uint16_t klass = 0;
    uint32_t ttl = 0;
    std::vector<uint8_t> rdata;
};

} // namespace kresd::dns
