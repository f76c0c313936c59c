// NSEC proofs (RFC 4035 5.4 and 3.1.3, RFC 4034 4, RFC 6672 5.3.4.1).
//
// An NSEC "owner -> next" covers the names strictly between them in
// canonical order (the last NSEC of the zone wraps to the apex). Two
// limits on what an NSEC proves:
//   * at a delegation point (NS without SOA) or a DNAME, it says nothing
//     about the names below its owner (they belong to another zone or are
//     redirected) — the "ancestor delegation" check;
//   * at a delegation point it proves only the absence of DS there: the
//     parent is not authoritative for the other types.
#include <algorithm>
#include <optional>
#include <vector>

#include "dnssec/internal.hpp"

namespace kresd::dnssec::detail {

namespace {

struct Nsec {
    dns::Name owner;
    dns::Name next;
    std::span<const uint8_t> bitmap;
    bool has(uint16_t t) const { return bitmap_has(bitmap, t); }
    bool delegation() const { return has(dns::type::NS) && !has(dns::type::SOA); }
};

std::vector<Nsec> parse_all(std::span<const dns::Record> proof, const dns::Name& zone) {
    std::vector<Nsec> out;
    for (const dns::Record& rr : proof) {
        if (rr.type != dns::type::NSEC || !dns::name_in_zone(rr.owner.view(), zone.view()))
            continue;
        Nsec n;
        size_t pos = 0;
        const std::span<const uint8_t> rd(rr.rdata);
        if (!read_name(rd, pos, n.next) || !bitmap_valid(rd.subspan(pos)))
            continue; // malformed: proves nothing
        n.owner = rr.owner;
        n.bitmap = rd.subspan(pos);
        out.push_back(n);
    }
    return out;
}

// RFC 4034 4.1.1: owner < name < next, or the last NSEC (next <= owner,
// next is the apex) for everything after its owner.
bool covers(const Nsec& n, const dns::Name& name) {
    if (canonical_compare(n.owner, name) >= 0) return false;
    if (canonical_compare(n.owner, n.next) < 0) return canonical_compare(name, n.next) < 0;
    return true;
}

// May `n` speak about `name`? Not when name lies below a delegation or a
// DNAME at n's owner (RFC 4035 5.4 ancestor delegation, RFC 6672 5.3.4.1).
bool usable_for(const Nsec& n, const dns::Name& name) {
    if (!name_below(name, n.owner)) return true;
    return !n.delegation() && !n.has(dns::type::DNAME);
}

const Nsec* find_match(const std::vector<Nsec>& all, const dns::Name& name) {
    for (const Nsec& n : all)
        if (name_equal(n.owner, name)) return &n;
    return nullptr;
}

// An NSEC proving `name` does not exist: covers it, may speak about it,
// and its next name is not below it (that would make name an empty
// non-terminal, which exists).
const Nsec* find_absent(const std::vector<Nsec>& all, const dns::Name& name) {
    if (find_match(all, name) != nullptr) return nullptr;
    for (const Nsec& n : all)
        if (covers(n, name) && usable_for(n, name) && !name_below(n.next, name)) return &n;
    return nullptr;
}

// The closest encloser of a name an NSEC proves absent: the longest
// ancestor it shares with the NSEC's owner or next name.
dns::Name closest_encloser(const Nsec& n, const dns::Name& name) {
    const int ce = std::max(common_labels(name, n.owner), common_labels(name, n.next));
    return name_suffix(name, ce);
}

Judgement secure(std::string why) {
    return {Security::secure, 0, std::move(why)};
}

Judgement bogus(std::string why) {
    return {Security::bogus, ede::DNSSEC_BOGUS, std::move(why)};
}

} // namespace

Judgement nsec_nxdomain(const dns::Name& qname, const dns::Name& zone,
                        std::span<const dns::Record> proof) {
    const auto all = parse_all(proof, zone);
    if (find_match(all, qname) != nullptr) return bogus("NSEC shows the name exists");
    const Nsec* cover = find_absent(all, qname);
    if (cover == nullptr) return not_proven("no NSEC proves the name absent");
    dns::Name ce = closest_encloser(*cover, qname);
    if (!dns::name_in_zone(ce.view(), zone.view())) ce = zone;
    dns::Name wild;
    if (!name_wildcard(ce, wild)) return not_proven("wildcard name too long");
    if (find_match(all, wild) != nullptr) return bogus("NSEC shows the wildcard exists");
    if (find_absent(all, wild) == nullptr) return not_proven("no NSEC proves the wildcard absent");
    return secure("NXDOMAIN proven by NSEC");
}

Judgement nsec_nodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                      std::span<const dns::Record> proof) {
    const auto all = parse_all(proof, zone);
    if (const Nsec* m = find_match(all, qname)) {
        // At a delegation point the parent speaks only for DS; for DS, an
        // NSEC with SOA comes from the child's apex (RFC 4035 5.4).
        if (m->delegation() && qtype != dns::type::DS)
            return not_proven("NSEC from a delegation point");
        if (qtype == dns::type::DS && m->has(dns::type::SOA) && qname.len > 1)
            return not_proven("NSEC from the child's apex cannot deny DS");
        if (m->has(qtype)) return bogus("NSEC shows the type exists");
        if (m->has(dns::type::CNAME)) return bogus("NSEC shows a CNAME");
        return secure("NODATA proven by NSEC");
    }
    // An empty non-terminal: the NSEC before it has a next name below it.
    for (const Nsec& n : all)
        if (covers(n, qname) && usable_for(n, qname) && name_below(n.next, qname))
            return secure("empty non-terminal proven by NSEC");
    // RFC 4035 3.1.3.4 wildcard NODATA: the name is absent and the wildcard
    // at its closest encloser lacks the type.
    if (const Nsec* cover = find_absent(all, qname)) {
        dns::Name ce = closest_encloser(*cover, qname);
        if (!dns::name_in_zone(ce.view(), zone.view())) ce = zone;
        dns::Name wild;
        const Nsec* w = name_wildcard(ce, wild) ? find_match(all, wild) : nullptr;
        if (w != nullptr) {
            if (w->has(qtype) || w->has(dns::type::CNAME))
                return bogus("NSEC shows the wildcard has the type");
            return secure("wildcard NODATA proven by NSEC");
        }
    }
    return not_proven("no NSEC matches the name");
}

Judgement nsec_no_ds(const dns::Name& child, const dns::Name& zone,
                     std::span<const dns::Record> proof) {
    const auto all = parse_all(proof, zone);
    const Nsec* m = find_match(all, child);
    if (m == nullptr) return not_proven("no NSEC at the delegation");
    if (m->has(dns::type::DS)) return bogus("NSEC shows a DS at the delegation");
    if (m->has(dns::type::SOA)) return bogus("NSEC at the delegation is from the child zone");
    if (!m->has(dns::type::NS)) return bogus("NSEC shows no delegation");
    return {Security::insecure, 0, "insecure delegation proven by NSEC"};
}

Judgement nsec_wildcard(const dns::Name& qname, uint8_t labels, const dns::Name& zone,
                        std::span<const dns::Record> proof) {
    // RFC 4035 5.3.4: no closer match for qname: the next closer name (one
    // label below the wildcard's parent) does not exist.
    const auto all = parse_all(proof, zone);
    const dns::Name next_closer = name_suffix(qname, labels + 1);
    if (find_absent(all, next_closer) == nullptr)
        return not_proven("no NSEC proves the wildcard expansion");
    return secure("wildcard expansion proven by NSEC");
}

} // namespace kresd::dnssec::detail
