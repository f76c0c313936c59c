// NSEC3 proofs (RFC 5155 8, RFC 9276 3.2 for the iteration limit).
//
// Records are usable when hash algorithm 1 (SHA-1), flags 0 or 1
// (opt-out), owner "<base32hex hash>.<zone>" with a hash of the same length
// as the next hashed owner (RFC 5155 8.1, 8.2: others are ignored). All
// usable records of a proof must share algorithm, iterations and salt; more
// iterations than the limit make the answer insecure before anything is
// hashed. Hashes are computed once per name and proof.
#include <algorithm>
#include <optional>
#include <vector>

#include "dnssec/internal.hpp"

namespace kresd::dnssec {
namespace detail {

namespace {

constexpr uint8_t kOptOut = 0x01;

struct Nsec3 {
    std::vector<uint8_t> hash; // decoded from the owner's first label
    std::span<const uint8_t> next;
    std::span<const uint8_t> salt;
    std::span<const uint8_t> bitmap;
    uint8_t alg = 0, flags = 0;
    uint16_t iterations = 0;
    bool has(uint16_t t) const { return bitmap_has(bitmap, t); }
    bool opt_out() const { return (flags & kOptOut) != 0; }
};

// The fields of NSEC3 rdata (RFC 5155 3.2); false when malformed.
bool parse_rdata(std::span<const uint8_t> rd, Nsec3& n) {
    if (rd.size() < 5) return false;
    n.alg = rd[0];
    n.flags = rd[1];
    n.iterations = static_cast<uint16_t>(rd[2] << 8 | rd[3]);
    size_t pos = 4;
    const size_t salt_len = rd[pos++];
    if (rd.size() - pos < salt_len + 1) return false;
    n.salt = rd.subspan(pos, salt_len);
    pos += salt_len;
    const size_t hash_len = rd[pos++];
    if (hash_len == 0 || rd.size() - pos < hash_len) return false;
    n.next = rd.subspan(pos, hash_len);
    pos += hash_len;
    n.bitmap = rd.subspan(pos);
    return bitmap_valid(n.bitmap);
}

class Proof {
  public:
    Proof(const dns::Name& zone, std::span<const dns::Record> records) : zone_(zone) {
        for (const dns::Record& rr : records) {
            if (rr.type != dns::type::NSEC3 || rr.owner.len < 2 || rr.owner.wire[0] == 0) continue;
            Nsec3 n;
            if (!parse_rdata(rr.rdata, n) || n.alg != 1 || (n.flags & ~kOptOut) != 0)
                continue; // RFC 5155 8.1, 8.2: ignored
            // The owner is exactly one label (the hash) above the zone.
            const uint8_t first = rr.owner.wire[0];
            dns::Name parent;
            size_t pos = size_t{1} + first;
            if (!read_name(rr.owner.view(), pos, parent) || !name_equal(parent, zone)) continue;
            if (!base32hex_decode(std::span(rr.owner.wire.data() + 1, first), n.hash) ||
                n.hash.size() != n.next.size())
                continue;
            if (!all_.empty()) {
                const Nsec3& p = all_.front();
                if (p.iterations != n.iterations || p.alg != n.alg ||
                    !std::equal(p.salt.begin(), p.salt.end(), n.salt.begin(), n.salt.end()))
                    mixed_ = true;
            }
            all_.push_back(std::move(n));
        }
    }

    // Something in the way of any proof: no records, mixed parameters,
    // too many iterations.
    std::optional<Judgement> unusable(const Limits& lim) const {
        if (all_.empty()) return not_proven("no usable NSEC3 records");
        if (mixed_) return Judgement{Security::bogus, ede::DNSSEC_BOGUS, "NSEC3 parameters differ"};
        if (all_.front().iterations > lim.max_nsec3_iterations)
            return Judgement{Security::insecure, ede::UNSUPPORTED_NSEC3_ITERATIONS,
                             "NSEC3 iterations over the limit"};
        return std::nullopt;
    }

