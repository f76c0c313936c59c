// RFC 8198, aggressive use of DNSSEC-validated cache: the validated NSEC
// records of replies are kept by zone (Cache::put_nsec), and a name the
// cache has no answer for is answered NXDOMAIN or NODATA from them when
// they prove it, without asking upstream. The proof is the validator's
// own (dnssec::prove_nxdomain / prove_nodata) over records that were
// validated when they were cached. NSEC3 ranges are not used this way.
#include <algorithm>

#include "resolve/names.hpp"
#include "resolve/request_impl.hpp"

namespace kresd::resolve {

// RFC 8198: the validated NSEC records of a reply, kept by zone for
// aggressive_answer().
void Request::Impl::cache_nsecs(const ReplyCheck& v)
{
    if (!cache_enabled())
        return;
    const uint64_t now = now_s();
    for (const SetVerdict& sv : v.sets) {
        if (sv.type != dns::type::NSEC || sv.sec != Security::secure || sv.sigs.empty())
            continue;
        const auto info = dnssec::parse_rrsig(sv.sigs.front().rdata);
        if (!info)
            continue;
        std::vector<std::span<const uint8_t>> sigs;
        for (const Record& s : sv.sigs)
            sigs.emplace_back(s.rdata);
        for (const Record& r : v.proof) {
            if (r.type == dns::type::NSEC && names::equal(r.owner, sv.owner)) {
                Record capped = r;
                capped.ttl = std::min(r.ttl, sv.ttl_cap);
                res.cache()->put_nsec(info->signer.view(), capped, sigs, now);
            }
        }
    }
}

// RFC 8198 5.1: a name the cache holds no answer for, but that a cached,
// validated NSEC range of its zone proves not to exist (or to lack the
// type), is answered from those NSECs with the zone's cached SOA, without
// asking upstream. The proof is the validator's own (prove_nxdomain /
// prove_nodata), over records that were validated when they were cached.
bool Request::Impl::aggressive_answer(Goal& g)
{
    cache::Cache* c = res.cache();
    const uint64_t now = now_s();
    const dnssec::Limits& lim = res.config().dnssec_limits;
    for (dns::Name zone = g.sname;; zone = names::parent(zone)) {
        auto hit = c->find_nsec(zone.view(), g.sname.view(), now);
        if (hit) {
            std::vector<Record> proof{hit->rr};
            std::vector<Record> sigs;
            auto add_sigs = [&](const cache::Cache::Nsec& n) {
                for (const auto& rd : n.sigs)
                    sigs.push_back({n.rr.owner, dns::type::RRSIG, dns::klass::IN, n.rr.ttl, rd});
            };
            add_sigs(*hit);
            // The wildcard at the closest encloser: the longest ancestor of
            // the name that the NSEC's owner or next name shares.
            dns::Name next;
            size_t used = 0;
            if (names::read_prefix(hit->rr.rdata, next, used)) {
                dns::Name ce = g.sname;
                while (ce.len > 1 && !(names::in_zone(hit->rr.owner, ce) || names::in_zone(next, ce)))
                    ce = names::parent(ce);
                if (names::in_zone(ce, zone)) {
                    dns::Name wild;
                    wild.wire[0] = 1;
                    wild.wire[1] = '*';
                    if (ce.len + 2 <= dns::kMaxNameWire) {
                        std::copy(ce.wire.begin(), ce.wire.begin() + ce.len, wild.wire.begin() + 2);
                        wild.len = static_cast<uint8_t>(ce.len + 2);
                        if (auto w = c->find_nsec(zone.view(), wild.view(), now);
                            w && !names::equal(w->rr.owner, hit->rr.owner)) {
                            proof.push_back(w->rr);
                            add_sigs(*w);
                        }
                    }
                }
            }
            bool nxdomain = true;
            dnssec::Judgement j = dnssec::prove_nxdomain(g.sname, zone, proof, lim);
            if (!j.ok()) {
                nxdomain = false;
                j = dnssec::prove_nodata(g.sname, g.qtype, zone, proof, lim);
            }
            if (!j.ok())
                return false;
            auto soa = c->get_rrset(zone.view(), dns::type::SOA, now);
            if (!soa || soa->security != Security::secure || soa->rdatas.empty())
                return false;
            const uint32_t ttl = std::min(
                {soa->ttl, soa_minimum(soa->rdatas.front()).value_or(0), hit->rr.ttl});
            g.soa = AnswerRr{zone, dns::type::SOA, dns::klass::IN, ttl, now, soa->rdatas.front()};
            for (const auto& rd : soa->sigs)
                g.proof.push_back({zone, dns::type::RRSIG, dns::klass::IN, ttl, now, rd});
            for (const Record& r : proof)
                g.proof.push_back({r.owner, r.type, r.klass, std::min(r.ttl, ttl), now, r.rdata});
            for (const Record& r : sigs)
                g.proof.push_back({r.owner, r.type, r.klass, std::min(r.ttl, ttl), now, r.rdata});
            g.nxdomain = nxdomain;
            g.sec = Security::secure;
            g.sec_set = true;
            g.outcome = Outcome::negative;
            g.state = GoalState::done;
            REQ_LOG("cache: '%s' type %u is %s by a cached NSEC of '%s' (RFC 8198)",
                names::text(g.sname).c_str(), g.qtype, nxdomain ? "NXDOMAIN" : "NODATA",
                names::text(zone).c_str());
            return true;
        }
        if (zone.len <= 1)
            return false;
    }
}

} // namespace kresd::resolve
