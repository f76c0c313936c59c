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
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "resolve/classify.hpp"
#include "resolve/message.hpp"
#include "resolve/resolve.hpp"
#include "resolve/servers.hpp"

namespace kresd::resolve {

using dns::Security;

// The worse of two statuses: bogus < insecure < secure (unknown counts as
// insecure).
inline Security worse(Security a, Security b)
{
    auto order = [](Security s) {
        return s == Security::bogus ? 0 : s == Security::secure ? 2 : 1;
    };
    return order(a) <= order(b) ? a : b;
}

// One record of the answer: the CNAME/DNAME chain, the final RRset, the SOA.
struct AnswerRr {
    dns::Name owner;
    uint16_t type = 0;
    uint16_t klass = 0;
    uint32_t ttl = 0;
    uint64_t at_wall_s = 0; // when ttl was true; aged on output
    std::vector<uint8_t> rdata;
};

// Why a goal runs: the client's question, a name server's address, or
// the DNSSEC keys of a zone (validate.cpp).
enum class Purpose : uint8_t { client, ns_address, ds, dnskey };

// What this request knows of a zone's DNSSEC status (validate.cpp): from
// the trust anchors, the NTAs, a validated referral, a key sub-goal or the
// cache. secure: `ds` (or an anchor) is known, and `keys` once have_keys.
struct ZoneSec {
    dns::Name zone; // lower-cased
    Security sec = Security::unknown;
    std::vector<Record> ds;          // validated DS, or the anchor's DS
    std::vector<Record> anchor_keys; // an anchor in DNSKEY form
    std::vector<Record> keys;        // the validated DNSKEY RRset
    bool have_keys = false;
    // A DS NODATA proved the name is no zone cut (no NS at it): its data
    // belongs to the zone above (find_insecure_cut()).
    bool not_cut = false;
    uint16_t ede = 0; // bogus: why, for the client
    std::string why;
};

// One RRset of a reply as the validator judged it: its status, the
// RRSIGs to hand DO clients and to cache, the TTL cap (RFC 4035 5.3.3).
struct SetVerdict {
    dns::Name owner;
    uint16_t type = 0;
    Security sec = Security::unknown;
    uint32_t ttl_cap = UINT32_MAX;
    std::vector<Record> sigs;
    bool wildcard = false; // expanded from a wildcard (RFC 4035 5.3.4)
};

// The validator's judgement of one reply (validate.cpp).
struct ReplyCheck {
    enum class Result { done, pending } result = Result::done;
    Security sec = Security::insecure; // of everything used from the reply
    uint16_t ede = 0;
    std::string why;
    std::vector<SetVerdict> sets;
    std::vector<Record> proof; // SOA RRSIG, NSEC/NSEC3 and their RRSIGs, for DO clients
    Security child_sec = Security::unknown; // referral: the child zone's status
    std::vector<Record> child_ds;           // referral: validated DS of the child
    uint16_t info_ede = 0; // insecure for a reason a client is told: EDE 1, 2 or 27
    Security no_ds_sec = Security::insecure; // referral without DS: the NODATA's own status
    const SetVerdict* find(const dns::Name& owner, uint16_t type) const;
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
    Purpose purpose = Purpose::client;
    bool ds_delegation = false; // a DS goal's NODATA proved a delegation (NS, no DS)
    GoalState state = GoalState::cache_lookup;

    Cut cut;
    bool cut_cached = false;  // `cut` came from the cache, not from a referral
    // Zones whose cached cut failed, so the parent's servers were asked
    // instead (once per zone: the referral they give is not left again).
    std::vector<dns::Name> fell_back;
    std::vector<ServerTry> tries; // reset with each new cut
    Address server;
    bool use_tcp = false;

    // RFC 9156: the number of labels of sname asked for next.
    bool minimize = false;
    int min_labels = 0;
    unsigned min_queries = 0;

    Outstanding out;
    // A reply that waits for the keys of a DNSSEC sub-goal above this one;
    // handled again when the sub-goal ends (validate.cpp).
    std::optional<Message> parked;
    // A NODATA without SOA (Verdict::nodata_nosoa), held while the other
    // servers of the cut are tried; believed when none does better.
    struct Held {
        Message m;
        Outstanding out;
    };
    std::optional<Held> nosoa;
    bool accept_nosoa = false;

