// Lua-function policy rules and actions (Knot Resolver 5.6's
// policy.add(function(req, query) ... end) and function(state, req)
// actions), view rules' placement, and policy.del / rule listing.
//
// Per query, and only for such rules, the C++ side calls the Lua
// dispatcher __kresd_policy_call (lua/policy.lua) with the query and the
// client as plain values; the dispatcher builds the read-only req/query
// objects and returns what the function chose. An action table is turned
// into a policy::Action in a protected call (a bad value is a logged
// error, never a crash), kept in `scratch` until the next call.
#include <arpa/inet.h>
#include <lua.hpp>
#include <netinet/in.h>

#include "lua/engine.hpp"
#include "lua/rules.hpp"
#include "util/log.hpp"

namespace kresd::lua {

namespace {

// kres.DONE / kres.FAIL (Knot Resolver's layer states).
constexpr lua_Integer kStateDone = 4, kStateFail = 8;
constexpr lua_Integer kStateConsume = 1; // the state a begin-phase action gets

struct Scratch {
    policy::Action action;  // a filter's chosen action
    policy::Action outcome; // a custom action's pass / done / fail
};

// Pushes "ip#port", the raw address bytes, the family and the port (or
// four nils).
void push_addr(lua_State* L, const sockaddr* sa) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = nullptr;
    size_t raw_len = 0;
    int port = 0;
    if (sa && sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        raw = &in->sin_addr;
        raw_len = 4;
        port = ntohs(in->sin_port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        raw = &in6->sin6_addr;
        raw_len = 16;
        port = ntohs(in6->sin6_port);
    }
    if (!raw || !inet_ntop(sa->sa_family, raw, text, sizeof(text))) {
        for (int i = 0; i < 4; ++i)
            lua_pushnil(L);
        return;
    }
    lua_pushfstring(L, "%s#%d", text, port);
    lua_pushlstring(L, static_cast<const char*>(raw), raw_len);
    lua_pushinteger(L, sa->sa_family == AF_INET ? 2 : 10); // AF_INET / AF_INET6 as on Linux
    lua_pushinteger(L, port);
}

int l_convert(lua_State* L) {
    auto* out = static_cast<policy::Action*>(lua_touserdata(L, 1));
    *out = read_action(L, 2);
    return 0;
}

// Calls __kresd_policy_call(mode, fn, state, qname, qtype, qclass, src...,
// dst..., tcp, tls, http) and turns its answer into an action: null for
// no match (filter) or a chain (action).
const policy::Action* call(lua_State* L, Scratch& s, const char* mode, int ref, const dns::Query& q,
                           const policy::Client& c) {
    const int top = lua_gettop(L);
    lua_getglobal(L, "__kresd_policy_call");
    lua_pushstring(L, mode);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushinteger(L, kStateConsume);
    lua_pushlstring(L, reinterpret_cast<const char*>(q.qname_lower.wire.data()), q.qname_lower.len);
    lua_pushinteger(L, q.qtype);
    lua_pushinteger(L, q.qclass);
    push_addr(L, c.src);
    push_addr(L, c.dst);
    lua_pushboolean(L, c.tcp);
    lua_pushboolean(L, c.tls);
    lua_pushboolean(L, c.http);
    // A function that fails (or returns what is not an action) fails the
    // query: SERVFAIL, as in Knot Resolver 5.6, where the error stops the
    // request.
    auto failed = [&s](const char* what, const char* msg) {
        KR_LOG(err, "policy", "%s: %s", what, msg ? msg : "(no message)");
        s.outcome = policy::Action{};
        s.outcome.kind = policy::ActionKind::fail;
        s.outcome.ede = policy::kNoEde;
        return &s.outcome;
    };
    const policy::Action* result = nullptr;
    if (lua_pcall(L, 17, 4, 0) != 0) {
        result = failed("a Lua rule failed", lua_tostring(L, -1));
        lua_settop(L, top);
        return result;
    }
    // Results: kind ('action' | 'state' | nil), value, EDE code, EDE text.
    const int base = top + 1;
    const char* kind = lua_tostring(L, base);
    if (kind && std::string_view(kind) == "action") {
        lua_pushcfunction(L, l_convert);
        lua_pushlightuserdata(L, &s.action);
        lua_pushvalue(L, base + 1);
        if (lua_pcall(L, 2, 0, 0) == 0) {
            result = &s.action;
        } else {
            result = failed("a Lua rule returned a bad action", lua_tostring(L, -1));
        }
    } else if (kind && std::string_view(kind) == "state" && lua_isnumber(L, base + 1)) {
        const lua_Integer st = lua_tointeger(L, base + 1);
        s.outcome = policy::Action{};
        if (st & kStateFail) {
            s.outcome.kind = policy::ActionKind::fail;
            s.outcome.ede = lua_isnumber(L, base + 2)
                                ? static_cast<uint16_t>(lua_tointeger(L, base + 2))
                                : policy::kNoEde;
            if (lua_isstring(L, base + 3)) s.outcome.ede_text = lua_tostring(L, base + 3);
        } else if (st & kStateDone) {
            s.outcome.kind = policy::ActionKind::done;
        } else {
            s.outcome.kind = policy::ActionKind::pass; // the state it was given: go on resolving
        }
        result = &s.outcome;
    }
    lua_settop(L, top);
    return result;
}

int l_policy_del(lua_State* L) {
    const auto id = static_cast<uint64_t>(luaL_checknumber(L, 1));
    lua_pushboolean(L, engine_of(L).host().policy->del(id));
    return 1;
}

const policy::Rule* find_rule(const policy::Policy& p, uint64_t id) {
    for (const auto* list : {&p.rules(), &p.postrules()})
        for (const auto& r : *list)
            if (r.id == id) return &r;
    for (const auto* list : {&p.addr_views(), &p.dst_views()})
        for (const auto& v : *list)
            if (v.rule.id == id) return &v.rule;
    for (const auto& v : p.tsig_views())
        if (v.rule.id == id) return &v.rule;
    return nullptr;
}

// __kresd_policy_count(id): the rule's match count (nil: no such rule).
int l_policy_count(lua_State* L) {
    const auto id = static_cast<uint64_t>(luaL_checknumber(L, 1));
    const policy::Rule* r = find_rule(*engine_of(L).host().policy, id);
    if (!r) return 0;
    lua_pushnumber(L, static_cast<lua_Number>(r->count));
    return 1;
}

// __kresd_policy_ids(post): the ids of the rules (postrules), in order.
int l_policy_ids(lua_State* L) {
    const auto& p = *engine_of(L).host().policy;
    const auto& list = lua_toboolean(L, 1) ? p.postrules() : p.rules();
    lua_createtable(L, static_cast<int>(list.size()), 0);
    int i = 0;
    for (const auto& r : list) {
        lua_pushnumber(L, static_cast<lua_Number>(r.id));
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

// __kresd_str2ip('192.0.2.1'): the address's bytes (nil: not an address).
int l_str2ip(lua_State* L) {
    const char* s = luaL_checkstring(L, 1);
    uint8_t buf[16];
    if (inet_pton(AF_INET, s, buf) == 1)
        lua_pushlstring(L, reinterpret_cast<char*>(buf), 4);
    else if (inet_pton(AF_INET6, s, buf) == 1)
        lua_pushlstring(L, reinterpret_cast<char*>(buf), 16);
    else
        lua_pushnil(L);
    return 1;
}

// __kresd_dname2str(wire): the name as text with a final dot (nil: not a name).
int l_dname2str(lua_State* L) {
    size_t len = 0;
    const char* s = luaL_checklstring(L, 1, &len);
    std::span<const uint8_t> w(reinterpret_cast<const uint8_t*>(s), len);
    if (dns::name_labels(w) < 0) return 0;
    lua_pushstring(L, dns::name_to_text(w).c_str());
    return 1;
}

} // namespace

policy::Rule lua_filter_rule(lua_State* L, int idx) {
    policy::Rule r;
    r.filter = policy::FilterKind::lua;
    lua_pushvalue(L, idx);
    r.lua_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return r;
}

policy::Action lua_action(lua_State* L, int idx) {
    policy::Action a;
    a.kind = policy::ActionKind::lua;
    lua_pushvalue(L, idx);
    a.lua_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return a;
}

int place_rule(lua_State* L, policy::Rule r) {
    auto& p = *engine_of(L).host().policy;
    uint64_t id = 0;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "view");
        const std::string view = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
        lua_pop(L, 1);
        if (view == "addr") {
            lua_getfield(L, 2, "subnet");
            const std::string text = check_string(L, lua_gettop(L), "view:addr");
            lua_pop(L, 1);
            auto s = policy::Subnet::parse(text);
            if (!s) return luaL_error(L, "view:addr: failed to parse subnet %s", text.c_str());
            lua_getfield(L, 2, "dst");
            const bool dst = lua_toboolean(L, -1);
            lua_pop(L, 1);
            id = p.add_view(*s, std::move(r), dst);
        } else if (view == "tsig") {
            lua_getfield(L, 2, "key");
            size_t len = 0;
            const char* k = lua_tolstring(L, -1, &len);
            if (!k) return luaL_error(L, "view:tsig: the key name must be a string (wire form)");
            dns::Name key;
            // Matched as Knot Resolver 5.6 matches it: the whole wire name,
            // root label included; a key given without it never matches.
            key.len = static_cast<uint8_t>(std::min(len, key.wire.size()));
            std::copy_n(reinterpret_cast<const uint8_t*>(k), key.len, key.wire.begin());
            dns::name_lower(key);
            lua_pop(L, 1);
            id = p.add_tsig_view(key, std::move(r));
        } else {
            return luaL_error(L, "policy.add: unknown placement '%s'", view.c_str());
        }
    } else {
        id = p.add(std::move(r), lua_toboolean(L, 2));
    }
    lua_pushnumber(L, static_cast<lua_Number>(id));
    return 1;
}

void bind_lua_rules(lua_State* L) {
    const luaL_Reg fns[] = {{"__kresd_policy_del", l_policy_del},
                            {"__kresd_policy_count", l_policy_count},
                            {"__kresd_policy_ids", l_policy_ids},
                            {"__kresd_str2ip", l_str2ip},
                            {"__kresd_dname2str", l_dname2str}};
    for (const auto& f : fns) {
        lua_pushcfunction(L, f.func);
        lua_setglobal(L, f.name);
    }
    Engine& e = engine_of(L);
    if (!e.host().policy) return;
    auto scratch = std::make_shared<Scratch>();
    e.host().policy->set_lua_hooks(
        policy::LuaHooks{[L, scratch](int ref, const dns::Query& q, const policy::Client& c) {
                             return call(L, *scratch, "filter", ref, q, c);
                         },
                         [L, scratch](int ref, const dns::Query& q, const policy::Client& c) {
                             return call(L, *scratch, "action", ref, q, c);
                         }});
}

} // namespace kresd::lua
