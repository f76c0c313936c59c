// The Lua side of kresd: one LuaJIT state per process.
//
// Call order: construct (opens libraries, loads <luadir>/prelude.lua and the
// C bindings), run_config() for each config file, then eval() for control
// lines while the event loop runs. run_config() throws ConfigError with
// "FILE:LINE: message"; eval() never throws, it returns the error text.
//
// Config chunks and control lines run in the sandbox the prelude builds, so
// Knot Resolver 5 forms such as `net = {'127.0.0.1'}` and
// `modules = {'nsid'}` work. Reading an undefined global gives nil.
#pragma once

#include <functional>
#include <map>
#include <sys/types.h>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dns/wire.hpp"
#include "net/endpoints.hpp"
#include "policy/policy.hpp"
#include "resolve/hints.hpp"
#include "net/handler.hpp"
#include "modules/module.hpp"

struct lua_State;

namespace kresd::lua {

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A zone's anchors read by trust_anchors.add_file(): where from, and whether
// RFC 5011 (ta_update, not implemented yet) may track and rewrite the file.
struct TrustAnchorFile {
    dns::Name zone;        // lower-cased
    std::string path;
    bool readonly = false; // add_file(path, true): never rewritten, not tracked
};

// What RFC 5011 automated rollover will need; the anchors themselves are in
// Host::resolve_config->anchors. Times in milliseconds, as the Lua
// constants (sec, day) are.
struct TrustAnchorSettings {
    std::vector<TrustAnchorFile> files; // one per zone; remove() forgets it
    uint64_t hold_down_time_ms = 30ull * 24 * 3600 * 1000; // trust_anchors.hold_down_time
    std::optional<uint64_t> refresh_time_ms;               // trust_anchors.refresh_time (unset)
    unsigned keep_removed = 0;                             // trust_anchors.keep_removed
};

// What the config sets and the daemon reads: the typed model behind the
// imperative Lua functions.
struct Settings {
    bool ipv4 = true, ipv6 = true;          // net.ipv4 / net.ipv6 (upstream families)
    std::string outgoing_v4, outgoing_v6;   // net.outgoing_v4/v6(): upstream source address
    uint16_t edns_bufsize = 1232;           // net.bufsize()
    uint16_t tls_padding = 468;             // net.tls_padding(): block, 0 = off
    std::map<std::string, bool> options;    // option(NAME, bool)
    std::string mode = "normal";            // mode('strict'|'normal'|'permissive')
    TrustAnchorSettings trust_anchors;
    uint64_t cache_size = 100ull << 20;     // cache.size (Knot Resolver's default: 100 MB)
    std::string cache_dir = "cache";        // cache.open(..., 'lmdb://DIR'), relative to rundir
    uint32_t cache_min_ttl = 5, cache_max_ttl = 6 * 24 * 3600;
    bool cache_opened = false;              // the config opened it itself
};

// What the bindings act on, owned by the daemon.
struct Host {
    std::string instance;        // worker.id
    event_base* base = nullptr;  // timers of event.after/recurrent
    net::Endpoints* endpoints = nullptr;
    net::ServeContext* serve = nullptr;
    modules::Registry* modules = nullptr;
    const net::NetStats* net_stats = nullptr;
    const uint64_t* queries = nullptr;  // worker counters
    const uint64_t* dropped = nullptr;
    policy::Policy* policy = nullptr;
    resolve::Config* resolve_config = nullptr;
    // Local data from hints['name'] = 'addr' (resolve/hints.hpp).
    resolve::LocalHints* hints = nullptr;
    // (Re)opens the shared cache; throws cache::CacheError.
    std::function<void(uint64_t size, const std::string& dir)> cache_open;
    std::function<cache::Cache*()> cache_get;
    // Called after every control line, so changed settings (option(),
    // net.ipv6, net.bufsize(), ...) reach the running resolver at once.
    std::function<void()> settings_changed;
    const uint64_t* concurrent = nullptr; // worker counters
    const uint64_t* timeouts = nullptr;
    // Called by user() just before privileges are dropped, so files the
    // daemon made as root (control and hand-off sockets) stay usable.
    std::function<void(uid_t, gid_t)> before_user_switch;
};

class Engine {
public:
    Engine(Host host, const std::string& luadir);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    void run_config(const std::string& path);
    std::string eval(std::string_view line);

    Settings& settings() { return settings_; }
    Host& host() { return host_; }
    lua_State* state() { return L_; }

    // Timers (event.after/recurrent), kept here so they die with the state.
    struct Timer;
    int add_timer(int fn_ref, double ms, bool recurrent);
    bool cancel_timer(int id);
    void fire_timer(int id);

private:
    lua_State* L_ = nullptr;
    Host host_;
    Settings settings_;
    std::map<int, std::unique_ptr<Timer>> timers_;
    int next_timer_ = 1;
};

// Recovers the Engine from the Lua registry (set by the constructor).
Engine& engine_of(lua_State* L);

// One binding file per Lua table.
void bind_net(lua_State* L);
void bind_worker(lua_State* L);   // worker, event
void bind_modules(lua_State* L);  // modules
void bind_misc(lua_State* L);     // option, verbose, log_level, user, todname

void bind_policy(lua_State* L);   // policy.add (constructors in lua/policy.lua)
// Lua-function rules, views, policy.del and rule listing (lua/rules.hpp);
// after bind_policy.
void bind_lua_rules(lua_State* L);
void bind_cache(lua_State* L);    // cache, hints
// trust_anchors, mode; creates Host::resolve_config->anchors (the built-in
// root anchors) when it is null, so the Resolver made after the config
// shares the object the bindings change.
void bind_trust_anchors(lua_State* L);
void bind_tls(lua_State* L);      // net.tls(), net.tls_sticket_secret()

// Shared helpers for bindings.
std::string check_string(lua_State* L, int idx, const char* fn);
bool is_known_option(const std::string& name);

} // namespace kresd::lua

// An adapter so the control socket evaluates through the engine.
namespace kresd::lua {
class ControlEval final : public net::ControlHandler {
public:
    explicit ControlEval(Engine& e) : e_(e) {}
    std::string eval(std::string_view line) override { return e_.eval(line); }

private:
    Engine& e_;
};
} // namespace kresd::lua
