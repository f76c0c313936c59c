// policy.add(): turns the description tables built by lua/policy.lua into
// typed policy::Rule values.
#include <lua.hpp>
#include <stdexcept>

#include "lua/engine.hpp"
#include "net/tls_target.hpp"
#include "util/log.hpp"

namespace kresd::lua {

namespace {

// A name given to a policy filter: wire form (from todname()), or text.
dns::Name to_name(lua_State* L, int idx, const char* fn)
{
    size_t len = 0;
    const char* s = lua_tolstring(L, idx, &len);
    if (!s) luaL_error(L, "%s: names must be strings, got %s", fn, luaL_typename(L, idx));
    std::string_view v(s, len);
    dns::Name n;
    // Wire form: labels that add up exactly, ending with the root label.
    size_t pos = 0;
    bool wire = len > 0 && len <= dns::kMaxNameWire;
    while (wire && pos < len) {
        uint8_t l = static_cast<uint8_t>(v[pos]);
        if (l == 0) {
            wire = pos + 1 == len;
            break;
        }
        if (l > 63) wire = false;
        pos += 1 + l;
    }
    if (wire && pos < len) {
        std::copy(v.begin(), v.end(), n.wire.begin());
        n.len = static_cast<uint8_t>(len);
    } else if (!dns::name_from_text(v, n)) {
        luaL_error(L, "%s: '%s' is not a domain name", fn, s);
    }
    dns::name_lower(n);
    return n;
}

std::vector<std::string> string_list(lua_State* L, int idx, const char* fn, bool flags)
{
    std::vector<std::string> out;
    if (!lua_istable(L, idx)) return out;
    for (int i = 1;; ++i) {
        lua_rawgeti(L, idx, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        std::string v = check_string(L, -1, fn);
        if (flags && !is_known_option(v)) luaL_error(L, "%s: unknown flag '%s'", fn, v.c_str());
        out.push_back(v);
        lua_pop(L, 1);
    }
    return out;
}

// A string or a list of strings (pin_sha256, ca_file).
std::vector<std::string> one_or_list(lua_State* L, int idx, const std::string& what)
{
    std::vector<std::string> out;
    if (lua_type(L, idx) == LUA_TSTRING) {
        out.emplace_back(lua_tostring(L, idx));
        return out;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "policy.TLS_FORWARD: %s must be a string or a list of strings", what.c_str());
    for (int i = 1;; ++i) {
        lua_rawgeti(L, idx, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "policy.TLS_FORWARD: %s must be a string or a list of strings",
                       what.c_str());
        out.emplace_back(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    if (out.empty()) luaL_error(L, "policy.TLS_FORWARD: %s is an empty list", what.c_str());
    return out;
}

// policy.TLS_FORWARD targets: {{'ADDR[@PORT]', hostname=, ca_file=,
// pin_sha256=, insecure=}, ...}; a plain 'ADDR' string is a target with no
// settings (and so refused: it needs a hostname or a pin).
std::vector<net::TlsTarget> tls_targets(lua_State* L, int idx)
{
    constexpr const char* fn = "policy.TLS_FORWARD";
    if (!lua_istable(L, idx))
        luaL_error(L,
                   "%s: expected a list of targets such as {{'192.0.2.1', hostname='dns.example'}}",
                   fn);
    std::vector<net::TlsTarget> out;
    for (int i = 1;; ++i) {
        lua_rawgeti(L, idx, i);
        const int t = lua_gettop(L);
        if (lua_isnil(L, t)) {
            lua_pop(L, 1);
            break;
        }
        net::TlsTargetSpec spec;
        if (lua_type(L, t) == LUA_TSTRING) {
            spec.address = lua_tostring(L, t);
        } else if (lua_istable(L, t)) {
            lua_rawgeti(L, t, 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "%s: target %d has no address as its first item", fn, i);
            spec.address = lua_tostring(L, -1);
            lua_pop(L, 1);
            lua_pushnil(L);
            while (lua_next(L, t) != 0) {
                // key at -2, value at -1
                if (lua_type(L, -2) == LUA_TNUMBER) {
                    if (lua_tonumber(L, -2) != 1)
                        luaL_error(L, "%s: target %d: give one address per target", fn, i);
                } else if (lua_type(L, -2) != LUA_TSTRING) {
                    luaL_error(L, "%s: target %d has a key that is not a name", fn, i);
                } else {
                    const std::string key = lua_tostring(L, -2);
                    if (key == "hostname") {
                        if (lua_type(L, -1) != LUA_TSTRING)
                            luaL_error(L, "%s: target %d: hostname must be a string", fn, i);
                        spec.hostname = lua_tostring(L, -1);
                        if (spec.hostname.empty())
                            luaL_error(L, "%s: target %d: hostname is empty", fn, i);
                    } else if (key == "ca_file") {
                        spec.ca_files = one_or_list(L, lua_gettop(L), "ca_file");
                    } else if (key == "pin_sha256") {
                        spec.pins = one_or_list(L, lua_gettop(L), "pin_sha256");
                    } else if (key == "insecure") {
                        if (!lua_isboolean(L, -1))
                            luaL_error(L, "%s: target %d: insecure must be true or false", fn, i);
                        spec.insecure = lua_toboolean(L, -1);
                    } else {
                        luaL_error(L,
                                   "%s: target %d: unknown option '%s' (hostname, ca_file, "
                                   "pin_sha256, insecure)",
                                   fn, i, key.c_str());
                    }
                }
                lua_pop(L, 1);
            }
        } else {
            luaL_error(
                L, "%s: target %d must be a table such as {'192.0.2.1', hostname='dns.example'}",
                fn, i);
        }
        lua_pop(L, 1);
        try {
            out.push_back(net::parse_tls_target(spec));
        } catch (const std::exception& e) {
            luaL_error(L, "%s: %s", fn, e.what());
        }
    }
    if (out.empty()) luaL_error(L, "%s: the list of targets is empty", fn);
    return out;
}

// __kresd_tls_forward_check(targets): raises the error policy.add() would,
// at the line of the config that calls policy.TLS_FORWARD().
int l_tls_forward_check(lua_State* L)
{
    auto targets = tls_targets(L, 1);
    for (const auto& t : targets) {
        if (t.auth->insecure)
            KR_LOG(warning, "policy",
                   "TLS_FORWARD to %s: insecure=true, the server is not "
                   "authenticated",
                   resolve::address_to_string(t.addr).c_str());
    }
    return 0;
}

policy::Action to_action(lua_State* L, int idx)
{
    policy::Action a;
    lua_getfield(L, idx, "__policy_action");
    std::string kind = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);
    using K = policy::ActionKind;
    if (kind == "pass") a.kind = K::pass;
    else if (kind == "deny") a.kind = K::deny;
    else if (kind == "drop") a.kind = K::drop;
    else if (kind == "no_answer") a.kind = K::no_answer;
    else if (kind == "tc") a.kind = K::tc;
    else if (kind == "refuse") a.kind = K::refuse;
    else if (kind == "debug") a.kind = K::debug;
    else if (kind == "flags") a.kind = K::flags;
    else if (kind == "forward") a.kind = K::forward;
    else if (kind == "stub") a.kind = K::stub;
    else if (kind == "tls_forward")
        a.kind = K::forward;
    else luaL_error(L, "policy.add: unknown action '%s'", kind.c_str());
    lua_getfield(L, idx, "message");
    if (lua_isstring(L, -1)) a.message = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "ede");
    if (lua_isnumber(L, -1)) a.ede = static_cast<uint16_t>(lua_tointeger(L, -1));
    lua_pop(L, 1);
    if (a.kind == K::flags) {
        lua_getfield(L, idx, "set");
        a.set_flags = string_list(L, lua_gettop(L), "policy.FLAGS", true);
        lua_pop(L, 1);
        lua_getfield(L, idx, "clear");
        a.clear_flags = string_list(L, lua_gettop(L), "policy.FLAGS", true);
        lua_pop(L, 1);
    }
    if (kind == "tls_forward") {
        lua_getfield(L, idx, "targets");
        for (auto& t : tls_targets(L, lua_gettop(L))) {
            a.targets.push_back(t.addr);
            a.tls.push_back(std::move(t.auth));
        }
        lua_pop(L, 1);
    } else if (a.kind == K::forward || a.kind == K::stub) {
        lua_getfield(L, idx, "targets");
        for (const auto& t : string_list(L, lua_gettop(L), "policy.FORWARD", false)) {
            auto addr = resolve::parse_address(t);
            if (!addr)
                luaL_error(L, "policy.%s: '%s' is not an address (IP, IP@port or IP#port)",
                           a.kind == K::forward ? "FORWARD" : "STUB", t.c_str());
            a.targets.push_back(*addr);
        }
        lua_pop(L, 1);
    }
    return a;
}

int l_policy_add(lua_State* L)
{
    Engine& e = engine_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    policy::Rule r;
    lua_getfield(L, 1, "filter");
    std::string filter = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);
    if (filter == "all") r.filter = policy::FilterKind::all;
    else if (filter == "suffix") r.filter = policy::FilterKind::suffix;
    else if (filter == "suffix_common") r.filter = policy::FilterKind::suffix_common;
    else if (filter == "pattern") r.filter = policy::FilterKind::pattern;
    else return luaL_error(L, "policy.add: unknown filter '%s'", filter.c_str());

    if (r.filter == policy::FilterKind::suffix || r.filter == policy::FilterKind::suffix_common) {
        lua_getfield(L, 1, "names");
        int t = lua_gettop(L);
        for (int i = 1;; ++i) {
            lua_rawgeti(L, t, i);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                break;
            }
            r.names.push_back(to_name(L, lua_gettop(L), "policy.suffix"));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (r.filter == policy::FilterKind::suffix_common) {
            lua_getfield(L, 1, "common");
            if (lua_isnil(L, -1)) {
                r.common.len = 1; // the root: matches everything
            } else {
                r.common = to_name(L, lua_gettop(L), "policy.suffix_common");
            }
            lua_pop(L, 1);
        }
    }
    if (r.filter == policy::FilterKind::pattern) {
        lua_getfield(L, 1, "pattern");
        r.pattern = check_string(L, -1, "policy.pattern");
        lua_pop(L, 1);
    }
    lua_getfield(L, 1, "action");
    if (!lua_istable(L, -1)) return luaL_error(L, "policy.add: the rule has no action");
    r.action = to_action(L, lua_gettop(L));
    lua_pop(L, 1);
    e.host().policy->add(std::move(r));
    return 0;
}

} // namespace

void bind_policy(lua_State* L)
{
    lua_pushcfunction(L, l_policy_add);
    lua_setglobal(L, "__kresd_policy_add");
    lua_pushcfunction(L, l_tls_forward_check);
    lua_setglobal(L, "__kresd_tls_forward_check");
}

} // namespace kresd::lua
