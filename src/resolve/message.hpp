// An upstream reply, read once with ldns into plain values that the
// classifier and the cache writer use. Owner names keep the server's case;
// RDATA is in wire form with names uncompressed (what the cache stores).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dns/record.hpp"
#include "dns/wire.hpp"
#include "resolve/resolve.hpp"

namespace kresd::resolve {

using dns::Record;

struct Message {
    uint16_t id = 0;
    bool qr = false, aa = false, tc = false, rd = false, ra = false;
    uint8_t opcode = 0;
    uint8_t rcode = 0; // the 4 header bits
    bool has_question = false;
    dns::Name qname;
    uint16_t qtype = 0, qclass = 0;
    std::vector<Record> answer, authority, additional; // OPT not included
};

// The ID from the header, without parsing the rest; nullopt if too short.
std::optional<uint16_t> peek_id(std::span<const uint8_t> wire);
// The whole message; nullopt when malformed (ldns refuses it, or a name or
// record does not fit our limits).
std::optional<Message> parse_message(std::span<const uint8_t> wire);

// RDATA that is exactly one name (NS, CNAME, DNAME, PTR).
bool rdata_name(const Record& rr, dns::Name& out);
// SOA MINIMUM (RFC 1035 3.3.13): the last 32-bit field.
std::optional<uint32_t> soa_minimum(std::span<const uint8_t> rdata);
// A/AAAA RDATA as an address with port 53.
std::optional<Address> address_from_rdata(uint16_t type, std::span<const uint8_t> rdata);

} // namespace kresd::resolve
