// prefill's import: reading, checking and storing a root zone file (see
// prefill.hpp). Records are read with ldns's zone-file parser.
#include "modules/prefill.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <sys/stat.h>
#include <unordered_map>
#include <unordered_set>

#include "dns/ldns.hpp"
#include "dns/zone_file.hpp"
#include "dnssec/anchors.hpp"
#include "dnssec/dnssec.hpp"

namespace kresd::modules::prefill {

namespace {

std::string key_of(const dns::Name& owner, uint16_t type) {
    std::string k(reinterpret_cast<const char*>(owner.wire.data()), owner.len);
    k.push_back(static_cast<char>(type >> 8));
    k.push_back(static_cast<char>(type & 0xff));
    return k;
}

std::string name_key(const dns::Name& n) {
    return {reinterpret_cast<const char*>(n.wire.data()), n.len};
}

bool to_record(const ldns_rr* rr, dns::Record& out) {
    const auto owner = dns::ldns::rdf_bytes(ldns_rr_owner(rr));
    if (owner.empty() || owner.size() > dns::kMaxNameWire || dns::name_labels(owner) < 0)
        return false;
    std::copy(owner.begin(), owner.end(), out.owner.wire.begin());
    out.owner.len = static_cast<uint8_t>(owner.size());
    dns::name_lower(out.owner);
    out.type = static_cast<uint16_t>(ldns_rr_get_type(rr));
    out.klass = static_cast<uint16_t>(ldns_rr_get_class(rr));
    out.ttl = ldns_rr_ttl(rr);
    auto rdata = dns::ldns::rdata_wire(rr);
    if (!rdata) return false;
    out.rdata = std::move(*rdata);
    return true;
}

// Collects records into RRsets as the parser hands them over.
class Builder {
  public:
    explicit Builder(Zone& z) : z_(z) {}

    // An error text, or nullptr.
    const char* add(dns::Record r) {
        if (r.klass != dns::klass::IN) return "not of class IN";
        if (r.type == dns::type::RRSIG) {
            if (r.rdata.size() < 2) return "malformed RRSIG";
            const uint16_t covered = static_cast<uint16_t>((r.rdata[0] << 8) | r.rdata[1]);
            set_of(r.owner, covered).sigs.push_back(std::move(r));
        } else {
            if (r.type == dns::type::SOA) {
                if (soa_seen_) return "a second SOA record";
                if (r.owner.len != 1) return "the SOA is not at '.': this is not the root zone";
                soa_seen_ = true;
            }
            ZoneRRset& set = set_of(r.owner, r.type);
            const bool dup = std::any_of(set.rrs.begin(), set.rrs.end(),
                                         [&](const dns::Record& o) { return o.rdata == r.rdata; });
            if (!dup) set.rrs.push_back(std::move(r));
        }
        ++z_.records;
        return nullptr;
    }

    bool soa_seen() const { return soa_seen_; }

  private:
    ZoneRRset& set_of(const dns::Name& owner, uint16_t type) {
        auto [it, added] = index_.try_emplace(key_of(owner, type), z_.rrsets.size());
        if (added) z_.rrsets.push_back(ZoneRRset{owner, type, {}, {}});
        return z_.rrsets[it->second];
    }

