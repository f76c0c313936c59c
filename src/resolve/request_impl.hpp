// Private to src/resolve: the state of one Request.
//
// A request resolves one goal: the client's question. Finding a name
// server's address may need its own resolution, a sub-goal (RFC 1034
// 5.3.3 step 3, "send a query for the name server's address"); goals form
// an explicit stack, and only the top goal advances. Each goal is a state
// machine over the steps of RFC 1034 5.3.3:
//
//   cache_lookup   step 1: answer from the cache (RRsets, cached CNAMEs,
//                  negative entries, RFC 2308 5); else find_cut
//   find_cut       step 2: the closest zone cut with usable servers: cached
//                  NS (and their A/AAAA) walking up from the name, else the
//                  root hints; with forwarding, the forward targets
//   select_server  step 3: pick an address (servers.hpp); if no NS has one,
//                  push a sub-goal for an NS name (await_subgoal)
//   await_subgoal  waiting for the sub-goal above this one
//   send_query     step 3: build the query (QNAME minimised, RFC 9156;
//                  EDNS0, RFC 6891; TCP after TC=1, RFC 7766) -> wait_reply
//   wait_reply     consume() runs step 4 (classify.hpp) and picks the next
//                  state; timeout() penalises the server and reselects
//   done / failed  the goal has its result; the parent goal (or the request)
//                  takes it
//
// Limits (Limits in resolve.hpp) are counted per request, sub-goals
// included. Hard ones (upstream queries, time, referrals) end the request
// with SERVFAIL and an EDE; soft ones (sub-requests, NS names per cut) only
// stop further work.
#pragma once

// One DEBUG_ALWAYS line from inside Request::Impl (see log()).
#define REQ_LOG(...)                                                                               \
    do {                                                                                           \
        if (debug())                                                                               \
            log(__VA_ARGS__);                                                                      \
    } while (0)

#include <cstdarg>
#include <optional>
#include <string>
#include <vector>

#include "resolve/classify.hpp"
#include "resolve/resolve.hpp"
#include "resolve/servers.hpp"

namespace kresd::resolve {

// One record of the answer: the CNAME/DNAME chain, the final RRset, the SOA.
struct AnswerRr {
    dns::Name owner;
    uint16_t type = 0;
    uint16_t klass = 0;
    uint32_t ttl = 0;
    uint64_t at_wall_s = 0; // when ttl was true; aged on output
    std::vector<uint8_t> rdata;
};

// A name server of a zone cut and what we know of its addresses.
struct NsEntry {
    dns::Name name;
    std::vector<Address> addrs;
    bool configured = false; // root hints / forward targets: always allowed
    uint8_t looked_up = 0;   // kLookedUpA | kLookedUpAaaa: sub-goals done
    bool exhausted = false;  // no further address lookup will be tried
};
inline constexpr uint8_t kLookedUpA = 1, kLookedUpAaaa = 2;

struct Cut {
    dns::Name zone;
    std::vector<NsEntry> ns;
    bool forward = false;
};

// What happened to one address while this goal used the current cut.
struct ServerTry {
    Address addr;
    unsigned timeouts = 0;
    bool excluded = false; // failed for this cut: not asked again
};

enum class GoalState {
    cache_lookup,
    find_cut,
    select_server,
    await_subgoal,
    send_query,
    wait_reply,
    done,
    failed,
};

enum class Outcome { none, positive, negative, failed };

// The query in flight (at most one per request).
struct Outstanding {
    uint16_t id = 0;
    Address to;
    Proto proto = Proto::udp;
    dns::Name qname;
    uint16_t qtype = 0, qclass = 0;
    bool edns = false;
    bool minimised = false;
    uint64_t sent_ms = 0;
    Outgoing wire; // as handed to the driver
};

struct Goal {
    dns::Name sname; // the name being resolved (moves along CNAME/DNAME)
    uint16_t qtype = 0, qclass = 0;
    bool sub = false;      // an NS address lookup for the goal below it
    size_t parent_ns = 0;  // index into the parent's cut.ns
    GoalState state = GoalState::cache_lookup;

