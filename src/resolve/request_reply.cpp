// RFC 1034 5.3.3 step 4: a reply (or its absence) for the query in flight.
// consume() first makes sure the reply is the one we wait for (RFC 5452 9.1:
// ID, question and source address must match), then the verdict of
// classify() moves the goal on.
#include <algorithm>

#include "resolve/names.hpp"
#include "resolve/request_impl.hpp"
#include "util/log.hpp"

namespace kresd::resolve {

ServerTry& Request::Impl::try_of(Goal& g, const Address& a)
{
    for (ServerTry& t : g.tries) {
        if (same_address(t.addr, a))
            return t;
    }
    g.tries.push_back({a, 0, false});
    return g.tries.back();
}

bool Request::Impl::consume(std::span<const uint8_t> reply, const Address& from, Proto proto)
{
    if (finished || goals.empty() || goals.back().state != GoalState::wait_reply)
        return false;
    Goal& g = goals.back();
    const Outstanding& o = g.out;
    // RFC 5452 9.1: anything that does not match is not our answer; the
    // real one may still come, so nothing changes.
    const auto id = peek_id(reply);
    if (!id || *id != o.id || !same_address(from, o.to) || proto != o.proto)
        return false;
    const auto m = parse_message(reply);
    if (!m || !m->qr || m->opcode != dns::opcode::QUERY)
        return false;
    if (m->has_question) {
        if (!names::equal(m->qname, o.qname) || m->qtype != o.qtype || m->qclass != o.qclass)
            return false;
    } else if (m->rcode != dns::rcode::FORMERR && m->rcode != dns::rcode::NOTIMP) {
        // Only an error reply may omit the question (RFC 6891 7 servers
        // that do not know EDNS often do).
        return false;
    }
    const uint64_t now = now_ms();
    res.servers().on_reply(o.to, static_cast<uint32_t>(std::min<uint64_t>(now - o.sent_ms, 60000)),
                           now);
    handle_reply(g, *m);
    return true;
}

void Request::Impl::timeout()
{
    if (finished || goals.empty() || goals.back().state != GoalState::wait_reply)
        return;
    Goal& g = goals.back();
    REQ_LOG("%s did not answer in time", address_to_string(g.out.to).c_str());
    res.servers().on_timeout(g.out.to, now_ms());
    ++try_of(g, g.out.to).timeouts;
    g.state = GoalState::select_server;
}

void Request::Impl::transport_failed(const char* why)
{
    if (finished || goals.empty() || goals.back().state != GoalState::wait_reply)
        return;
    server_failed(goals.back(), why);
}

void Request::Impl::server_failed(Goal& g, const char* why)
{
    REQ_LOG("%s: %s", address_to_string(g.out.to).c_str(), why);
    res.servers().on_failure(g.out.to, now_ms());
    try_of(g, g.out.to).excluded = true;
    g.state = GoalState::select_server;
}

void Request::Impl::handle_reply(Goal& g, const Message& m)
{
    if (opts.rebinding && rebinding_check(g, m)) // rebinding.cpp: private addresses
        return;
    const Outstanding& o = g.out;
    if (m.tc) {
        // RFC 7766 5 (RFC 1035 4.2.1): truncated over UDP, ask again over TCP.
        if (o.proto == Proto::udp) {
            REQ_LOG("%s: truncated, retrying over TCP", address_to_string(o.to).c_str());
            g.use_tcp = true;
            g.state = GoalState::send_query;
        } else {
            server_failed(g, "truncated over TCP");
        }
        return;
    }
    if (o.edns && (m.rcode == dns::rcode::FORMERR || m.rcode == dns::rcode::NOTIMP)) {
        // RFC 6891 7: a server that does not do EDNS; ask it again without.
        REQ_LOG("%s: RCODE %u to EDNS, retrying without", address_to_string(o.to).c_str(), m.rcode);
        res.servers().set_no_edns(o.to, now_ms());
        g.state = GoalState::send_query;
        return;
    }
    if (o.minimised && (m.rcode == dns::rcode::FORMERR || m.rcode == dns::rcode::NOTIMP ||
                        m.rcode == dns::rcode::REFUSED || m.rcode == dns::rcode::SERVFAIL)) {
        // RFC 9156 4: servers that break on minimised queries get the
        // full name (for the rest of this goal).
        REQ_LOG("%s: RCODE %u to a minimised query, asking the full name",
            address_to_string(o.to).c_str(), m.rcode);
        g.minimize = false;
        g.state = GoalState::send_query;
        return;
    }
    AskContext ctx;
    ctx.zone = g.cut.zone;
    ctx.sname = g.sname;
    ctx.qtype = g.qtype;
    ctx.qclass = g.qclass;
    ctx.qname_sent = o.qname;
    ctx.qtype_sent = o.qtype;
    ctx.forwarding = g.cut.forward;
    ctx.glue = res.config().glue;
    const unsigned max_chain = res.config().limits.max_cname_chain;
    ctx.hops_left = g.cname_hops < max_chain ? max_chain - g.cname_hops : 0;
    Classified c = classify(m, ctx);
    REQ_LOG("%s: %s", address_to_string(o.to).c_str(), c.why);
    if (c.verdict == Verdict::referral && g.cut.forward) {
        server_failed(g, "a forwarder sent a referral");
        return;
    }
    if (c.verdict == Verdict::nodata_nosoa) {
        if (!g.accept_nosoa) {
            // Lame until the other servers were asked (step_select() takes
            // it back when none answers better).
            REQ_LOG("%s: held, asking the other servers", address_to_string(o.to).c_str());
            if (!g.nosoa)
                g.nosoa = Goal::Held{m, g.out};
            try_of(g, o.to).excluded = true;
            g.state = GoalState::select_server;
            return;
        }
        c.verdict = Verdict::negative;
    }
    // RFC 4035 5: validate what the verdict uses before it is used.
    const ReplyCheck v = check_reply(g, m, c);
    if (v.result == ReplyCheck::Result::pending) {
        // A key sub-goal was pushed (`g` is invalid now): the reply waits
        // in its goal, below the sub-goal, and is judged again after it.
        goals[goals.size() - 2].parked = m;
        return;
    }
    if (v.sec == Security::bogus) {
        REQ_LOG("DNSSEC: bogus (EDE %u): %s", v.ede, v.why.c_str());
        // The reason, for operators: at verbose level (verbose(true), -v).
        KR_LOG(debug, "valdtr", "bogus answer for '%s' type %u from %s: %s (EDE %u)",
               names::text(g.sname).c_str(), g.qtype, address_to_string(o.to).c_str(),
               v.why.c_str(), v.ede);
        if (!client_cd) {
            fail_goal(g, v.ede, "DNSSEC: " + v.why);
            return;
        }
    }
    // RFC 4035 5.3.3: a validated RRset lives no longer than its RRSIG's
    // original TTL and expiration allow, in the answer as in the cache.
    for (auto* records : {&c.chain, &c.final_rrs}) {
        for (Record& r : *records) {
            if (const SetVerdict* sv = v.find(r.owner, r.type))
                r.ttl = std::min(r.ttl, sv->ttl_cap);
        }
    }
    switch (c.verdict) {
    case Verdict::answer: apply_answer(g, c, v); break;
    case Verdict::negative: apply_negative(g, c, v); break;
    case Verdict::restart: apply_restart(g, c, v); break;
    case Verdict::referral: apply_referral(g, c, v); break;
    case Verdict::next_label:
        ++g.min_labels;
        g.state = GoalState::select_server;
        break;
    case Verdict::minimised_nxdomain:
        // RFC 9156 4 / RFC 8020: not every server gets empty non-terminals
        // right; only the full name's NXDOMAIN is believed.
        g.minimize = false;
        g.state = GoalState::send_query;
        break;
    case Verdict::lame:
        if (o.minimised) {
            // RFC 9156 3: a server that does not answer the minimised
            // question sensibly gets the full one.
            g.minimize = false;
            g.state = GoalState::send_query;
            break;
        }
        server_failed(g, c.why);
        break;
    case Verdict::nodata_nosoa: // handled above
    case Verdict::error: server_failed(g, c.why); break;
    case Verdict::chain_too_long: fail_goal(g, ede::OTHER, "limit: CNAME chain"); break;
    case Verdict::bad_dname: fail_goal(g, ede::OTHER, "DNAME substitution too long"); break;
    case Verdict::dname_loop:
        // As Knot Resolver: SERVFAIL, with the records that loop.
        append(g.chain, c.chain);
        fail_goal(g, ede::OTHER, "DNAME loop");
        g.chain_on_failure = true;
        break;
    }
}

// RFC 1034 5.3.3 4b: "cache the delegation information, and go to step 2"
// (here: straight to the new cut, whose servers the referral names).
void Request::Impl::apply_referral(Goal& g, Classified& c, const ReplyCheck& v)
{
    const Limits& lim = res.config().limits;
    if (++referrals > lim.max_referrals) {
        fail_request(ede::OTHER, "limit: referrals");
        return;
    }
    // Parent-side data (RFC 2181 5.4.1): good to find the servers, never a
    // client's answer; the child's own NS set outranks it.
    cache_rrset(c.ns, cache::Rank::glue);
    // The child's DNSSEC status: its validated DS, or the proven absence
    // of one (kept as a DS NODATA with the proof), for later requests.
    if (!v.child_ds.empty()) {
        cache_rrset(v.child_ds, cache::Rank::nonauth, &v);
    } else if (v.child_sec == Security::insecure && cache_enabled() && !c.ns.empty()) {
        const Security sec =
            v.no_ds_sec == Security::secure ? Security::secure : Security::insecure;
        res.cache()->put_negative(c.zone.view(), dns::type::DS, false, {}, {}, c.ns.front().ttl,
                                  now_s(), sec, v.proof);
    }
    // Glue, one RRset per name and type.
    for (uint16_t type : {dns::type::A, dns::type::AAAA}) {
        std::vector<bool> done(c.glue.size(), false);
        for (size_t i = 0; i < c.glue.size(); ++i) {
            if (done[i] || c.glue[i].type != type)
                continue;
            std::vector<Record> set;
            for (size_t j = i; j < c.glue.size(); ++j) {
                if (!done[j] && c.glue[j].type == type &&
                    names::equal(c.glue[j].owner, c.glue[i].owner)) {
                    set.push_back(c.glue[j]);
                    done[j] = true;
                }
            }
            cache_rrset(set, cache::Rank::glue);
        }
    }
    Cut cut;
    cut.zone = c.zone;
    for (const Record& ns : c.ns) {
        NsEntry e;
        if (!rdata_name(ns, e.name))
            continue;
        const bool dup = std::any_of(cut.ns.begin(), cut.ns.end(), [&](const NsEntry& x) {
            return names::equal(x.name, e.name);
        });
        if (dup)
            continue;
        for (const Record& glue : c.glue) {
            if (names::equal(glue.owner, e.name)) {
                if (auto a = address_from_rdata(glue.type, glue.rdata))
                    e.addrs.push_back(*a);
            }
        }
        cut.ns.push_back(std::move(e));
    }
    // Names with glue first; only max_ns_per_zone are ever used, so a
    // referral with many glue-less names costs little (NXNS).
    std::stable_partition(cut.ns.begin(), cut.ns.end(),
                          [](const NsEntry& e) { return !e.addrs.empty(); });
    if (cut.ns.size() > lim.max_ns_per_zone)
        cut.ns.resize(lim.max_ns_per_zone);
    for (NsEntry& e : cut.ns) {
        if (e.addrs.empty())
            add_cached_addresses(e);
    }
    REQ_LOG("delegation to '%s', %zu name servers, %zu glue records", names::text(c.zone).c_str(),
        c.ns.size(), c.glue.size());
    g.cut = std::move(cut);
    g.cut_cached = false;
    g.nosoa.reset();
    g.tries.clear();
    g.min_labels = names::labels(g.cut.zone) + 1;
    g.state = GoalState::select_server;
}

// RFC 1034 5.3.3 4a: "cache the data, and return the answer".
void Request::Impl::apply_answer(Goal& g, Classified& c, const ReplyCheck& v)
{
    const cache::Rank rank =
        c.aa && !g.cut.forward ? cache::Rank::auth_answer : cache::Rank::nonauth;
    cache_chain(c.chain, rank, &v);
    cache_rrset(c.final_rrs, rank, &v);
    merge_security(g, v);
    g.cname_hops += c.hops;
    append(g.chain, c.chain);
    append(g.final_rrs, c.final_rrs);
    g.sname = c.target;
    g.outcome = Outcome::positive;
    g.state = GoalState::done;
}

// RFC 2308 5: cache the negative answer with its SOA, for
// min(SOA TTL, SOA MINIMUM) (RFC 2308 3).
void Request::Impl::apply_negative(Goal& g, Classified& c, const ReplyCheck& v)
{
    const cache::Rank rank =
        c.aa && !g.cut.forward ? cache::Rank::auth_answer : cache::Rank::nonauth;
    cache_chain(c.chain, rank, &v);
    merge_security(g, v);
    if (v.sec == Security::secure) {
        // What RFC 8198 answers later need: the zone's SOA and its NSECs.
        if (c.soa)
            cache_rrset({*c.soa}, cache::Rank::auth_authority, &v);
        cache_nsecs(v);
    }
    g.cname_hops += c.hops;
    append(g.chain, c.chain);
    g.sname = c.target;
    g.nxdomain = c.nxdomain;
    if (c.soa) {
        const uint32_t ttl = std::min(c.soa->ttl, soa_minimum(c.soa->rdata).value_or(0));
        if (cache_enabled() && v.sec != Security::bogus) {
            res.cache()->put_negative(g.sname.view(), g.qtype, c.nxdomain, c.soa->owner.view(),
                                      c.soa->rdata, ttl, now_s(), v.sec, v.proof);
        }
        g.soa = AnswerRr{c.soa->owner, dns::type::SOA, c.soa->klass, ttl, now_s(), c.soa->rdata};
    }
    g.outcome = Outcome::negative;
    g.state = GoalState::done;
}

// RFC 1034 5.3.3 4c: "cache the CNAME, change the SNAME to the canonical
// name, and go back to step 1".
void Request::Impl::apply_restart(Goal& g, Classified& c, const ReplyCheck& v)
{
    const cache::Rank rank =
        c.aa && !g.cut.forward ? cache::Rank::auth_answer : cache::Rank::nonauth;
    cache_chain(c.chain, rank, &v);
    merge_security(g, v);
    g.cname_hops += c.hops;
    append(g.chain, c.chain);
    if (chain_loops(g, c.target)) {
        fail_goal(g, ede::OTHER, "CNAME loop");
        g.chain_on_failure = true;
        return;
    }
    REQ_LOG("following the chain to '%s'", names::text(c.target).c_str());
    g.sname = c.target;
    g.state = GoalState::cache_lookup;
}

} // namespace kresd::resolve