    const std::vector<uint8_t>& hash(const dns::Name& name) {
        const dns::Name lower = name_lowered(name);
        for (const auto& [n, h] : hashes_)
            if (n.len == lower.len &&
                std::equal(n.wire.begin(), n.wire.begin() + n.len, lower.wire.begin()))
                return h;
        const Nsec3& p = all_.front();
        hashes_.emplace_back(lower, nsec3_sha1(lower.view(), p.salt, p.iterations));
        return hashes_.back().second;
    }

    const Nsec3* match(const dns::Name& name) {
        const auto& h = hash(name);
        for (const Nsec3& n : all_)
            if (n.hash == h) return &n;
        return nullptr;
    }

    // owner < h < next, or the last one (next <= owner) wrapping around.
    const Nsec3* cover(const dns::Name& name) {
        const auto& h = hash(name);
        for (const Nsec3& n : all_) {
            if (n.hash.size() != h.size()) continue;
            const std::span<const uint8_t> next = n.next;
            const bool after_owner = n.hash < h;
            const bool before_next =
                std::lexicographical_compare(h.begin(), h.end(), next.begin(), next.end());
            const bool wraps = !std::lexicographical_compare(n.hash.begin(), n.hash.end(),
                                                             next.begin(), next.end());
            if (wraps ? (after_owner || before_next) : (after_owner && before_next)) return &n;
        }
        return nullptr;
    }

    // RFC 5155 8.3 closest encloser proof of `name`.
    struct Encloser {
        const Nsec3* name_match = nullptr; // the name itself exists
        const Nsec3* nc_cover = nullptr;   // set when proven
        dns::Name ce;
        std::string why;
    };
    Encloser closest_encloser(const dns::Name& name) {
        Encloser e;
        const int qlabels = label_count(name);
        const int zlabels = label_count(zone_);
        for (int k = qlabels; k >= zlabels && k >= 0; --k) {
            const dns::Name candidate = name_suffix(name, k);
            const Nsec3* m = match(candidate);
            if (m == nullptr) continue;
            if (k == qlabels) {
                e.name_match = m;
                return e;
            }
            // The closest encloser may not be a delegation or a DNAME: the
            // names below it are not this zone's to deny.
            if ((m->has(dns::type::NS) && !m->has(dns::type::SOA)) || m->has(dns::type::DNAME)) {
                e.why = "closest encloser is a delegation point or DNAME";
                return e;
            }
            e.ce = candidate;
            e.nc_cover = cover(name_suffix(name, k + 1));
            if (e.nc_cover == nullptr) e.why = "no NSEC3 covers the next closer name";
            return e;
        }
        e.why = "no NSEC3 matches a closest encloser";
        return e;
    }

