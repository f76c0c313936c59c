// policy.add(): turns the description tables built by lua/policy.lua into
// typed policy::Rule values.
#include <arpa/inet.h>
#include <lua.hpp>

#include <cstdlib>
#include <optional>
#include <stdexcept>

#include "lua/engine.hpp"
#include "lua/rules.hpp"
#include "net/tls_target.hpp"
#include "policy/psl.hpp"
#include "policy/rpz.hpp"
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

// policy.ANSWER's table: {[type] = {rdata = wire or {wire, ...}, ttl = n}}
// (ttl 1 unless given, as in Knot Resolver 5.6).
std::shared_ptr<const policy::AnswerData> answer_data(lua_State* L, int idx)
{
    constexpr const char* fn = "policy.ANSWER";
    auto d = std::make_shared<policy::AnswerData>();
    lua_getfield(L, idx, "nodata");
    d->nodata = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "rtable");
    const int t = lua_gettop(L);
    if (!lua_istable(L, t))
        luaL_error(L, "%s: expected a table {[kres.type.A] = {rdata=..., ttl=...}}", fn);
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        const int v = lua_gettop(L);
        if (lua_type(L, v - 1) != LUA_TNUMBER || !lua_istable(L, v))
            luaL_error(L, "%s: expected entries [type] = {rdata=..., ttl=...}", fn);
        policy::AnswerData::Set set;
        set.type = static_cast<uint16_t>(lua_tointeger(L, v - 1));
        lua_getfield(L, v, "ttl");
        if (lua_isnumber(L, -1)) set.ttl = static_cast<uint32_t>(lua_tointeger(L, -1));
        lua_pop(L, 1);
        lua_getfield(L, v, "rdata");
        auto take = [&](int at) {
            size_t len = 0;
            const char* s = lua_tolstring(L, at, &len);
            if (lua_type(L, at) != LUA_TSTRING || len > 65535)
                luaL_error(L, "%s: rdata of type %d must be wire-format strings", fn, set.type);
            set.rdata.emplace_back(s, s + len);
        };
        if (lua_istable(L, -1)) {
            for (int i = 1;; ++i) {
                lua_rawgeti(L, -1, i);
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    break;
                }
                take(lua_gettop(L));
                lua_pop(L, 1);
            }
        } else {
            take(lua_gettop(L));
        }
        lua_pop(L, 2); // rdata, value
        d->sets.push_back(std::move(set));
    }
    lua_pop(L, 1);
    return d;
}

// policy.REROUTE's prefixes (lua/policy.lua made them {{subnet, target}, ...}):
// 'ADDR[/LEN]' -> 'ADDR' or 'ADDR!' (the whole address).
std::shared_ptr<const policy::Reroute> reroute_data(lua_State* L, int idx)
{
    constexpr const char* fn = "policy.REROUTE";
    auto r = std::make_shared<policy::Reroute>();
    lua_getfield(L, idx, "prefixes");
    const int t = lua_gettop(L);
    for (int i = 1; lua_istable(L, t); ++i) {
        lua_rawgeti(L, t, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        std::string from = check_string(L, -2, fn), to = check_string(L, -1, fn);
        lua_pop(L, 3);
        policy::Reroute::Prefix p;
        if (!to.empty() && to.back() == '!') {
            p.exact = true;
            to.pop_back();
        }
        p.v6 = to.find(':') != std::string::npos;
        if (inet_pton(p.v6 ? AF_INET6 : AF_INET, to.c_str(), p.target.data()) != 1)
            luaL_error(L, "%s: invalid address '%s'", fn, to.c_str());
        const auto slash = from.find('/');
        const std::string addr = from.substr(0, slash);
        const bool v6 = addr.find(':') != std::string::npos;
        const unsigned max = v6 ? 128 : 32;
        p.bits = max;
        if (slash != std::string::npos) {
            char* end = nullptr;
            const unsigned long n = std::strtoul(from.c_str() + slash + 1, &end, 10);
            if (end == from.c_str() + slash + 1 || *end != '\0' || n > max)
                luaL_error(L, "%s: invalid subnet '%s'", fn, from.c_str());
            p.bits = static_cast<unsigned>(n);
        }
        if (inet_pton(v6 ? AF_INET6 : AF_INET, addr.c_str(), p.subnet.data()) != 1)
            luaL_error(L, "%s: invalid subnet '%s'", fn, from.c_str());
        r->prefixes.push_back(p);
    }
    lua_pop(L, 1);
    return r;
}

policy::Action to_action(lua_State* L, int idx)
{
    if (lua_isfunction(L, idx)) return lua_action(L, idx); // lua/rules.hpp
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
    else if (kind == "answer") {
        a.kind = K::answer;
        a.answer = answer_data(L, idx);
    }
    else if (kind == "reroute") {
        a.kind = K::reroute;
        a.reroute = reroute_data(L, idx);
    }
    else if (kind == "mirror") a.kind = K::mirror;
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
    } else if (a.kind == K::forward || a.kind == K::stub || a.kind == K::mirror) {
        lua_getfield(L, idx, "targets");
        for (const auto& t : string_list(L, lua_gettop(L), "policy.FORWARD", false)) {
            auto addr = resolve::parse_address(t);
            if (!addr)
                luaL_error(L, "policy.%s: '%s' is not an address (IP, IP@port or IP#port)",
                           a.kind == K::forward  ? "FORWARD"
                           : a.kind == K::stub ? "STUB"
                                               : "MIRROR",
                           t.c_str());
            a.targets.push_back(*addr);
        }
        lua_pop(L, 1);
    }
    return a;
}

