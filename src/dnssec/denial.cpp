// Denial of existence: picks NSEC (nsec.cpp) or NSEC3 (nsec3.cpp) by what
// the proof holds; type bitmaps (RFC 4034 4.1.2) and base32hex (RFC 4648 7)
// shared by both.
#include "dnssec/dnssec.hpp"
#include "dnssec/internal.hpp"

namespace kresd::dnssec {

namespace detail {

bool bitmap_valid(std::span<const uint8_t> bm) {
    size_t pos = 0;
    int last_window = -1;
    while (pos < bm.size()) {
        if (bm.size() - pos < 2) return false;
        const uint8_t window = bm[pos];
        const uint8_t len = bm[pos + 1];
        if (static_cast<int>(window) <= last_window || len == 0 || len > 32 ||
            bm.size() - pos - 2 < len)
            return false;
        last_window = window;
        pos += size_t{2} + len;
    }
    return true;
}

bool bitmap_has(std::span<const uint8_t> bm, uint16_t type) {
    const uint8_t want = static_cast<uint8_t>(type >> 8);
    const uint8_t bit = static_cast<uint8_t>(type & 0xFF);
    size_t pos = 0;
    while (bm.size() - pos >= 2) {
        const uint8_t window = bm[pos];
        const uint8_t len = bm[pos + 1];
        if (bm.size() - pos - 2 < len) return false;
        if (window == want)
            return bit / 8 < len && (bm[pos + 2 + bit / 8] & (0x80 >> (bit % 8))) != 0;
        pos += size_t{2} + len;
    }
    return false;
}

Judgement not_proven(std::string why) {
    return {Security::bogus, ede::NSEC_MISSING, std::move(why)};
}

namespace {
constexpr char kB32[] = "0123456789abcdefghijklmnopqrstuv";
}

std::string base32hex_encode(std::span<const uint8_t> data) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (uint8_t b : data) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 5) {
            out += kB32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out += kB32[(acc << (5 - bits)) & 31];
    return out;
}

bool base32hex_decode(std::span<const uint8_t> text, std::vector<uint8_t>& out) {
    out.clear();
    uint32_t acc = 0;
    int bits = 0;
    for (uint8_t c : text) {
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'v')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'V')
            v = c - 'A' + 10;
        else
            return false;
        acc = (acc << 5) | static_cast<uint32_t>(v);
        bits += 5;
        if (bits >= 8) {
            out.push_back(static_cast<uint8_t>(acc >> (bits - 8)));
            bits -= 8;
        }
        acc &= (1u << bits) - 1;
    }
    // Leftover bits must be padding zeros (a 20-byte hash is 32 characters).
    return bits < 5 && acc == 0 && !out.empty();
}

} // namespace detail

namespace {

enum class Kind { none, nsec, nsec3 };

// A zone signs with NSEC or with NSEC3; NSEC wins when both are present.
Kind kind_of(std::span<const dns::Record> proof, const dns::Name& zone) {
    Kind k = Kind::none;
    for (const dns::Record& rr : proof) {
        if (!dns::name_in_zone(rr.owner.view(), zone.view())) continue;
        if (rr.type == dns::type::NSEC) return Kind::nsec;
        if (rr.type == dns::type::NSEC3) k = Kind::nsec3;
    }
    return k;
}

} // namespace

Judgement prove_nxdomain(const dns::Name& qname, const dns::Name& zone,
                         std::span<const dns::Record> proof, const Limits& lim) {
    if (!dns::name_in_zone(qname.view(), zone.view()))
        return detail::not_proven("name is not in the zone");
    switch (kind_of(proof, zone)) {
    case Kind::nsec:
        return detail::nsec_nxdomain(qname, zone, proof);
    case Kind::nsec3:
        return detail::nsec3_nxdomain(qname, zone, proof, lim);
    case Kind::none:
        break;
    }
    return detail::not_proven("no NSEC or NSEC3 records");
}

Judgement prove_nodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                       std::span<const dns::Record> proof, const Limits& lim) {
    if (!dns::name_in_zone(qname.view(), zone.view()))
        return detail::not_proven("name is not in the zone");
    switch (kind_of(proof, zone)) {
    case Kind::nsec:
        return detail::nsec_nodata(qname, qtype, zone, proof);
    case Kind::nsec3:
        return detail::nsec3_nodata(qname, qtype, zone, proof, lim);
    case Kind::none:
        break;
    }
    return detail::not_proven("no NSEC or NSEC3 records");
}

Judgement prove_no_ds(const dns::Name& child, const dns::Name& zone,
                      std::span<const dns::Record> proof, const Limits& lim) {
    if (!detail::name_below(child, zone))
        return detail::not_proven("delegation is not below the zone");
    switch (kind_of(proof, zone)) {
    case Kind::nsec:
        return detail::nsec_no_ds(child, zone, proof);
    case Kind::nsec3:
        return detail::nsec3_no_ds(child, zone, proof, lim);
    case Kind::none:
        break;
    }
    return detail::not_proven("no NSEC or NSEC3 records");
}

Judgement prove_wildcard(const dns::Name& qname, uint8_t labels, const dns::Name& zone,
                         std::span<const dns::Record> proof, const Limits& lim) {
    const int qlabels = detail::label_count(qname);
    if (!dns::name_in_zone(qname.view(), zone.view()) || labels >= qlabels ||
        labels < detail::label_count(zone))
        return detail::not_proven("wildcard labels do not fit the name");
    switch (kind_of(proof, zone)) {
    case Kind::nsec:
        return detail::nsec_wildcard(qname, labels, zone, proof);
    case Kind::nsec3:
        return detail::nsec3_wildcard(qname, labels, zone, proof, lim);
    case Kind::none:
        break;
    }
    return detail::not_proven("no NSEC or NSEC3 records");
}

} // namespace kresd::dnssec