  private:
    dns::Name zone_;
    std::vector<Nsec3> all_;
    bool mixed_ = false;
    std::vector<std::pair<dns::Name, std::vector<uint8_t>>> hashes_;
};

Judgement secure(std::string why) {
    return {Security::secure, 0, std::move(why)};
}

Judgement bogus(std::string why) {
    return {Security::bogus, ede::DNSSEC_BOGUS, std::move(why)};
}

Judgement opt_out(std::string why) {
    return {Security::insecure, 0, std::move(why)};
}

} // namespace

Judgement nsec3_nxdomain(const dns::Name& qname, const dns::Name& zone,
                         std::span<const dns::Record> records, const Limits& lim) {
    Proof p(zone, records);
    if (auto j = p.unusable(lim)) return *j;
    auto e = p.closest_encloser(qname);
    if (e.name_match != nullptr) return bogus("NSEC3 shows the name exists");
    if (e.nc_cover == nullptr) return not_proven(e.why);
    // RFC 5155 8.4: and no wildcard at the closest encloser.
    dns::Name wild;
    if (!name_wildcard(e.ce, wild)) return not_proven("wildcard name too long");
    if (p.match(wild) != nullptr) return bogus("NSEC3 shows the wildcard exists");
    if (p.cover(wild) == nullptr) return not_proven("no NSEC3 covers the wildcard");
    if (e.nc_cover->opt_out()) return opt_out("NXDOMAIN proven only up to an NSEC3 opt-out span");
    return secure("NXDOMAIN proven by NSEC3");
}

Judgement nsec3_nodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                       std::span<const dns::Record> records, const Limits& lim) {
    Proof p(zone, records);
    if (auto j = p.unusable(lim)) return *j;
    // RFC 5155 8.5, 8.6: a matching NSEC3 without the type (and CNAME).
    if (const Nsec3* m = p.match(qname)) {
        if (qtype != dns::type::DS && m->has(dns::type::NS) && !m->has(dns::type::SOA))
            return not_proven("NSEC3 from a delegation point");
        if (qtype == dns::type::DS && m->has(dns::type::SOA) && qname.len > 1)
            return not_proven("NSEC3 from the child's apex cannot deny DS");
        if (m->has(qtype)) return bogus("NSEC3 shows the type exists");
        if (m->has(dns::type::CNAME)) return bogus("NSEC3 shows a CNAME");
        return secure("NODATA proven by NSEC3");
    }
    auto e = p.closest_encloser(qname);
    if (e.nc_cover == nullptr)
        return not_proven(e.why.empty() ? "no NSEC3 matches the name" : e.why);
    // RFC 5155 8.6: DS inside an opt-out span.
    if (qtype == dns::type::DS && e.nc_cover->opt_out())
        return opt_out("no DS: the name is in an NSEC3 opt-out span");
    // RFC 5155 8.7: wildcard NODATA.
    dns::Name wild;
    const Nsec3* w = name_wildcard(e.ce, wild) ? p.match(wild) : nullptr;
    if (w != nullptr) {
        if (w->has(qtype) || w->has(dns::type::CNAME))
            return bogus("NSEC3 shows the wildcard has the type");
        return secure("wildcard NODATA proven by NSEC3");
    }
    return not_proven("no NSEC3 matches the name");
}

Judgement nsec3_no_ds(const dns::Name& child, const dns::Name& zone,
                      std::span<const dns::Record> records, const Limits& lim) {
    Proof p(zone, records);
    if (auto j = p.unusable(lim)) return *j;
    if (const Nsec3* m = p.match(child)) {
        if (m->has(dns::type::DS)) return bogus("NSEC3 shows a DS at the delegation");
        if (m->has(dns::type::SOA)) return bogus("NSEC3 at the delegation is from the child zone");
        if (!m->has(dns::type::NS)) return bogus("NSEC3 shows no delegation");
        return {Security::insecure, 0, "insecure delegation proven by NSEC3"};
    }
    // RFC 5155 6, 8.6: an unsigned delegation inside an opt-out span.
    auto e = p.closest_encloser(child);
    if (e.nc_cover == nullptr)
        return not_proven(e.why.empty() ? "no NSEC3 at the delegation" : e.why);
    if (!e.nc_cover->opt_out()) return bogus("NSEC3 denies the delegation without opt-out");
    return {Security::insecure, 0, "delegation in an NSEC3 opt-out span"};
}

Judgement nsec3_wildcard(const dns::Name& qname, uint8_t labels, const dns::Name& zone,
                         std::span<const dns::Record> records, const Limits& lim) {
    Proof p(zone, records);
    if (auto j = p.unusable(lim)) return *j;
    // RFC 5155 8.8: the next closer name is covered (so it does not exist).
    const dns::Name next_closer = name_suffix(qname, labels + 1);
    if (p.match(next_closer) != nullptr || p.cover(next_closer) == nullptr)
        return not_proven("no NSEC3 covers the next closer name");
    return secure("wildcard expansion proven by NSEC3");
}

} // namespace detail

std::string nsec3_hash(const dns::Name& name, std::span<const uint8_t> rdata) {
    detail::Nsec3 n;
    if (!detail::parse_rdata(rdata, n) || n.alg != 1 || detail::label_count(name) < 0) return {};
    const dns::Name lower = detail::name_lowered(name);
    return detail::base32hex_encode(detail::nsec3_sha1(lower.view(), n.salt, n.iterations));
}

} // namespace kresd::dnssec