    Cut cut;
    std::vector<ServerTry> tries; // reset with each new cut
    Address server;
    bool use_tcp = false;

    // RFC 9156: the number of labels of sname asked for next.
    bool minimize = false;
    int min_labels = 0;
    unsigned min_queries = 0;

    Outstanding out;

    // Result.
    Outcome outcome = Outcome::none;
    std::vector<AnswerRr> chain; // CNAME / DNAME / synthesised CNAME, in order
    std::vector<AnswerRr> final_rrs;
    bool nxdomain = false;
    std::optional<AnswerRr> soa;
    unsigned cname_hops = 0;
    uint16_t ede_code = ede::OTHER;
    std::string ede_text;
};

struct Request::Impl {
    Impl(Resolver& r, const dns::Query& q, const RequestOptions& o);

    Resolver& res;
    RequestOptions opts;
    std::vector<Goal> goals; // goals[0] is the client's question
    unsigned upstream = 0, subrequests = 0, referrals = 0;
    uint64_t start_ms = 0;
    uint16_t log_id = 0;
    bool finished = false;
    uint16_t rcode = dns::rcode::SERVFAIL;
    std::optional<uint16_t> ede_code;
    std::string ede_text;
    std::string soft_limit; // a soft limit that stopped some work, for the EDE text

    // request.cpp: the loop and the states before a query goes out.
    Step produce(Outgoing& out);
    void step_cache_lookup(Goal& g);
    void step_select(Goal& g); // may push a goal: `g` is invalid afterwards
    bool step_send(Goal& g, Outgoing& out);
    void pop_goal();
    void fail_goal(Goal& g, uint16_t code, std::string text);
    void fail_request(uint16_t code, std::string text);

    // cut.cpp: step 2 and the cuts that referrals make.
    void step_find_cut(Goal& g);
    bool cut_from_cache(Goal& g, Cut& out);
    Cut cut_from_hints() const;
    Cut cut_for_forwarding() const;
    void add_cached_addresses(NsEntry& e);
    bool usable(const NsEntry& e, const Address& a) const;
    bool family_enabled(const Address& a) const;

    // request_reply.cpp: step 4.
    bool consume(std::span<const uint8_t> reply, const Address& from, Proto proto);
    void timeout();
    void transport_failed(const char* why);
    void handle_reply(Goal& g, const Message& m);
    void server_failed(Goal& g, const char* why);
    void apply_referral(Goal& g, Classified& c);
    void apply_answer(Goal& g, Classified& c);
    void apply_negative(Goal& g, Classified& c);
    void apply_restart(Goal& g, Classified& c);
    ServerTry& try_of(Goal& g, const Address& a);

    // answer.cpp: cache writes and the client's answer.
    bool cache_enabled() const;
    void cache_rrset(const std::vector<Record>& rrs, cache::Rank rank);
    void cache_chain(const std::vector<Record>& chain, cache::Rank rank);
    void append(std::vector<AnswerRr>& to, const std::vector<Record>& from) const;
    void write_answer(dns::ResponseBuilder& out) const;

    uint64_t now_ms() const;
    uint64_t now_s() const;
    bool debug() const { return opts.debug && res.debug_log != nullptr; }
    // Call through REQ_LOG, which skips formatting the arguments (names
    // turned into text) unless this request is being debugged.
    void log(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
};

// RFC 9156 2.3: at most this many minimised queries per goal, then the
// full name is sent.
inline constexpr unsigned kMaxMinimiseCount = 10;
// A server that timed out this often for one cut is not asked again.
inline constexpr unsigned kMaxTimeoutsPerServer = 2;
// Sub-goals nest at most this deep (NS of NS of NS...).
inline constexpr size_t kMaxGoalDepth = 4;

} // namespace kresd::resolve
