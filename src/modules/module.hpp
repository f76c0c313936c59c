// Built-in modules: small pieces of behaviour a config switches on with
// modules.load('name'). A module sees each answer through on_answer(), after
// the answer's records are written and before the OPT record is.
//
// Hooks run in the order of the loaded list, which modules.load() keeps
// (including kresd's 'a > b' / 'a < b' placement syntax).
//
// Besides the answer hook a module may:
//   * ask for request flags (adjust_request): the worker applies them to
//     the options every request starts with, whenever those are set (at
//     start and after each control-socket line), so modules.load/unload
//     at run time take effect for the next request;
//   * see each request the resolution core finished for a client
//     (on_resolved), with its RCODE, EDE and DNSSEC status;
//   * act on its own (priming, signalling queries): start() hands it the
//     daemon's Services once the resolver runs (after the configuration,
//     or at load time when loaded later); stop() runs at unload and must
//     drop its timers. A callback that arrives after stop() (a question
//     in flight) must be ignored: unloaded modules stay alive, retired.
//
// A module may also answer a query itself before anything else looks at it
// (answer_early: refuse_nord), and see whether an answer goes over a
// stream (TCP, TLS, HTTPS: on_answer_to, edns_keepalive).
//
// A module may complete an answer with a second question (dns64): it
// returns a FollowUp from redirect() (before the cache and resolution:
// resolve this instead) or from follow_up() (after the answer from the
// cache or resolution was written: resolve this too). The worker resolves
// the FollowUp's question with the client's request options (policy
// FORWARD, flags), from the cache or upstream, and then calls its
// complete() to write the client's answer; the on_answer hooks run on that
// answer as on any other. A follow-up's own answer is not followed up
// again. Both hooks are asked only while a loaded module says
// has_follow_ups(), so they cost nothing otherwise.
//
// Loaded by default, as in Knot Resolver 5.6 (default_names()):
// ta_signal_query, priming, detect_time_skew, ta_sentinel, edns_keepalive,
// refuse_nord.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/wire.hpp"

struct lua_State;

namespace kresd::resolve {
struct Config;
struct RequestOptions;
class Request;
} // namespace kresd::resolve

namespace kresd::cache {
class Cache;
}