// ---- policy.rpz (lua/policy.lua): a userdata holding the loaded zone ----
constexpr const char* kRpzMeta = "kresd.rpz";

std::shared_ptr<policy::Rpz>& check_rpz(lua_State* L, int idx)
{
    return *static_cast<std::shared_ptr<policy::Rpz>*>(luaL_checkudata(L, idx, kRpzMeta));
}

int l_rpz_gc(lua_State* L)
{
    check_rpz(L, 1).~shared_ptr();
    return 0;
}

// __kresd_rpz_load(path): reads the zone now (an unreadable file is a
// config error naming it; bad records only warn).
int l_rpz_load(lua_State* L)
{
    const std::string path = check_string(L, 1, "policy.rpz");
    std::shared_ptr<policy::Rpz> z;
    try {
        z = std::make_shared<policy::Rpz>(path);
    } catch (const std::exception& e) {
        return luaL_error(L, "policy.rpz: %s", e.what());
    }
    void* mem = lua_newuserdata(L, sizeof(std::shared_ptr<policy::Rpz>));
    new (mem) std::shared_ptr<policy::Rpz>(std::move(z));
    if (luaL_newmetatable(L, kRpzMeta)) {
        lua_pushcfunction(L, l_rpz_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return 1;
}

// __kresd_rpz_check(zone): re-reads the file if it changed (watch timer).
int l_rpz_check(lua_State* L)
{
    lua_pushboolean(L, check_rpz(L, 1)->reload_if_changed());
    return 1;
}

int l_policy_add(lua_State* L)
{
    Engine& e = engine_of(L);
    if (lua_isfunction(L, 1)) return place_rule(L, lua_filter_rule(L, 1)); // lua/rules.hpp
    luaL_checktype(L, 1, LUA_TTABLE);
    policy::Rule r;
    lua_getfield(L, 1, "filter");
    std::string filter = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);
    if (filter == "all") r.filter = policy::FilterKind::all;
    else if (filter == "suffix") r.filter = policy::FilterKind::suffix;
    else if (filter == "suffix_common") r.filter = policy::FilterKind::suffix_common;
    else if (filter == "pattern") r.filter = policy::FilterKind::pattern;
    else if (filter == "domains") r.filter = policy::FilterKind::domains;
    else if (filter == "rpz") {
        r.filter = policy::FilterKind::rpz;
        lua_getfield(L, 1, "rpz");
        r.rpz = check_rpz(L, lua_gettop(L));
        lua_pop(L, 1);
    }
    else return luaL_error(L, "policy.add: unknown filter '%s'", filter.c_str());

    if (r.filter == policy::FilterKind::suffix || r.filter == policy::FilterKind::suffix_common ||
        r.filter == policy::FilterKind::domains) {
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
    if (!lua_istable(L, -1) && !lua_isfunction(L, -1))
        return luaL_error(L, "policy.add: the rule has no action");
    r.action = to_action(L, lua_gettop(L));
    lua_pop(L, 1);
    (void)e;
    return place_rule(L, std::move(r)); // lua/rules.hpp: policy list or view, by argument 2
}

} // namespace

policy::Action read_action(lua_State* L, int idx)
{
    return to_action(L, idx);
}

// __kresd_psl_slice(name, seed, n): policy.slice_randomize_psl()'s choice
// (1..n) for a name in text form; the public suffix list is read at the
// first call (error: none installed).
int l_psl_slice(lua_State* L)
{
    size_t len = 0;
    const char* text = luaL_checklstring(L, 1, &len);
    const auto seed = static_cast<int64_t>(luaL_checknumber(L, 2));
    const auto n = static_cast<lua_Integer>(luaL_checkinteger(L, 3));
    static std::optional<policy::PublicSuffixList> psl;
    if (!psl) {
        const std::string path = policy::default_psl_path();
        if (path.empty())
            return luaL_error(L, "policy.slice_randomize_psl: no public suffix list found "
                                 "(install the package publicsuffix)");
        try {
            psl = policy::PublicSuffixList::load(path);
        } catch (const std::exception& e) {
            return luaL_error(L, "policy.slice_randomize_psl: %s", e.what());
        }
    }
    std::string_view name(text, len);
    if (name.size() > 1 && name.back() == '.')
        name.remove_suffix(1);
    // A name that is a public suffix itself counts as its own domain.
    const std::string domain = psl->registrable(name).value_or(psl->suffix(name));
    lua_pushinteger(L, policy::psl_slice(domain, seed, n > 0 ? static_cast<unsigned>(n) : 1));
    return 1;
}

void bind_policy(lua_State* L)
{
    lua_pushcfunction(L, l_psl_slice);
    lua_setglobal(L, "__kresd_psl_slice");
    lua_pushcfunction(L, l_policy_add);
    lua_setglobal(L, "__kresd_policy_add");
    lua_pushcfunction(L, l_tls_forward_check);
    lua_setglobal(L, "__kresd_tls_forward_check");
    lua_pushcfunction(L, l_rpz_load);
    lua_setglobal(L, "__kresd_rpz_load");
    lua_pushcfunction(L, l_rpz_check);
    lua_setglobal(L, "__kresd_rpz_check");
}

} // namespace kresd::lua
