// The request state machine (see request_impl.hpp for the states): the
// produce() loop and the steps that lead up to a query on the wire.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string_view>

#include "dns/query_writer.hpp"
#include "resolve/names.hpp"
#include "resolve/request_impl.hpp"

namespace kresd::resolve {

Request::Impl::Impl(Resolver& r, const dns::Query& q, const RequestOptions& o)
    : res(r), opts(o)
{
    start_ms = now_ms();
    log_id = static_cast<uint16_t>(res.random());
    client_cd = q.cd;
    client_ad = q.ad;
    client_do = q.edns.present && q.edns.do_bit;
    budget.left = res.config().dnssec_limits.max_verifications;
    Goal g;
    g.sname = q.qname;
    asked = q.qname;
    g.qtype = q.qtype;
    g.qclass = q.qclass;
    goals.push_back(std::move(g));
    REQ_LOG("begin '%s' type %u%s", names::text(q.qname).c_str(), q.qtype,
        opts.forward.empty() ? "" : " (forwarding)");
}

uint64_t Request::Impl::now_ms() const
{
    const Clock& c = res.clock();
    return c.mono_ms ? c.mono_ms() : 0;
}

uint64_t Request::Impl::now_s() const
{
    const Clock& c = res.clock();
    return c.wall_s ? c.wall_s() : 0;
}

void Request::Impl::log(const char* fmt, ...) const
{
    if (!debug())
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char prefix[32];
    std::snprintf(prefix, sizeof(prefix), "[%05u.%02zu] ", log_id,
                  goals.empty() ? size_t{0} : goals.size() - 1);
    res.debug_log(prefix + std::string(buf));
}

Step Request::Impl::produce(Outgoing& out)
{
    for (;;) {
        if (finished) {
            // RFC 8767: the question failed upstream; stale data instead.
            if (!stale_tried && stale_may_answer())
                try_stale();
            return Step::done;
        }
        if (goals.back().state == GoalState::wait_reply) {
            // Called again before consume()/timeout(): the same query.
            out = goals.back().out.wire;
            return Step::send;
        }
        // RFC 8767 5 (client response timer): waited long enough.
        if (opts.serve_stale_s != 0 && !stale_tried &&
            now_ms() - start_ms >= opts.stale_after_ms && try_stale())
            continue;
        const Limits& lim = res.config().limits;
        if (now_ms() - start_ms >= lim.total_time_ms) {
            fail_request(ede::OTHER, "limit: time budget");
            continue;
        }
        Goal& g = goals.back();
        switch (g.state) {
        case GoalState::cache_lookup: step_cache_lookup(g); break;
        case GoalState::find_cut: step_find_cut(g); break;
        case GoalState::select_server: step_select(g); break;
        case GoalState::await_subgoal: g.state = GoalState::select_server; break;
        case GoalState::send_query:
            if (step_send(g, out))
                return Step::send;
            break;
        case GoalState::wait_reply: break; // handled above
        case GoalState::done:
        case GoalState::failed: pop_goal(); break;
        }
    }
}

// RFC 1034 5.3.3 step 1: "see if the answer is in local information".
// Cached CNAMEs are followed (RFC 1034 3.6.2); a cached negative answer
// ends the goal (RFC 2308 5).
void Request::Impl::step_cache_lookup(Goal& g)
{
    cache::Cache* c = res.cache();
    // A refresh (predict) asks upstream for the client's question itself.
    if (!cache_enabled() || (opts.refresh && &g == &goals.front())) {
        g.state = GoalState::find_cut;
        return;
    }
    // Glue and referral data are good enough to reach a name server, but
    // are not an answer for a client (RFC 2181 5.4.1).
    const cache::Rank min_rank = g.sub ? cache::Rank::glue : cache::Rank::nonauth;
    const uint64_t now = now_s() - cache_past_s; // serve-stale asks as of the past
    const Limits& lim = res.config().limits;
    // With validation on, what a client or the chain of trust uses must
    // have been judged: data cached without a status (referral NS sets,
    // glue) is asked for again.
    const bool judged_only = !g.sub && validating();
    auto usable_sec = [&](Security s) { return !judged_only || s != Security::unknown; };
    // Knot Resolver's EXPIRING: the client's question answered from cached
    // pieces about to expire is reported (module predict refreshes it).
    const bool report = &g == &goals.front() && cache_past_s == 0 && !opts.refresh &&
                        res.config().on_expiring != nullptr;
    auto expiring = [&](uint32_t stored_ttl, uint32_t ttl) {
        if (report && is_expiring(stored_ttl, ttl))
            res.config().on_expiring(g.sname, g.qtype);
    };
    auto note = [&](Security s, const std::vector<std::vector<uint8_t>>& sigs,
                    const dns::Name& owner, uint32_t ttl) {
        g.sec = g.sec_set ? worse(g.sec, s) : s;
        g.sec_set = true;
        for (const auto& rd : sigs)
            g.sigs.push_back({owner, dns::type::RRSIG, g.qclass, ttl, now, rd});
    };
    for (;;) {
        if (auto rr = c->get_rrset(g.sname.view(), g.qtype, now);
            rr && rr->rank >= min_rank && usable_sec(rr->security)) {
            for (const auto& rd : rr->rdatas)
                g.final_rrs.push_back({g.sname, g.qtype, g.qclass, rr->ttl, now, rd});
            note(rr->security, rr->sigs, g.sname, rr->ttl);
            expiring(rr->stored_ttl, rr->ttl);
            g.outcome = Outcome::positive;
            g.state = GoalState::done;
            REQ_LOG("cache: '%s' type %u, %zu records", names::text(g.sname).c_str(), g.qtype,
                rr->rdatas.size());
            return;
        }
        // A DS NODATA without SOA is what a referral taught of a
        // delegation's status (validate.cpp), not a client's answer.
        if (auto neg = c->get_negative(g.sname.view(), g.qtype, now);
            neg && usable_sec(neg->security) &&
            (g.purpose != Purpose::client || !neg->soa_owner.empty())) {
            note(neg->security, {}, g.sname, neg->ttl);
            expiring(neg->stored_ttl, neg->ttl);
            for (const dns::Record& r : neg->proof)
                g.proof.push_back({r.owner, r.type, g.qclass, std::min(r.ttl, neg->ttl), now,
                                   r.rdata});
            AnswerRr soa;
            if (names::from_wire(neg->soa_owner, soa.owner)) {
                soa.type = dns::type::SOA;
                soa.klass = g.qclass;
                soa.ttl = neg->ttl;
                soa.at_wall_s = now;
                soa.rdata = neg->soa_rdata;
                g.soa = std::move(soa);
            }
            g.nxdomain = neg->nxdomain;
            g.outcome = Outcome::negative;
            g.state = GoalState::done;
            REQ_LOG("cache: '%s' type %u is %s", names::text(g.sname).c_str(), g.qtype,
                neg->nxdomain ? "NXDOMAIN" : "NODATA");
            return;
        }
        if (g.qtype == dns::type::CNAME)
            break;
        auto cname = c->get_rrset(g.sname.view(), dns::type::CNAME, now);
        dns::Name target;
        if (!cname || cname->rank < min_rank || cname->rdatas.empty() ||
            !usable_sec(cname->security) || !names::from_wire(cname->rdatas.front(), target)) {
            if (g.qtype == dns::type::DNAME || !res.dnames_cached() ||
                !cached_dname(g, min_rank, judged_only))
                break;
            if (g.state == GoalState::failed)
                return;
            continue;
        }
        note(cname->security, cname->sigs, g.sname, cname->ttl);
        expiring(cname->stored_ttl, cname->ttl);
        if (++g.cname_hops > lim.max_cname_chain) {
            fail_goal(g, ede::OTHER, "limit: CNAME chain");
            return;
        }
        g.chain.push_back({g.sname, dns::type::CNAME, g.qclass, cname->ttl, now,
                           cname->rdatas.front()});
        REQ_LOG("cache: '%s' CNAME '%s'", names::text(g.sname).c_str(), names::text(target).c_str());
        if (chain_loops(g, target)) {
            fail_goal(g, ede::OTHER, "CNAME loop");
            g.chain_on_failure = true;
            return;
        }
        g.sname = target;
    }
    if (judged_only && g.chain.empty() && aggressive_answer(g))
        return;
    g.state = GoalState::find_cut;
}

// The chain of `g` already passed `target` (as the owner of one of its
// CNAMEs): following it again would go round for ever.
bool Request::Impl::chain_loops(const Goal& g, const dns::Name& target) const
{
    return std::any_of(g.chain.begin(), g.chain.end(), [&](const AnswerRr& r) {
        return r.type == dns::type::CNAME && names::equal(r.owner, target);
    });
}

// A cached DNAME above sname (RFC 6672 3.2): appends it and the CNAME it
// synthesises to the chain and moves sname; false when there is none.
// Fails the goal (true, state failed) past the chain limit. Only names
// that missed the cache pay for the walk up, and only once this Resolver
// cached a DNAME (Resolver::dnames_cached()).
bool Request::Impl::cached_dname(Goal& g, cache::Rank min_rank, bool judged_only)
{
    const uint64_t now = now_s() - cache_past_s;
    cache::Cache* c = res.cache();
    for (dns::Name up = names::parent(g.sname); up.len > 1; up = names::parent(up)) {
        auto d = c->get_rrset(up.view(), dns::type::DNAME, now);
        dns::Name dtarget;
        if (!d || d->rank < min_rank || d->rdatas.empty() ||
            (judged_only && d->security == Security::unknown) ||
            !names::from_wire(d->rdatas.front(), dtarget))
            continue;
        const auto next = names::substitute(g.sname, up, dtarget);
        if (!next)
            return false; // RFC 6672 2.2: YXDOMAIN; resolved upstream instead
        g.sec = g.sec_set ? worse(g.sec, d->security) : d->security;
        g.sec_set = true;
        for (const auto& rd : d->sigs)
            g.sigs.push_back({up, dns::type::RRSIG, g.qclass, d->ttl, now, rd});
        if (++g.cname_hops > res.config().limits.max_cname_chain) {
            fail_goal(g, ede::OTHER, "limit: CNAME chain");
            return true;
        }
        g.chain.push_back({up, dns::type::DNAME, g.qclass, d->ttl, now, d->rdatas.front()});
        std::vector<uint8_t> rdata(next->wire.begin(), next->wire.begin() + next->len);
        g.chain.push_back({g.sname, dns::type::CNAME, g.qclass, d->ttl, now, std::move(rdata)});
        REQ_LOG("cache: '%s' DNAME '%s'", names::text(up).c_str(), names::text(dtarget).c_str());
        g.sname = *next;
        return true;
    }
    return false;
}

// RFC 1034 5.3.3 step 3: choose among the servers of the cut; when none
// has a usable address, look one up as a sub-goal (bounded: NXNS, CVE-2020-12667).
void Request::Impl::step_select(Goal& g)
{
    const Limits& lim = res.config().limits;
    const size_t considered =
        g.cut.forward ? g.cut.ns.size() : std::min<size_t>(g.cut.ns.size(), lim.max_ns_per_zone);
    std::vector<Address> candidates;
    size_t refused_local = 0;
    for (size_t i = 0; i < considered; ++i) {
        for (const Address& a : g.cut.ns[i].addrs) {
            if (!usable(g.cut.ns[i], a)) {
                refused_local += family_enabled(a) ? 1 : 0;
                continue;
            }
            const ServerTry& t = try_of(g, a);
            if (!t.excluded && t.timeouts < kMaxTimeoutsPerServer)
                candidates.push_back(a);
        }
    }
    if (!candidates.empty()) {
        const size_t pick = res.servers().choose(candidates, now_ms(), res.random(),
                                                 res.config().explore_percent);
        g.server = candidates[pick];
        g.use_tcp = opts.tcp;
        g.state = GoalState::send_query;
        return;
    }
    if (refused_local != 0)
        REQ_LOG("%zu local/private addresses not asked (ALLOW_LOCAL is off)", refused_local);
    for (size_t i = 0; i < considered; ++i) {
        NsEntry& e = g.cut.ns[i];
        if (e.configured || e.exhausted)
            continue;
        uint16_t type = 0;
        if (res.config().ipv4 && !(e.looked_up & kLookedUpA))
            type = dns::type::A;
        else if (res.config().ipv6 && !(e.looked_up & kLookedUpAaaa))
            type = dns::type::AAAA;
        if (type == 0 || names::in_zone(e.name, g.cut.zone)) {
            // In-zone names are reachable only through this very cut: they
            // needed glue (RFC 1034 4.2.1).
            e.exhausted = true;
            continue;
        }
        // A name that a goal below is already resolving would need itself.
        const bool looping = std::any_of(goals.begin(), goals.end(), [&](const Goal& o) {
            return names::equal(o.sname, e.name);
        });
        if (looping) {
            e.exhausted = true;
            continue;
        }
        if (subrequests >= lim.max_subrequests || goals.size() >= kMaxGoalDepth) {
            soft_limit = subrequests >= lim.max_subrequests ? "limit: sub-requests"
                                                            : "limit: sub-request depth";
            e.exhausted = true;
            continue;
        }
        ++subrequests;
        REQ_LOG("'%s' has no usable address, resolving it (type %u)", names::text(e.name).c_str(),
            type);
        Goal sub;
        sub.sname = e.name;
        sub.qtype = type;
        sub.qclass = dns::klass::IN;
        sub.sub = true;
        sub.purpose = Purpose::ns_address;
        sub.parent_ns = i;
        g.state = GoalState::await_subgoal;
        goals.push_back(std::move(sub)); // `g` is invalid from here on
        return;
    }
    if (g.nosoa) {
        // Every other server failed too: the NODATA without SOA stands.
        REQ_LOG("no server did better than NODATA without SOA: taking it");
        Goal::Held held = std::move(*g.nosoa);
        g.nosoa.reset();
        g.accept_nosoa = true;
        g.out = std::move(held.out);
        g.state = GoalState::wait_reply;
        handle_reply(g, held.m); // may push a key goal: `g` is invalid afterwards
        return;
    }
    if (fall_back_to_parent(g))
        return;
    fail_goal(g, ede::NO_REACHABLE_AUTHORITY,
              soft_limit.empty() ? "no reachable authority" : soft_limit);
}

// RFC 1034 5.3.3 step 3, sending: one query, minimised per RFC 9156 2.3,
// with EDNS0 unless the server failed it (RFC 6891 7), over TCP after a
// truncated reply (RFC 7766 5).
bool Request::Impl::step_send(Goal& g, Outgoing& out)
{
    const Limits& lim = res.config().limits;
    if (upstream >= lim.max_upstream_queries) {
        fail_request(ede::OTHER, "limit: upstream queries");
        return false;
    }
    dns::Name qname = g.sname;
    uint16_t qtype = g.qtype;
    const int total = names::labels(g.sname);
    if (g.minimize && g.min_labels < total && g.min_queries < kMaxMinimiseCount) {
        qname = names::suffix(g.sname, g.min_labels);
        qtype = dns::type::NS;
    }
    const Config& cfg = res.config();
    const bool forwarding = g.cut.forward;
    dns::QueryFlags flags;
    flags.id = static_cast<uint16_t>(res.random());
    flags.rd = forwarding;
    flags.edns = !res.servers().no_edns(g.server);
    flags.edns_size = cfg.edns_size;
    // RFC 4035 3.2.1 / 4.1: ask for the signatures whenever we validate;
    // a forwarder also gets CD (RFC 4035 3.2.2): we judge its bogus data
    // ourselves, with the EDE that says why.
    flags.do_bit = flags.edns && validating();
    flags.cd = forwarding && validating();
    Outstanding& o = g.out;
    o.id = flags.id;
    o.to = g.server;
    o.proto = g.use_tcp ? Proto::tcp : Proto::udp;
    o.qname = qname;
    o.qtype = qtype;
    o.qclass = g.qclass;
    o.edns = flags.edns;
    o.minimised = qtype != g.qtype || !names::equal(qname, g.sname);
    o.sent_ms = now_ms();
    o.wire.tls.reset();
    if (forwarding && !opts.forward_tls.empty()) {
        // TLS_FORWARD: always TLS to the target, with its own settings.
        for (size_t i = 0; i < opts.forward.size() && i < opts.forward_tls.size(); ++i) {
            if (same_address(opts.forward[i], g.server)) {
                o.wire.tls = opts.forward_tls[i];
                break;
            }
        }
        o.proto = Proto::tls;
    }
    o.wire.to = g.server;
    o.wire.proto = o.proto;
    o.wire.wire = dns::write_query(qname.view(), qtype, g.qclass, flags);
    const uint64_t left = lim.total_time_ms - (o.sent_ms - start_ms);
    o.wire.timeout_ms = static_cast<uint32_t>(
        std::max<uint64_t>(1, std::min<uint64_t>(res.servers().timeout_ms(g.server, lim), left)));
    ++upstream;
    g.min_queries += o.minimised ? 1 : 0;
    g.state = GoalState::wait_reply;
    REQ_LOG("asking %s %s: '%s' type %u%s%s (zone '%s')", address_to_string(g.server).c_str(),
            o.proto == Proto::tls ? "tls" : o.proto == Proto::tcp ? "tcp" : "udp",
            names::text(qname).c_str(), qtype, o.minimised ? " (minimised)" : "",
            o.edns ? "" : " (no EDNS)", names::text(g.cut.zone).c_str());
    out = o.wire;
    return true;
}

// A goal is done or failed: hand its result to whoever waits for it.
void Request::Impl::pop_goal()
{
    if (goals.size() == 1) {
        const Goal& g = goals.front();
        finished = true;
        if (g.sec == Security::bogus && !client_cd && g.outcome != Outcome::failed) {
            // Cannot happen through handle_reply (it fails the goal), but
            // a cached chain could mix in such a link: never serve it.
            rcode = dns::rcode::SERVFAIL;
            ede_code = dnssec::ede::DNSSEC_BOGUS;
            ede_text = "DNSSEC: bogus";
            goals.front().outcome = Outcome::failed;
            return;
        }
        if (opts.ta_sentinel && g.outcome == Outcome::positive && sentinel_fails()) {
            rcode = dns::rcode::SERVFAIL;
            REQ_LOG("RFC 8509 sentinel: SERVFAIL");
            goals.front().outcome = Outcome::failed;
            return;
        }
        switch (g.outcome) {
        case Outcome::positive: rcode = dns::rcode::NOERROR; break;
        case Outcome::negative:
            rcode = g.nxdomain ? dns::rcode::NXDOMAIN : dns::rcode::NOERROR;
            break;
        default:
            rcode = dns::rcode::SERVFAIL;
            ede_code = g.ede_code;
            ede_text = g.ede_text;
            break;
        }
        REQ_LOG("finished: RCODE %u after %u upstream queries", rcode, upstream);
        return;
    }
    Goal sub = std::move(goals.back());
    goals.pop_back();
    Goal& parent = goals.back();
    parent.state = GoalState::select_server;
    if (sub.purpose == Purpose::ds || sub.purpose == Purpose::dnskey) {
        key_goal_done(sub);
        // The reply that waited for these keys is judged now; without one
        // (it cannot be otherwise, but to be safe) the question is asked again.
        if (parent.parked) {
            const Message m = std::move(*parent.parked);
            parent.parked.reset();
            parent.state = GoalState::wait_reply;
            handle_reply(parent, m); // may push another sub-goal
        }
        return;
    }
    if (sub.parent_ns >= parent.cut.ns.size())
        return; // cannot happen: a cut does not change while its goal waits
    NsEntry& e = parent.cut.ns[sub.parent_ns];
    e.looked_up |= sub.qtype == dns::type::A ? kLookedUpA : kLookedUpAaaa;
    size_t added = 0;
    for (const AnswerRr& rr : sub.final_rrs) {
        if (auto a = address_from_rdata(rr.type, rr.rdata)) {
            const bool known = std::any_of(e.addrs.begin(), e.addrs.end(),
                                           [&](const Address& b) { return same_address(*a, b); });
            if (!known) {
                e.addrs.push_back(*a);
                ++added;
            }
        }
    }
    // An unreachable authority or a name that does not exist will not do
    // better for the other address family.
    if (sub.outcome == Outcome::failed || (sub.outcome == Outcome::negative && sub.nxdomain))
        e.exhausted = true;
    REQ_LOG("'%s' type %u: %zu addresses", names::text(sub.sname).c_str(), sub.qtype, added);
}

// RFC 8509 3.2: only for A/AAAA answers that validated, with the key tag
// taken from the first label of the client's name (5 decimal digits).
bool Request::Impl::sentinel_fails() const
{
    const Goal& g = goals.front();
    if ((g.qtype != dns::type::A && g.qtype != dns::type::AAAA) || g.sec != Security::secure ||
        !validating() || client_cd)
        return false;
    const dns::Name& asked = g.chain.empty() ? g.sname : g.chain.front().owner;
    const auto sentinel = names::sentinel(asked);
    if (!sentinel)
        return false;
    const unsigned tag = sentinel->key_tag;
    bool has = false;
    if (const dnssec::Anchor* root = res.config().anchors->find(names::root())) {
        for (const Record& ds : root->ds)
            has = has || (ds.rdata.size() >= 2 && ((ds.rdata[0] << 8) | ds.rdata[1]) == tag);
        for (const Record& k : root->keys)
            has = has || dnssec::key_tag(k.rdata) == tag;
    }
    return sentinel->is_ta ? !has : has;
}

void Request::Impl::fail_goal(Goal& g, uint16_t code, std::string text)
{
    REQ_LOG("goal '%s' type %u failed: %s", names::text(g.sname).c_str(), g.qtype, text.c_str());
    g.outcome = Outcome::failed;
    g.state = GoalState::failed;
    g.ede_code = code;
    g.ede_text = std::move(text);
}

void Request::Impl::fail_request(uint16_t code, std::string text)
{
    REQ_LOG("request failed: %s", text.c_str());
    finished = true;
    rcode = dns::rcode::SERVFAIL;
    ede_code = code;
    ede_text = std::move(text);
    Goal& main = goals.front();
    main.outcome = Outcome::failed;
    main.chain.clear();
    main.final_rrs.clear();
}

// ---- the public face ----

Request::Request(Resolver& r, const dns::Query& q, const RequestOptions& opts)
    : impl_(std::make_unique<Impl>(r, q, opts))
{
}

Request::~Request() = default;

Step Request::produce(Outgoing& out)
{
    return impl_->produce(out);
}

bool Request::consume(std::span<const uint8_t> reply, const Address& from, Proto proto)
{
    return impl_->consume(reply, from, proto);
}

void Request::timeout()
{
    impl_->timeout();
}

void Request::transport_failed(const char* why)
{
    impl_->transport_failed(why);
}

void Request::write_answer(dns::ResponseBuilder& out) const
{
    impl_->write_answer(out);
}

uint16_t Request::rcode() const
{
    return impl_->rcode;
}

unsigned Request::upstream_queries() const
{
    return impl_->upstream;
}

std::optional<uint16_t> Request::ede_code() const
{
    return impl_->ede_code;
}

std::vector<dns::Record> Request::answer_records() const
{
    std::vector<dns::Record> out;
    const Impl& i = *impl_;
    if (!i.finished || i.goals.front().outcome != Outcome::positive)
        return out;
    const Goal& g = i.goals.front();
    const uint64_t now = i.now_s();
    for (const auto* section : {&g.chain, &g.final_rrs, &g.sigs}) {
        if (section == &g.sigs && !i.client_do)
            break;
        for (const AnswerRr& rr : *section) {
            const uint64_t age = now > rr.at_wall_s ? now - rr.at_wall_s : 0;
            const uint32_t ttl = rr.ttl > age ? static_cast<uint32_t>(rr.ttl - age) : 0;
            out.push_back({rr.owner, rr.type, rr.klass, ttl, rr.rdata});
        }
    }
    return out;
}

dns::Security Request::security() const
{
    const Impl& i = *impl_;
    if (!i.finished || !i.validating())
        return dns::Security::insecure;
    return i.goals.front().sec;
}

bool Request::from_cache() const
{
    return impl_->finished && impl_->upstream == 0 &&
           impl_->goals.front().outcome != Outcome::failed;
}

} // namespace kresd::resolve