namespace kresd::modules {

bool is_core_part(std::string_view name);

// What the daemon offers modules that act on their own. Implemented by the
// worker (app/worker.hpp); unit tests use fakes with a simulated clock.
class Services {
public:
    virtual ~Services() = default;
    // A one-shot timer; destroying it cancels it (also from its own callback).
    class Timer {
    public:
        virtual ~Timer() = default;
    };
    using Done = std::function<void(const resolve::Request&)>;
    // Resolves (name, type) as the daemon's own question (DO set, so
    // RRSIGs come with the answer; cd: checking disabled, so a bogus
    // answer still gives its records). `done` runs later, from the event
    // loop. False when the question could not be started (resolution off,
    // overloaded).
    virtual bool resolve(const dns::Name& name, uint16_t type, bool cd, Done done) = 0;
    // As resolve() without cd, but the question itself is not answered
    // from the cache: it is asked upstream and the answer cached
    // (RequestOptions::refresh; predict's prefetch). The default resolves.
    virtual bool refresh(const dns::Name& name, uint16_t type, Done done)
    {
        return resolve(name, type, false, std::move(done));
    }
    virtual std::unique_ptr<Timer> after(uint64_t ms, std::function<void()> fn) = 0;
    // The running resolver's configuration (root hints, trust anchors).
    virtual resolve::Config& resolver_config() = 0;
    // The resolver's cache (prefill writes into it); null when caching is
    // off. May change when the configuration reopens the cache: ask anew.
    virtual cache::Cache* cache() { return nullptr; }
    // Wall-clock seconds (the resolver's clock).
    virtual uint64_t wall_s() const = 0;
};

// A second question for one client answer (see above). Owned by the
// worker until complete() ran or the answer was given up.
class FollowUp {
public:
    virtual ~FollowUp() = default;
    // The question to resolve (class IN; the client's DO and CD flags).
    dns::Name name;
    uint16_t type = 0;
    // Writes the client's answer into `out`, begun for the client's query
    // (NOERROR, nothing written yet), from the finished request for
    // (name, type).
    virtual void complete(const resolve::Request& done, dns::ResponseBuilder& out) = 0;
};

class Module {
public:
    virtual ~Module() = default;
    virtual const char* name() const = 0;
    // Bytes of EDNS options this module may add to an answer to `q`.
    virtual size_t option_reserve(const dns::Query&) const { return 0; }
    // Called for every answer; `rcode` is the answer's final RCODE.
    virtual void on_answer(const dns::Query& q, bool query_ok, uint16_t rcode,
                           dns::ResponseBuilder& out) = 0;
    // As on_answer, knowing the transport: `stream` for TCP, TLS and HTTPS
    // (as Knot Resolver's qsource.flags.tcp). Calls on_answer by default.
    virtual void on_answer_to(const dns::Query& q, bool query_ok, uint16_t rcode, bool stream,
                              dns::ResponseBuilder& out)
    {
        (void)stream;
        on_answer(q, query_ok, rcode, out);
    }
    // Answers a well-formed query before local data, policy, the cache and
    // resolution see it (begun `out`, NOERROR); true when it did.
    virtual bool answer_early(const dns::Query&, dns::ResponseBuilder&) { return false; }
    // Publishes the module's Lua table (e.g. `nsid`) in the global scope.
    virtual void bind_lua(lua_State* L) = 0;
    // Flags this module wants on every request (e.g. ta_sentinel).
    virtual void adjust_request(resolve::RequestOptions&) const {}
    // A client's request the resolution core finished (not answers from
    // local data, policy, or the cache fast path, which never hold bogus
    // data); `rcode` as written.
    virtual void on_resolved(const dns::Query&, const resolve::Request&) {}
    // Whether redirect() / follow_up() may return something (read at load).
    virtual bool has_follow_ups() const { return false; }
    // After the policy, before the cache: another question to resolve for
    // `q` (dns64's reverse names); `opts` are the request's options.
    virtual std::unique_ptr<FollowUp> redirect(const dns::Query&, const resolve::RequestOptions&)
    {
        return nullptr;
    }
    // The answer to `q` from the cache or resolution is in `answer` (before
    // on_answer): a second question that completes it (dns64).
    virtual std::unique_ptr<FollowUp> follow_up(const dns::Query&, const resolve::RequestOptions&,
                                                const dns::ResponseBuilder&)
    {
        return nullptr;
    }
    virtual void start(Services&) {}
    virtual void stop() {}
};

// Creates a built-in module by name; nullptr when there is none.
std::unique_ptr<Module> create(std::string_view name);
// Names of the built-in modules, for errors and help().
std::vector<std::string> builtin_names();
// The modules loaded before the configuration runs, in Knot Resolver's order.
std::vector<std::string> default_names();

class Registry {
public:
    // spec: "name", "name > other" (after other) or "name < other" (before).
    // Throws std::runtime_error naming the problem. Loading a loaded module
    // again is a no-op, as in Knot Resolver. Names of parts that are built
    // into the daemon (iterate, validate, cache, policy, hints) load nothing and return
    // nullptr; they are accepted as anchors too.
    Module* load(std::string_view spec, lua_State* L);
    bool unload(std::string_view name);
    std::vector<std::string> list() const;
    Module* find(std::string_view name) const;
    // Loads default_names() (before the configuration runs).
    void load_defaults(lua_State* L);
    // The resolver runs: start() every loaded module, and every module
    // loaded from now on.
    void start(Services& services);

    void adjust_request(resolve::RequestOptions& opts) const;
    void on_resolved(const dns::Query& q, const resolve::Request& req) const;
    size_t option_reserve(const dns::Query& q) const;
    // `stream`: the answer goes over TCP, TLS or HTTPS.
    void on_answer(const dns::Query& q, bool query_ok, uint16_t rcode,
                   dns::ResponseBuilder& out, bool stream = false) const;
    // The first loaded module that answers `q` itself (answer_early); false if none.
    bool answer_early(const dns::Query& q, dns::ResponseBuilder& out) const;
    // Whether a loaded module may return follow-ups; the two below ask the
    // loaded modules in order and return the first one's.
    bool follow_ups() const { return follow_ups_; }
    std::unique_ptr<FollowUp> redirect(const dns::Query& q,
                                       const resolve::RequestOptions& opts) const;
    std::unique_ptr<FollowUp> follow_up(const dns::Query& q, const resolve::RequestOptions& opts,
                                        const dns::ResponseBuilder& answer) const;

private:
    std::vector<std::unique_ptr<Module>> loaded_;
    // Unloaded modules are kept: Lua closures may still point at them.
    std::vector<std::unique_ptr<Module>> retired_;
    Services* services_ = nullptr;
    bool follow_ups_ = false;
    void note_follow_ups();
};

} // namespace kresd::modules
