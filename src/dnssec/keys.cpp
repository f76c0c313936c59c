// Algorithms, key data, DS matching and RRSIG fields (RFC 4034 2, 3, 5;
// RFC 8624 for what we accept).
#include <cstdio>
#include <algorithm>

#include "dnssec/dnssec.hpp"
#include "dnssec/internal.hpp"

namespace kresd::dnssec {

const char* to_text(Security s) {
    switch (s) {
    case Security::unknown:
        return "unknown";
    case Security::insecure:
        return "insecure";
    case Security::secure:
        return "secure";
    case Security::bogus:
        return "bogus";
    }
    return "unknown";
}

bool algorithm_supported(uint8_t alg) {
    switch (alg) {
    case 5:  // RSASHA1
    case 7:  // RSASHA1-NSEC3-SHA1
    case 8:  // RSASHA256
    case 10: // RSASHA512
    case 13: // ECDSAP256SHA256
    case 14: // ECDSAP384SHA384
    case 15: // ED25519
    case 16: // ED448
        return true;
    default:
        return false;
    }
}

bool digest_supported(uint8_t digest) {
    return digest == 1 || digest == 2 || digest == 4;
}

uint16_t key_tag(std::span<const uint8_t> rdata) {
    // RFC 4034 Appendix B.
    uint32_t ac = 0;
    for (size_t i = 0; i < rdata.size(); ++i)
        ac += (i & 1) ? rdata[i] : static_cast<uint32_t>(rdata[i]) << 8;
    ac += (ac >> 16) & 0xFFFF;
    return static_cast<uint16_t>(ac & 0xFFFF);
}

uint16_t dnskey_flags(std::span<const uint8_t> rdata) {
    if (rdata.size() < 4) return 0;
    return static_cast<uint16_t>(rdata[0] << 8 | rdata[1]);
}

uint8_t dnskey_algorithm(std::span<const uint8_t> rdata) {
    return rdata.size() < 4 ? 0 : rdata[3];
}

namespace {
// RFC 4034 5.1.4: digest = hash(canonical owner | DNSKEY rdata).
std::vector<uint8_t> key_digest(const dns::Name& owner, std::span<const uint8_t> dnskey,
                                uint8_t digest_type) {
    const dns::Name lower = detail::name_lowered(owner);
    std::vector<uint8_t> data(lower.wire.begin(), lower.wire.begin() + lower.len);
    data.insert(data.end(), dnskey.begin(), dnskey.end());
    return detail::ds_digest(digest_type, data);
}
} // namespace

bool ds_matches(const dns::Name& owner, std::span<const uint8_t> ds,
                std::span<const uint8_t> dnskey) {
    if (ds.size() < 5 || dnskey.size() < 5 || detail::label_count(owner) < 0) return false;
    const uint16_t tag = static_cast<uint16_t>(ds[0] << 8 | ds[1]);
    if (tag != key_tag(dnskey) || ds[2] != dnskey_algorithm(dnskey)) return false;
    const std::vector<uint8_t> digest = key_digest(owner, dnskey, ds[3]);
    return !digest.empty() && digest.size() == ds.size() - 4 &&
           std::equal(digest.begin(), digest.end(), ds.begin() + 4);
}

std::vector<uint8_t> make_ds(const dns::Name& owner, std::span<const uint8_t> dnskey,
                             uint8_t digest_type) {
    if (dnskey.size() < 5 || detail::label_count(owner) < 0) return {};
    const std::vector<uint8_t> digest = key_digest(owner, dnskey, digest_type);
    if (digest.empty()) return {};
    const uint16_t tag = key_tag(dnskey);
    std::vector<uint8_t> out{static_cast<uint8_t>(tag >> 8), static_cast<uint8_t>(tag & 0xFF),
                             dnskey_algorithm(dnskey), digest_type};
    out.insert(out.end(), digest.begin(), digest.end());
    return out;
}

std::optional<RrsigInfo> parse_rrsig(std::span<const uint8_t> r) {
    // RFC 4034 3.1: type covered(2) algorithm(1) labels(1) original TTL(4)
    // expiration(4) inception(4) key tag(2) signer's name, signature.
    if (r.size() < 18) return std::nullopt;
    auto u32 = [&](size_t o) {
        return static_cast<uint32_t>(r[o]) << 24 | static_cast<uint32_t>(r[o + 1]) << 16 |
               static_cast<uint32_t>(r[o + 2]) << 8 | r[o + 3];
    };
    RrsigInfo info;
    info.type_covered = static_cast<uint16_t>(r[0] << 8 | r[1]);
    info.algorithm = r[2];
    info.labels = r[3];
    info.original_ttl = u32(4);
    info.expiration = u32(8);
    info.inception = u32(12);
    info.key_tag = static_cast<uint16_t>(r[16] << 8 | r[17]);
    size_t pos = 18;
    if (!detail::read_name(r, pos, info.signer)) return std::nullopt;
    if (pos >= r.size()) // no signature at all
        return std::nullopt;
    return info;
}

namespace {

std::string hex_upper(std::span<const uint8_t> b) {
    static const char digits[] = "0123456789ABCDEF";
    std::string out;
    for (uint8_t c : b) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string base64(std::span<const uint8_t> b) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < b.size(); i += 3) {
        const uint32_t v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
        for (int s : {18, 12, 6, 0})
            out += abc[(v >> s) & 63];
    }
    if (i < b.size()) {
        const uint32_t v = (b[i] << 16) | (i + 1 < b.size() ? b[i + 1] << 8 : 0);
        out += abc[(v >> 18) & 63];
        out += abc[(v >> 12) & 63];
        out += i + 1 < b.size() ? abc[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

} // namespace

std::string anchor_text(const dns::Record& rr) {
    const auto& d = rr.rdata;
    if ((rr.type != dns::type::DS && rr.type != dns::type::DNSKEY) || d.size() < 4) return "";
    char head[40];
    std::string type, rdata;
    std::snprintf(head, sizeof head, "%u %u %u ", static_cast<unsigned>(d[0] << 8 | d[1]), d[2],
                  d[3]);
    if (rr.type == dns::type::DS) {
        type = "DS";
        rdata = head + hex_upper(std::span(d).subspan(4));
    } else {
        type = "DNSKEY";
        rdata = head + base64(std::span(d).subspan(4));
    }
    char owner[300];
    std::snprintf(owner, sizeof owner, "%-20s\t%u\t", dns::name_to_text(rr.owner.view()).c_str(),
                  rr.ttl);
    return owner + type + "\t" + rdata;
}

} // namespace kresd::dnssec