    Zone& z_;
    std::unordered_map<std::string, size_t> index_;
    bool soa_seen_ = false;
};

} // namespace

Zone read_zone(const std::string& path) {
    const dns::ldns::File f(std::fopen(path.c_str(), "r"));
    if (!f) throw PrefillError(path + ": cannot open: " + std::strerror(errno));
    Zone z;
    z.path = path;
    struct stat st {};
    if (::fstat(::fileno(f.get()), &st) == 0) z.mtime = static_cast<uint64_t>(st.st_mtime);
    z.origin.wire[0] = 0;
    z.origin.len = 1;
    Builder b(z);
    auto err = dns::read_zone_file(f.get(), path, ".", 3600,
                                   [&](const ldns_rr* rr, int) -> std::string {
                                       dns::Record rec;
                                       if (!to_record(rr, rec)) return "cannot read the record";
                                       const char* why = b.add(std::move(rec));
                                       return why != nullptr ? why : "";
                                   });
    if (err) throw PrefillError(*err);
    if (z.records == 0) throw PrefillError(path + ": empty zone file");
    if (!b.soa_seen()) throw PrefillError(path + ": no SOA record: this is not a zone file");
    for (const ZoneRRset& s : z.rrsets)
        if (s.rrs.empty())
            throw PrefillError(path + ": RRSIG over " + dns::name_to_text(s.owner.view()) +
                               " type " + std::to_string(s.type) + " without the records");
    return z;
}

Plan plan_import(const Zone& zone, const dnssec::TrustAnchors* anchors, uint64_t now) {
    // The delegations: owners of an NS set other than the apex.
    std::unordered_set<std::string> cuts;
    for (const ZoneRRset& s : zone.rrsets)
        if (s.type == dns::type::NS && s.owner.len > zone.origin.len)
            cuts.insert(name_key(s.owner));
    auto below_cut = [&](const dns::Name& owner) {
        // Strictly below a delegation: a parent of `owner` (not the apex) is a cut.
        std::span<const uint8_t> n = owner.view();
        while (n.size() > 1) {
            n = n.subspan(1 + n[0]);
            if (n.size() <= zone.origin.len) break;
            if (cuts.contains(std::string(reinterpret_cast<const char*>(n.data()), n.size())))
                return true;
        }
        return false;
    };

    Plan plan;
    const dnssec::Anchor* anchor = anchors ? anchors->find(zone.origin) : nullptr;
    const bool validate = anchor != nullptr && !anchors->is_negative(zone.origin) &&
                          (!anchor->ds.empty() || !anchor->keys.empty());
    dnssec::Budget budget{std::numeric_limits<unsigned>::max()};
    std::vector<dns::Record> keys;
    auto set_text = [&](const ZoneRRset& s) {
        return dns::name_to_text(s.owner.view()) + " type " + std::to_string(s.type);
    };
    if (validate) {
        const ZoneRRset* dnskey = nullptr;
        for (const ZoneRRset& s : zone.rrsets)
            if (s.type == dns::type::DNSKEY && s.owner.len == zone.origin.len) dnskey = &s;
        if (!dnskey) throw PrefillError(zone.path + ": no DNSKEY at '.' to validate the zone with");
        dnssec::RRsetRef ref;
        for (const auto& r : dnskey->rrs)
            ref.rrs.push_back(&r);
        for (const auto& r : dnskey->sigs)
            ref.sigs.push_back(&r);
        const dnssec::Judgement j =
            dnssec::verify_dnskeys(zone.origin, ref, anchor->ds, anchor->keys, now, budget);
        if (j.status == dns::Security::bogus)
            throw PrefillError(zone.path +
                               ": the DNSKEY of '.' does not validate with the trust "
                               "anchors: " +
                               j.why);
        if (j.ok()) {
            keys = dnskey->rrs;
            plan.security = dns::Security::secure;
        }
    }

    plan.rrsets.reserve(zone.rrsets.size());
    for (size_t i = 0; i < zone.rrsets.size(); ++i) {
        const ZoneRRset& s = zone.rrsets[i];
        const bool at_cut = cuts.contains(name_key(s.owner));
        const bool auth = !below_cut(s.owner) &&
                          (!at_cut || s.type == dns::type::DS || s.type == dns::type::NSEC);
        Planned p;
        p.index = i;
        p.ttl = std::numeric_limits<uint32_t>::max();
        for (const auto& r : s.rrs)
            p.ttl = std::min(p.ttl, r.ttl);
        if (!auth) {
            p.rank = cache::Rank::glue;
            p.security = dns::Security::unknown;
        } else {
            ++plan.authoritative;
            p.rank = cache::Rank::auth_answer;
            p.security = plan.security;
            if (plan.security == dns::Security::secure) {
                dnssec::RRsetRef ref;
                for (const auto& r : s.rrs)
                    ref.rrs.push_back(&r);
                for (const auto& r : s.sigs)
                    ref.sigs.push_back(&r);
                const dnssec::Verified v =
                    dnssec::verify_rrset(ref, zone.origin, keys, now, budget);
                if (!v.j.ok())
                    throw PrefillError(zone.path + ": " + set_text(s) +
                                       " does not validate: " + v.j.why);
                p.ttl = std::min(p.ttl, v.ttl);
            }
        }
        plan.rrsets.push_back(p);
    }
    return plan;
}

size_t store(const Zone& zone, const Plan& plan, cache::Cache& cache, uint64_t now) {
    size_t stored = 0;
    std::vector<std::span<const uint8_t>> rdatas, sigs;
    for (const Planned& p : plan.rrsets) {
        const ZoneRRset& s = zone.rrsets[p.index];
        rdatas.clear();
        sigs.clear();
        for (const auto& r : s.rrs)
            rdatas.emplace_back(r.rdata);
        if (p.rank != cache::Rank::glue)
            for (const auto& r : s.sigs)
                sigs.emplace_back(r.rdata);
        if (cache.put_rrset(s.owner.view(), s.type, p.ttl, rdatas, p.rank, now, p.security, sigs))
            ++stored;
        if (s.type == dns::type::NSEC && p.security == dns::Security::secure)
            for (const auto& r : s.rrs) {
                dns::Record capped = r;
                capped.ttl = std::min(r.ttl, p.ttl);
                cache.put_nsec(zone.origin.view(), capped, sigs, now);
            }
    }
    return stored;
}

} // namespace kresd::modules::prefill
