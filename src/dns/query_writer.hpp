// Writes the queries a resolver sends upstream (RFC 1035 4.1): one question,
// optionally an OPT record (RFC 6891 6.1). The message is returned without
// the two-byte TCP length prefix (RFC 7766 8); whoever sends it over TCP
// adds that.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kresd::dns {

struct QueryFlags {
    uint16_t id = 0;
    bool rd = false;        // recursion desired: set when forwarding
    bool cd = false;        // checking disabled (RFC 4035 3.2.2)
    bool edns = true;       // add an OPT record
    uint16_t edns_size = 0; // advertised UDP payload size (>= 512 is sent)
    bool do_bit = false;    // DNSSEC OK (RFC 3225)
};

// `qname` is one uncompressed wire name; it is copied as given (case kept).
// Returns an empty vector when qname is not a well-formed wire name.
std::vector<uint8_t> write_query(std::span<const uint8_t> qname, uint16_t qtype, uint16_t qclass,
                                 const QueryFlags& flags);

} // namespace kresd::dns
