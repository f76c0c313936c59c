// Serve-stale (RFC 8767), RequestOptions::serve_stale_s: when upstream
// cannot answer the client's question, expired data from the cache is
// better than SERVFAIL. Knot Resolver 5.6's module serve_stale does the
// same from its produce layer: data at most a day stale, TTL 1.
#include <string_view>

#include "resolve/names.hpp"
#include "resolve/request_impl.hpp"

namespace kresd::resolve {

// Whether the request's failure is one that stale data may mend: no
// server could be reached or every one failed, or a time or query budget
// ran out (RFC 8767 4). Not DNSSEC failures (serving the data would hide
// an attack), loops, rebinding refusals or refreshes.
bool Request::Impl::stale_may_answer() const {
    if (opts.serve_stale_s == 0 || opts.refresh || rebinding_refused || !ede_code ||
        goals.front().outcome != Outcome::failed)
        return false;
    if (*ede_code == ede::NO_REACHABLE_AUTHORITY || *ede_code == ede::NETWORK_ERROR) return true;
    const std::string_view text = ede_text;
    return *ede_code == ede::OTHER &&
           (text.starts_with("limit: time") || text.starts_with("limit: upstream"));
}

// Asks the cache again for the client's question, as of serve_stale_s
// seconds ago: what expired since then counts as still there. On success
// the request is finished with that answer (every TTL 1, RFC 8767 4:
// "a TTL ... of 30 seconds is RECOMMENDED"; Knot Resolver uses 1) and EDE 3.
bool Request::Impl::try_stale() {
    stale_tried = true;
    if (opts.serve_stale_s == 0 || opts.refresh || rebinding_refused || !cache_enabled())
        return false;
    const uint64_t now = now_s();
    Goal g;
    g.sname = asked;
    g.qtype = goals.front().qtype;
    g.qclass = goals.front().qclass;
    cache_past_s = std::min<uint64_t>(opts.serve_stale_s, now);
    step_cache_lookup(g);
    cache_past_s = 0;
    if (g.state != GoalState::done ||
        (g.outcome != Outcome::positive && g.outcome != Outcome::negative) ||
        (g.sec == Security::bogus && !client_cd))
        return false;
    for (auto* list : {&g.chain, &g.final_rrs, &g.sigs, &g.proof}) {
        for (AnswerRr& rr : *list) {
            rr.ttl = 1;
            rr.at_wall_s = now;
        }
    }
    if (g.soa) {
        g.soa->ttl = 1;
        g.soa->at_wall_s = now;
    }
    REQ_LOG("serve-stale: answering '%s' type %u from expired data", names::text(asked).c_str(),
            g.qtype);
    goals.clear();
    goals.push_back(std::move(g));
    finished = false;
    ede_code.reset();
    ede_text.clear();
    stale = true;
    pop_goal(); // finishes the request as any answer from the cache
    return true;
}

} // namespace kresd::resolve
