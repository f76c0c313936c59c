// Cache writes of what a reply taught us, and the answer for the client
// (RFC 1034 4.3.2 / RFC 2308 for its shape, RFC 8914 for the error code).
#include <algorithm>
#include <cstring>

#include "resolve/names.hpp"
#include "resolve/request_impl.hpp"

namespace kresd::resolve {

bool Request::Impl::cache_enabled() const
{
    // The cache holds class IN data only (its keys carry no class): a
    // request of another class neither reads it (an IN answer would come
    // back relabelled) nor writes it (its records would pass for IN).
    return res.cache() != nullptr && !opts.no_cache && goals.front().qclass == dns::klass::IN;
}

// One RRset (same owner, type and class). RFC 2181 5.2: its TTL is the
// smallest of its records'.
void Request::Impl::cache_rrset(const std::vector<Record>& rrs, cache::Rank rank,
                                const ReplyCheck* v)
{
    if (!cache_enabled() || rrs.empty())
        return;
    const Record& first = rrs.front();
    // With the validator's judgement: bogus data is never cached; the
    // status and the RRSIGs go with the data; the TTL is capped by the
    // signature (RFC 4035 5.3.3).
    const SetVerdict* sv = v != nullptr ? v->find(first.owner, first.type) : nullptr;
    Security sec = sv != nullptr ? sv->sec : Security::unknown;
    if (sv == nullptr && v != nullptr && validating() && v->sec == Security::insecure)
        sec = Security::insecure;
    // Bogus data is not kept; nor is an RRset expanded from a wildcard:
    // its DO answer needs the NSEC proof of the expansion, which the cache
    // does not keep with it (asked again each time; see docs/dnssec.rst).
    if (sec == Security::bogus || (sv != nullptr && sv->wildcard))
        return;
    uint32_t ttl = sv != nullptr ? sv->ttl_cap : UINT32_MAX;
    std::vector<std::span<const uint8_t>> rdatas;
    rdatas.reserve(rrs.size());
    for (const Record& r : rrs) {
        ttl = std::min(ttl, r.ttl);
        rdatas.emplace_back(r.rdata);
    }
    std::vector<std::span<const uint8_t>> sigs;
    if (sv != nullptr) {
        for (const Record& s : sv->sigs)
            sigs.emplace_back(s.rdata);
    }
    res.cache()->put_rrset(first.owner.view(), first.type, ttl, rdatas, rank, now_s(), sec, sigs);
}

// CNAME and DNAME RRsets hold exactly one record each (RFC 1034 3.6.2,
// RFC 6672 2.4). The CNAME synthesised from a DNAME (the record after it)
// is not cached: the cached DNAME answers every name below it, and a
// cached answer shows the DNAME as the first one did (step_cache_lookup()).
void Request::Impl::cache_chain(const std::vector<Record>& chain, cache::Rank rank,
                                const ReplyCheck* v)
{
    for (size_t i = 0; i < chain.size(); ++i) {
        if (i > 0 && chain[i].type == dns::type::CNAME && chain[i - 1].type == dns::type::DNAME)
            continue;
        if (chain[i].type == dns::type::DNAME && cache_enabled())
            res.note_dname_cached();
        cache_rrset({chain[i]}, rank, v);
    }
}

void Request::Impl::append(std::vector<AnswerRr>& to, const std::vector<Record>& from) const
{
    const uint64_t now = now_s();
    // RFC 2181 5.2: one TTL for the whole RRset, the smallest.
    for (const Record& r : from) {
        uint32_t ttl = r.ttl;
        for (const Record& o : from) {
            if (o.type == r.type && names::equal(o.owner, r.owner))
                ttl = std::min(ttl, o.ttl);
        }
        to.push_back({r.owner, r.type, r.klass, ttl, now, r.rdata});
    }
}

// Answer section: the chain then the final RRset; authority: the SOA of a
// negative answer (RFC 2308 3); nothing else (minimal responses). AA is
// clear: we are not the authority. TTLs are aged to now.
void Request::Impl::write_answer(dns::ResponseBuilder& out) const
{
    if (rebinding_refused) {
        write_rebinding_refusal(out); // rebinding.cpp
        return;
    }
    out.set_aa(false);
    if (!finished || goals.front().outcome == Outcome::failed ||
        goals.front().outcome == Outcome::none) {
        out.set_rcode(dns::rcode::SERVFAIL);
        if (finished && goals.front().chain_on_failure) {
            const uint64_t now = now_s();
            for (const AnswerRr& rr : goals.front().chain) {
                const uint64_t age = now > rr.at_wall_s ? now - rr.at_wall_s : 0;
                const uint32_t ttl = rr.ttl > age ? static_cast<uint32_t>(rr.ttl - age) : 0u;
                if (!out.add_rr(dns::Section::answer, rr.owner.view(), rr.type, rr.klass, ttl,
                                rr.rdata))
                    break;
            }
        }
        if (ede_code) {
            // RFC 8914 2: INFO-CODE, then EXTRA-TEXT (UTF-8, not terminated).
            std::vector<uint8_t> data{static_cast<uint8_t>(*ede_code >> 8),
                                      static_cast<uint8_t>(*ede_code)};
            const size_t text_len = std::min<size_t>(ede_text.size(), ede_reserve() - 6);
            data.insert(data.end(), ede_text.begin(), ede_text.begin() + text_len);
            out.add_option(dns::edns_opt::EDE, data); // fails harmlessly without room
        }
        return;
    }
    const Goal& g = goals.front();
    out.set_rcode(rcode);
    if (stale) {
        // RFC 8914 4.4 (Stale Answer); the text is Knot Resolver 5.6's.
        static constexpr uint8_t kStaleEde[] = {0, ede::STALE, '6', 'Q', '6', 'X'};
        out.add_option(dns::edns_opt::EDE, kStaleEde); // fails harmlessly without room
    } else if (g.info_ede != 0 && validating()) {
        // RFC 8914 4.2/4.3, RFC 9276 3.2: served, but insecure because of
        // an algorithm, digest or NSEC3 iteration count we do not use.
        const char* text = g.info_ede == dnssec::ede::UNSUPPORTED_DNSKEY_ALG ? "unsupported DNSKEY algorithm"
                           : g.info_ede == dnssec::ede::UNSUPPORTED_DS_DIGEST
                               ? "unsupported DS digest type"
                               : "NSEC3 iterations over the limit";
        std::vector<uint8_t> data{static_cast<uint8_t>(g.info_ede >> 8),
                                  static_cast<uint8_t>(g.info_ede)};
        data.insert(data.end(), text, text + std::strlen(text));
        out.add_option(dns::edns_opt::EDE, data); // fails harmlessly without room
    }
    // RFC 6840 5.7/5.8 and RFC 4035 3.2.3: AD when everything is secure and
    // the client asked with DO or AD; not with CD (the client validates).
    out.set_ad(g.sec == Security::secure && (client_do || client_ad) && !client_cd &&
               validating());
    const uint64_t now = now_s();
    auto aged = [now](const AnswerRr& rr) {
        const uint64_t age = now > rr.at_wall_s ? now - rr.at_wall_s : 0;
        return rr.ttl > age ? static_cast<uint32_t>(rr.ttl - age) : 0u;
    };
    // RFC 4035 3.2.1: with DO, the RRSIGs of the answer, and the proof of
    // a denial or of a wildcard expansion in the authority section.
    static const std::vector<AnswerRr> none;
    const auto& sigs = client_do ? g.sigs : none;
    for (const auto* section : {&g.chain, &g.final_rrs, &sigs}) {
        for (const AnswerRr& rr : *section) {
            if (!out.add_rr(dns::Section::answer, rr.owner.view(), rr.type, rr.klass, aged(rr),
                            rr.rdata)) {
                out.set_tc(true);
                return;
            }
        }
    }
    if (g.outcome == Outcome::negative && g.soa) {
        const AnswerRr& soa = *g.soa;
        if (!out.add_rr(dns::Section::authority, soa.owner.view(), soa.type, soa.klass,
                        aged(soa), soa.rdata)) {
            out.set_tc(true);
            return;
        }
    }
    if (client_do) {
        for (const AnswerRr& rr : g.proof) {
            if (!out.add_rr(dns::Section::authority, rr.owner.view(), rr.type, rr.klass, aged(rr),
                            rr.rdata)) {
                out.set_tc(true);
                return;
            }
        }
    }
}

} // namespace kresd::resolve
