// The worker answers client queries: the QueryHandler behind every listener.
//
// For each message: parse (malformed -> FORMERR, other opcodes -> NOTIMP,
// EDNS version > 0 -> BADVERS, unreadable -> nothing); answer names the
// resolver owns (RFC 6761 localhost and loopback reverse) and hints; apply
// the policy (DENY, DROP, TC, REFUSE answer at once; FORWARD/STUB/FLAGS
// shape the resolution); then resolve: a request answered from the cache is
// answered at once, anything else is deferred and driven through upstream
// queries until the resolution core says it is done. The loaded modules'
// answer hooks (NSID, stats) run on every answer.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <vector>

#include "modules/module.hpp"
#include "net/handler.hpp"
#include "net/upstream.hpp"
#include "net/upstream_tls.hpp"
#include "policy/policy.hpp"
#include "resolve/hints.hpp"
#include "resolve/resolve.hpp"

namespace kresd::app {

struct WorkerStats {
    uint64_t queries = 0;    // messages that parsed far enough to be answered
    uint64_t dropped = 0;    // messages that got no answer
    uint64_t concurrent = 0; // requests waiting for upstream answers now
    uint64_t timeouts = 0;   // upstream queries that timed out
};

// The Worker is also what the loaded modules get as modules::Services
// (their own questions, timers on its event loop, the resolver's config).
class Worker final : public net::QueryHandler, public modules::Services {
public:
    Worker(const modules::Registry& mods, const policy::Policy& policy,
           const resolve::LocalHints& hints);
    ~Worker() override;

    size_t answer(std::span<const uint8_t> query, const net::ClientInfo& client,
                  std::span<uint8_t> out) override;
    void batch(bool on) override;

    const WorkerStats& stats() const { return stats_; }
    // The DNS-over-TLS upstream pool (TLS_FORWARD); null before set_resolver().
    const net::TlsUpstreamPool* tls_pool() const { return tls_pool_.get(); }
    // The EDNS buffer size we advertise (net.bufsize()).
    void set_edns_size(uint16_t size) { edns_size_ = size; }
    // net.tls_padding(): block size for EDNS(0) padding of answers over
    // TLS and HTTPS to queries that carry a Padding option (RFC 7830,
    // RFC 8467 4.1: 468); 0 turns it off.
    void set_padding(uint16_t block) { padding_ = block; }
    // Enables resolution (absent: everything not local is REFUSED).
    void set_resolver(resolve::Resolver* r, event_base* base);
    // Options every request starts with (option() flags) and the upstream
    // source addresses; may change while running.
    void set_request_defaults(resolve::RequestOptions defaults, net::UpstreamSource src);

    static constexpr size_t kMaxPending = 20000; // bound on concurrent resolutions

    // The daemon's own questions (RFC 5011 refresh, root priming,
    // ta_signal_query): resolved like a client's with DO set (so RRSIGs
    // come with the records), with the request defaults; `done` gets the
    // finished Request, from the event loop (never from inside this call).
    // False when resolution is off or the worker is overloaded.
    using InternalDone = std::function<void(const resolve::Request&)>;
    // cd: CD set (a bogus answer keeps its records: detect_time_skew);
    // no_cache: neither read nor write the cache (RFC 5011 refresh: the
    // DNSKEY set as the zone serves it now).
    struct InternalFlags {
        bool cd = false;
        bool no_cache = false;
        bool refresh = false; // RequestOptions::refresh
    };
    bool resolve_internal(const dns::Name& name, uint16_t type, InternalFlags flags,
                          InternalDone done);

    // modules::Services (valid once set_resolver() ran).
    bool resolve(const dns::Name& name, uint16_t type, bool cd, Done done) override;
    bool refresh(const dns::Name& name, uint16_t type, Done done) override;
    std::unique_ptr<Timer> after(uint64_t ms, std::function<void()> fn) override;
    resolve::Config& resolver_config() override;
    cache::Cache* cache() override;
    uint64_t wall_s() const override;

private:
    struct Pending;
    friend struct Pending;
    bool answer_hints(const dns::Query& q, dns::ResponseBuilder& b) const;
    // policy.MIRROR: a copy of the client's query to each target (UDP,
    // fire and forget; a failure is logged at debug level only).
    void mirror(std::span<const uint8_t> query, const policy::Decision& d);
    bool answer_hinted_reverse(const dns::Query& q, dns::ResponseBuilder& b) const;
    bool begin_answer(const dns::Query& q, dns::ResponseBuilder& b) const;
    // policy.add(rule, true): the postrules run on the finished answer in
    // `b` (not on a SERVFAIL, as 5.6 skips failed requests); a final DENY,
    // DROP, REFUSE, ANSWER or a Lua action's outcome replaces it.
    void apply_postrules(const dns::Query& q, const policy::Client& c,
                         dns::ResponseBuilder& b) const;
    // The padding block for an answer to `q` over `t` (0: none).
    uint16_t padding_for(const dns::Query& q, net::Transport t) const;
    void retire(Pending* p);
    // A module's follow-up question (dns64, modules/module.hpp) for the
    // answer to the client's `q`, resolved with `opts`. answered: the final
    // answer is in `b` now (the follow-up came from the cache); deferred:
    // the reply taken with `take` gets it later; skipped: `b` as it was
    // (no follow-up, overloaded, or nothing to answer later with).
    enum class Follow { answered, deferred, skipped };
    using TakeReply = std::function<std::unique_ptr<net::DeferredReply>()>;
    Follow follow_up(const dns::Query& q, const resolve::RequestOptions& opts, bool udp,
                     uint16_t pad, dns::ResponseBuilder& b, const TakeReply& take);
    Follow start_follow_up(const dns::Query& q, std::unique_ptr<modules::FollowUp> f,
                           const resolve::RequestOptions& opts, bool udp, uint16_t pad,
                           dns::ResponseBuilder& b, const TakeReply& take);

    const modules::Registry& mods_;
    const policy::Policy& policy_;
    const resolve::LocalHints& hints_;
    uint16_t edns_size_ = dns::kDefaultEdnsSize;
    uint16_t padding_ = 468;
    WorkerStats stats_;

    resolve::Resolver* resolver_ = nullptr;
    event_base* base_ = nullptr;
    net::UpstreamSource source_;
    net::Fd mirror4_, mirror6_; // policy.MIRROR's sockets, opened on first use
    // TLS_FORWARD connections, kept open across requests (before pending_:
    // requests are destroyed first and only cancel their tickets).
    std::unique_ptr<net::TlsUpstreamPool> tls_pool_;
    event_base* tls_base_ = nullptr;
    resolve::RequestOptions defaults_;
    std::list<std::unique_ptr<Pending>> pending_;
    std::vector<std::unique_ptr<Pending>> retired_; // freed from the loop, not from callbacks
    net::EventPtr reaper_;
};

} // namespace kresd::app