    // Result.
    Outcome outcome = Outcome::none;
    std::vector<AnswerRr> chain; // CNAME / DNAME / synthesised CNAME, in order
    std::vector<AnswerRr> final_rrs;
    bool nxdomain = false;
    std::optional<AnswerRr> soa;
    unsigned cname_hops = 0;
    uint16_t ede_code = ede::OTHER;
    std::string ede_text;
    bool chain_on_failure = false; // a loop: the SERVFAIL shows the chain that loops
    // DNSSEC: the least secure status of everything in the result, and
    // what DO clients get with it.
    Security sec = Security::unknown;
    bool sec_set = false;
    std::vector<AnswerRr> sigs;  // RRSIGs of the chain and the final RRset
    std::vector<AnswerRr> proof; // negative / wildcard: SOA RRSIG, NSEC(3) + RRSIGs
    uint16_t info_ede = 0;       // an answer served insecure: why (EDE 1, 2, 27)
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
    bool rebinding_refused = false; // rebinding.cpp ended the request
    // Serve-stale (RequestOptions::serve_stale_s): the client's question as
    // asked; step_cache_lookup() asks the cache as of now - cache_past_s.
    dns::Name asked;
    uint64_t cache_past_s = 0;
    bool stale_tried = false;
    bool stale = false; // answered with stale data (EDE 3)
    // DNSSEC (validate.cpp)
    bool client_cd = false, client_do = false, client_ad = false;
    std::deque<ZoneSec> zones; // stable references
    dnssec::Budget budget;

    // request.cpp: the loop and the states before a query goes out.
    Step produce(Outgoing& out);
    void step_cache_lookup(Goal& g);
    bool cached_dname(Goal& g, cache::Rank min_rank, bool judged_only);
    bool chain_loops(const Goal& g, const dns::Name& target) const;
    void step_select(Goal& g); // may push a goal: `g` is invalid afterwards
    bool step_send(Goal& g, Outgoing& out);
    void pop_goal();
    bool sentinel_fails() const;
    void fail_goal(Goal& g, uint16_t code, std::string text);
    void fail_request(uint16_t code, std::string text);
    // stale.cpp: RFC 8767.
    bool stale_may_answer() const;
    bool try_stale();

    // cut.cpp: step 2 and the cuts that referrals make.
    void step_find_cut(Goal& g);
    bool cut_from_cache(Goal& g, Cut& out);
    bool cut_from_cache_at(dns::Name name, Cut& out);
    // Every server of a cached cut failed: the parent's servers instead.
    bool fall_back_to_parent(Goal& g);
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
    // rebinding.cpp: RequestOptions::rebinding.
    bool rebinding_check(Goal& g, const Message& m);
    void write_rebinding_refusal(dns::ResponseBuilder& out) const;
    void server_failed(Goal& g, const char* why);
    void apply_referral(Goal& g, Classified& c, const ReplyCheck& v);
    void apply_answer(Goal& g, Classified& c, const ReplyCheck& v);
    void apply_negative(Goal& g, Classified& c, const ReplyCheck& v);
    void apply_restart(Goal& g, Classified& c, const ReplyCheck& v);
    ServerTry& try_of(Goal& g, const Address& a);

    // validate.cpp: DNSSEC between classify() and apply_*.
    bool validating() const;
    ZoneSec* zone_sec(const dns::Name& zone);
    ZoneSec* known_zone(const dns::Name& zone_lower); // this request's table only
    ZoneSec& zone_entry(const dns::Name& zone);       // found or added to the table
    enum class KeyState { ready, insecure, bogus, pending };
    KeyState need_keys(Goal& g, const dns::Name& zone, ZoneSec*& out);
    void push_key_goal(Goal& g, const dns::Name& zone, uint16_t qtype);
    void key_goal_done(const Goal& sub);
    // Unsigned data at `name` from a zone whose closest known status is
    // secure: follows DS from there down to `name` for an insecure
    // delegation (co-hosted child zones, forwarding).
    KeyState find_insecure_cut(Goal& g, const dns::Name& from, const dns::Name& name);
    ReplyCheck check_reply(Goal& g, const Message& m, Classified& c);
    void merge_security(Goal& g, const ReplyCheck& v);
    void cache_nsecs(const ReplyCheck& v);
    bool aggressive_answer(Goal& g);

    // answer.cpp: cache writes and the client's answer.
    bool cache_enabled() const;
    void cache_rrset(const std::vector<Record>& rrs, cache::Rank rank,
                     const ReplyCheck* v = nullptr);
    void cache_chain(const std::vector<Record>& chain, cache::Rank rank,
                     const ReplyCheck* v = nullptr);
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
// Sub-goals nest at most this deep (NS of NS of NS...); DNSSEC key goals
// (DS, DNSKEY of each zone from the anchor down) may go deeper.
inline constexpr size_t kMaxGoalDepth = 4;
inline constexpr size_t kMaxKeyGoalDepth = 12;

} // namespace kresd::resolve
