// See query_writer.hpp.
#include "dns/query_writer.hpp"

#include <algorithm>

#include "dns/wire.hpp"

namespace kresd::dns {
namespace {

void put16(std::vector<uint8_t>& out, uint16_t v)
{
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}

} // namespace

std::vector<uint8_t> write_query(std::span<const uint8_t> qname, uint16_t qtype, uint16_t qclass,
                                 const QueryFlags& flags)
{
    if (name_labels(qname) < 0)
        return {};
    std::vector<uint8_t> out;
    out.reserve(kHeaderSize + qname.size() + 4 + 11);
    // RFC 1035 4.1.1: ID; QR=0, OPCODE=QUERY, RD as asked; CD in the
    // second flag byte (RFC 4035 3.2.2); one question, one OPT or none.
    put16(out, flags.id);
    out.push_back(flags.rd ? 0x01 : 0x00);
    out.push_back(flags.cd ? 0x10 : 0x00);
    put16(out, 1);
    put16(out, 0);
    put16(out, 0);
    put16(out, flags.edns ? 1 : 0);
    // RFC 1035 4.1.2: QNAME, QTYPE, QCLASS.
    out.insert(out.end(), qname.begin(), qname.end());
    put16(out, qtype);
    put16(out, qclass);
    if (flags.edns) {
        // RFC 6891 6.1.2: root owner, TYPE=OPT, CLASS=UDP payload size,
        // TTL = extended RCODE 0, version 0, DO, Z; no options.
        out.push_back(0);
        put16(out, type::OPT);
        put16(out, std::max(flags.edns_size, kMinUdpSize));
        put16(out, 0);
        put16(out, flags.do_bit ? 0x8000 : 0);
        put16(out, 0);
    }
    return out;
}

} // namespace kresd::dns
