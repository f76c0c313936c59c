// See message.hpp. ldns does the bounds-checked wire reading; this file
// copies what we need out of the ldns objects and lets them go.
#include "resolve/message.hpp"

#include <cstring>
#include <netinet/in.h>

#include "dns/ldns.hpp"
#include "resolve/names.hpp"

namespace kresd::resolve {
namespace {

bool copy_section(const ldns_rr_list* list, std::vector<Record>& out)
{
    const size_t count = list != nullptr ? ldns_rr_list_rr_count(list) : 0;
    out.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(list, i);
        Record r;
        if (!names::from_wire(dns::ldns::rdf_bytes(ldns_rr_owner(rr)), r.owner))
            return false;
        r.type = static_cast<uint16_t>(ldns_rr_get_type(rr));
        r.klass = static_cast<uint16_t>(ldns_rr_get_class(rr));
        r.ttl = ldns_rr_ttl(rr);
        // RFC 2181 8: a TTL with the top bit set is treated as zero.
        if (r.ttl > 0x7FFFFFFFu)
            r.ttl = 0;
        auto rdata = dns::ldns::rdata_wire(rr);
        if (!rdata || rdata->size() > 0xFFFF)
            return false;
        r.rdata = std::move(*rdata);
        out.push_back(std::move(r));
    }
    return true;
}

} // namespace

std::optional<uint16_t> peek_id(std::span<const uint8_t> wire)
{
    if (wire.size() < dns::kHeaderSize)
        return std::nullopt;
    return static_cast<uint16_t>((wire[0] << 8) | wire[1]);
}

std::optional<Message> parse_message(std::span<const uint8_t> wire)
{
    if (wire.size() < dns::kHeaderSize)
        return std::nullopt;
    auto pkt = dns::ldns::parse(wire);
    if (!pkt)
        return std::nullopt;
    const ldns_pkt* p = pkt->get();
    Message m;
    m.id = ldns_pkt_id(p);
    m.qr = ldns_pkt_qr(p);
    m.aa = ldns_pkt_aa(p);
    m.tc = ldns_pkt_tc(p);
    m.rd = ldns_pkt_rd(p);
    m.ra = ldns_pkt_ra(p);
    m.opcode = static_cast<uint8_t>(ldns_pkt_get_opcode(p));
    m.rcode = static_cast<uint8_t>(ldns_pkt_get_rcode(p) & 0x0F);
    const ldns_rr_list* question = ldns_pkt_question(p);
    const size_t qcount = question != nullptr ? ldns_rr_list_rr_count(question) : 0;
    if (qcount > 1)
        return std::nullopt;
    if (qcount == 1) {
        const ldns_rr* q = ldns_rr_list_rr(question, 0);
        if (!names::from_wire(dns::ldns::rdf_bytes(ldns_rr_owner(q)), m.qname))
            return std::nullopt;
        m.qtype = static_cast<uint16_t>(ldns_rr_get_type(q));
        m.qclass = static_cast<uint16_t>(ldns_rr_get_class(q));
        m.has_question = true;
    }
    if (!copy_section(ldns_pkt_answer(p), m.answer) ||
        !copy_section(ldns_pkt_authority(p), m.authority) ||
        !copy_section(ldns_pkt_additional(p), m.additional))
        return std::nullopt;
    return m;
}

bool rdata_name(const Record& rr, dns::Name& out)
{
    return names::from_wire(rr.rdata, out);
}

std::optional<uint32_t> soa_minimum(std::span<const uint8_t> rdata)
{
    // MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM (5 x 32 bits).
    dns::Name n;
    size_t used = 0;
    size_t pos = 0;
    for (int i = 0; i < 2; ++i) {
        if (!names::read_prefix(rdata.subspan(pos), n, used))
            return std::nullopt;
        pos += used;
    }
    if (rdata.size() != pos + 20)
        return std::nullopt;
    const size_t m = pos + 16;
    return (uint32_t{rdata[m]} << 24) | (uint32_t{rdata[m + 1]} << 16) |
           (uint32_t{rdata[m + 2]} << 8) | uint32_t{rdata[m + 3]};
}

std::optional<Address> address_from_rdata(uint16_t type, std::span<const uint8_t> rdata)
{
    Address a;
    if (type == dns::type::A && rdata.size() == 4) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(53);
        std::memcpy(&sin.sin_addr, rdata.data(), 4);
        std::memcpy(&a.ss, &sin, sizeof(sin));
        a.len = sizeof(sin);
        return a;
    }
    if (type == dns::type::AAAA && rdata.size() == 16) {
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(53);
        std::memcpy(&sin6.sin6_addr, rdata.data(), 16);
        std::memcpy(&a.ss, &sin6, sizeof(sin6));
        a.len = sizeof(sin6);
        return a;
    }
    return std::nullopt;
}

} // namespace kresd::resolve
