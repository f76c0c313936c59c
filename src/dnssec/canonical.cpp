// The data an RRSIG signs (RFC 4034 3.1.8.1) in canonical form (RFC 4034
// 6.2, RFC 6840 5.1, RFC 4035 5.3.2). Pure byte work; the signature itself
// is checked in crypto.cpp.
#include <algorithm>

#include "dnssec/internal.hpp"

namespace kresd::dnssec::detail {

namespace {

// RR types whose rdata names are lower-cased (RFC 4034 6.2 as amended by
// RFC 6840 5.1: not NSEC; RFC 3597 7 for the rest), and their layout.
enum class Layout { none, name, name2, pref_name, pref_name2, soa, srv, naptr, a6 };

Layout layout_of(uint16_t type) {
    switch (type) {
    case 2:  // NS
    case 3:  // MD
    case 4:  // MF
    case 5:  // CNAME
    case 7:  // MB
    case 8:  // MG
    case 9:  // MR
    case 12: // PTR
    case 39: // DNAME
        return Layout::name;
    case 14: // MINFO
    case 17: // RP
        return Layout::name2;
    case 15: // MX
    case 18: // AFSDB
    case 21: // RT
    case 36: // KX
        return Layout::pref_name;
    case 26: // PX
        return Layout::pref_name2;
    case 6: // SOA
        return Layout::soa;
    case 33: // SRV
        return Layout::srv;
    case 35: // NAPTR
        return Layout::naptr;
    case 38: // A6
        return Layout::a6;
    default:
        return Layout::none;
    }
}

// Lower-cases the name at out[pos] in place; false when malformed.
bool lower_name_at(std::vector<uint8_t>& out, size_t& pos) {
    dns::Name n;
    const size_t start = pos;
    if (!read_name(out, pos, n)) return false;
    for (size_t i = start; i < pos; ++i)
        if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<uint8_t>(out[i] + 32);
    return true;
}

bool skip(const std::vector<uint8_t>& out, size_t& pos, size_t n) {
    if (out.size() - pos < n) return false;
    pos += n;
    return true;
}

bool skip_string(const std::vector<uint8_t>& out, size_t& pos) {
    return pos < out.size() && skip(out, pos, size_t{1} + out[pos]);
}

} // namespace

std::optional<std::vector<uint8_t>> canonical_rdata(uint16_t type, std::span<const uint8_t> rdata) {
    std::vector<uint8_t> out(rdata.begin(), rdata.end());
    size_t pos = 0;
    bool ok = true;
    switch (layout_of(type)) {
    case Layout::none:
        return out;
    case Layout::name:
        ok = lower_name_at(out, pos);
        break;
    case Layout::name2:
        ok = lower_name_at(out, pos) && lower_name_at(out, pos);
        break;
    case Layout::pref_name:
        ok = skip(out, pos, 2) && lower_name_at(out, pos);
        break;
    case Layout::pref_name2:
        ok = skip(out, pos, 2) && lower_name_at(out, pos) && lower_name_at(out, pos);
        break;
    case Layout::soa:
        ok = lower_name_at(out, pos) && lower_name_at(out, pos) && skip(out, pos, 20);
        break;
    case Layout::srv:
        ok = skip(out, pos, 6) && lower_name_at(out, pos);
        break;
    case Layout::naptr:
        ok = skip(out, pos, 4) && skip_string(out, pos) && skip_string(out, pos) &&
             skip_string(out, pos) && lower_name_at(out, pos);
        break;
    case Layout::a6: {
        // RFC 2874 3.1: prefix length, the address suffix, a name if prefix > 0.
        if (out.empty() || out[0] > 128) return std::nullopt;
        const uint8_t prefix = out[0];
        ok = skip(out, pos, size_t{1} + (128 - prefix + 7) / 8) &&
             (prefix == 0 || lower_name_at(out, pos));
        break;
    }
    }
    if (!ok || pos != out.size()) return std::nullopt;
    return out;
}

std::optional<std::vector<uint8_t>> signed_data(std::span<const uint8_t> rrsig_prefix,
                                                const std::vector<const dns::Record*>& rrs,
                                                uint8_t sig_labels, uint32_t original_ttl) {
    if (rrs.empty() || rrsig_prefix.size() < 19) return std::nullopt;
    std::vector<uint8_t> out(rrsig_prefix.begin(), rrsig_prefix.end());
    for (size_t i = 18; i < out.size(); ++i) // the signer's name, lower-cased
        if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<uint8_t>(out[i] + 32);

    // RFC 4035 5.3.2: every RR of the set has the same owner; a wildcard
    // expansion is signed as "*." + the last `labels` labels.
    dns::Name owner = name_lowered(rrs.front()->owner);
    const int owner_labels = label_count(owner);
    if (owner_labels < 0) return std::nullopt;
    if (sig_labels < owner_labels) {
        dns::Name wild;
        if (!name_wildcard(name_suffix(owner, sig_labels), wild)) return std::nullopt;
        owner = wild;
    }

    std::vector<std::vector<uint8_t>> rdatas;
    rdatas.reserve(rrs.size());
    for (const dns::Record* rr : rrs) {
        auto rd = canonical_rdata(rr->type, rr->rdata);
        if (!rd || rd->size() > 0xFFFF) return std::nullopt;
        rdatas.push_back(std::move(*rd));
    }
    // RFC 4034 6.3: ordered by rdata as left-justified unsigned octet
    // sequences (a shorter prefix sorts first); RFC 4034 6.3 / RFC 2181 5:
    // duplicates are removed.
    std::sort(rdatas.begin(), rdatas.end());
    rdatas.erase(std::unique(rdatas.begin(), rdatas.end()), rdatas.end());

    const uint16_t type = rrs.front()->type;
    const uint16_t klass = rrs.front()->klass;
    for (const auto& rd : rdatas) {
        out.insert(out.end(), owner.wire.begin(), owner.wire.begin() + owner.len);
        const uint8_t fixed[10] = {static_cast<uint8_t>(type >> 8),
                                   static_cast<uint8_t>(type & 0xFF),
                                   static_cast<uint8_t>(klass >> 8),
                                   static_cast<uint8_t>(klass & 0xFF),
                                   static_cast<uint8_t>(original_ttl >> 24),
                                   static_cast<uint8_t>(original_ttl >> 16 & 0xFF),
                                   static_cast<uint8_t>(original_ttl >> 8 & 0xFF),
                                   static_cast<uint8_t>(original_ttl & 0xFF),
                                   static_cast<uint8_t>(rd.size() >> 8),
                                   static_cast<uint8_t>(rd.size() & 0xFF)};
        out.insert(out.end(), fixed, fixed + 10);
        out.insert(out.end(), rd.begin(), rd.end());
    }
    return out;
}

} // namespace kresd::dnssec::detail
