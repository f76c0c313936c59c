// The `cache`, `hints` and `trust_anchors` tables and mode().
#include <fstream>
#include <lua.hpp>
#include <set>
#include <sstream>

#include "lua/engine.hpp"

namespace kresd::lua {

namespace {

cache::Cache* need_cache(lua_State* L, const char* fn)
{
    Engine& e = engine_of(L);
    cache::Cache* c = e.host().cache_get ? e.host().cache_get() : nullptr;
    if (!c) {
        Settings& s = e.settings();
        try {
            e.host().cache_open(s.cache_size, s.cache_dir);
        } catch (const std::exception& ex) {
            luaL_error(L, "%s: %s", fn, ex.what());
        }
        c = e.host().cache_get();
        if (c) c->set_ttl_bounds(s.cache_min_ttl, s.cache_max_ttl);
    }
    return c;
}

void reopen(lua_State* L, const char* fn)
{
    Engine& e = engine_of(L);
    Settings& s = e.settings();
    try {
        e.host().cache_open(s.cache_size, s.cache_dir);
        s.cache_opened = true;
    } catch (const std::exception& ex) {
        luaL_error(L, "%s: %s", fn, ex.what());
    }
    if (cache::Cache* c = e.host().cache_get()) c->set_ttl_bounds(s.cache_min_ttl, s.cache_max_ttl);
}

// cache.open(max_size, ['lmdb://dir'])
int l_open(lua_State* L)
{
    Engine& e = engine_of(L);
    lua_Number size = luaL_checknumber(L, 1);
    if (size < 1024 * 1024)
        return luaL_error(L, "cache.open: size %f is below 1 MB", static_cast<double>(size));
    std::string uri = luaL_optstring(L, 2, ("lmdb://" + e.settings().cache_dir).c_str());
    const std::string prefix = "lmdb://";
    if (uri.compare(0, prefix.size(), prefix) != 0)
        return luaL_error(L, "cache.open: '%s' is not an lmdb:// location (cache.backends())",
                          uri.c_str());
    std::string dir = uri.substr(prefix.size());
    if (dir.empty()) dir.assign(1, '.'); // not = ".": a GCC 12 -Wrestrict false alarm
    e.settings().cache_size = static_cast<uint64_t>(size);
    e.settings().cache_dir = dir;
    reopen(L, "cache.open");
    lua_pushboolean(L, 1);
    return 1;
}

int l_clear(lua_State* L)
{
    cache::Cache* c = need_cache(L, "cache.clear");
    dns::Name n;
    n.len = 0;
    if (!lua_isnoneornil(L, 1)) {
        std::string text = check_string(L, 1, "cache.clear");
        if (!dns::name_from_text(text, n))
            return luaL_error(L, "cache.clear: '%s' is not a domain name", text.c_str());
    }
    uint64_t count = c->clear(n.view());
    lua_newtable(L);
    lua_pushnumber(L, static_cast<lua_Number>(count));
    lua_setfield(L, -2, "count");
    return 1;
}

int l_count(lua_State* L)
{
    lua_pushnumber(L, static_cast<lua_Number>(need_cache(L, "cache.count")->count()));
    return 1;
}

int l_stats(lua_State* L)
{
    cache::Stats s = need_cache(L, "cache.stats")->stats();
    lua_newtable(L);
    auto set = [&](const char* k, uint64_t v) {
        lua_pushnumber(L, static_cast<lua_Number>(v));
        lua_setfield(L, -2, k);
    };
    set("hit", s.hits);
    set("miss", s.misses);
    set("insert", s.inserts);
    set("evict", s.evictions);
    set("clear", s.clears);
    set("entries", s.entries);
    set("map_size", s.map_size);
    set("usage_bytes", s.used);
    return 1;
}

int l_backends(lua_State* L)
{
    lua_newtable(L);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "lmdb");
    return 1;
}

int ttl_bound(lua_State* L, bool max)
{
    Engine& e = engine_of(L);
    uint32_t& v = max ? e.settings().cache_max_ttl : e.settings().cache_min_ttl;
    if (!lua_isnoneornil(L, 1)) {
        lua_Number n = luaL_checknumber(L, 1);
        if (n < 0 || n > 0x7fffffff) return luaL_error(L, "cache TTL bound out of range");
        Settings& s = e.settings();
        uint32_t lo = max ? s.cache_min_ttl : static_cast<uint32_t>(n);
        uint32_t hi = max ? static_cast<uint32_t>(n) : s.cache_max_ttl;
        if (lo > hi)
            return luaL_error(L, "cache.min_ttl (%u) would be above cache.max_ttl (%u)", lo, hi);
        v = static_cast<uint32_t>(n);
        if (cache::Cache* c = e.host().cache_get ? e.host().cache_get() : nullptr)
            c->set_ttl_bounds(s.cache_min_ttl, s.cache_max_ttl);
    }
    lua_pushnumber(L, v);
    return 1;
}
int l_max_ttl(lua_State* L) { return ttl_bound(L, true); }
int l_min_ttl(lua_State* L) { return ttl_bound(L, false); }

// cache.size, cache.current_size, cache.current_storage as properties.
int l_cache_index(lua_State* L)
{
    Engine& e = engine_of(L);
    std::string k = lua_isstring(L, 2) ? lua_tostring(L, 2) : "";
    if (k == "size" || k == "current_size") {
        // The map never shrinks: report what the open cache really has.
        cache::Cache* c = e.host().cache_get ? e.host().cache_get() : nullptr;
        lua_pushnumber(L, static_cast<lua_Number>(c ? c->map_size() : e.settings().cache_size));
        return 1;
    }
    if (k == "current_storage") {
        lua_pushstring(L, ("lmdb://" + e.settings().cache_dir).c_str());
        return 1;
    }
    return 0;
}

int l_cache_newindex(lua_State* L)
{
    Engine& e = engine_of(L);
    std::string k = lua_isstring(L, 2) ? lua_tostring(L, 2) : "";
    if (k == "size") {
        lua_Number n = luaL_checknumber(L, 3);
        if (n < 1024 * 1024) return luaL_error(L, "cache.size: %f is below 1 MB", double(n));
        e.settings().cache_size = static_cast<uint64_t>(n);
        reopen(L, "cache.size");
        return 0;
    }
    if (k == "storage") {
        lua_pushcfunction(L, l_open);
        lua_pushnumber(L, static_cast<lua_Number>(e.settings().cache_size));
        lua_pushvalue(L, 3);
        lua_call(L, 2, 0);
        return 0;
    }
    return luaL_error(L, "cache.%s cannot be set", k.c_str());
}

std::vector<resolve::Address> addresses(lua_State* L, int idx, const char* fn)
{
    std::vector<resolve::Address> out;
    auto one = [&](int i) {
        std::string t = check_string(L, i, fn);
        auto a = resolve::parse_address(t);
        if (!a) luaL_error(L, "%s: '%s' is not an IP address", fn, t.c_str());
        out.push_back(*a);
    };
    if (lua_istable(L, idx)) {
        for (int i = 1;; ++i) {
            lua_rawgeti(L, idx, i);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                break;
            }
            one(lua_gettop(L));
            lua_pop(L, 1);
        }
    } else {
        one(idx);
    }
    return out;
}

dns::Name check_name(lua_State* L, const std::string& text, const char* fn)
{
    dns::Name n;
    if (!dns::name_from_text(text, n)) luaL_error(L, "%s: '%s' is not a domain name", fn, text.c_str());
    dns::name_lower(n);
    return n;
}

// hints.root({['a.root-servers.net.'] = '198.41.0.4' or {...}, ...})
int l_root(lua_State* L)
{
    Engine& e = engine_of(L);
    auto& hints = e.host().resolve_config->root_hints;
    if (lua_isnoneornil(L, 1)) {
        lua_newtable(L);
        for (const auto& [name, addrs] : hints) {
            lua_newtable(L);
            int i = 0;
            for (const auto& a : addrs) {
                lua_pushstring(L, resolve::address_to_string(a).c_str());
                lua_rawseti(L, -2, ++i);
            }
            lua_setfield(L, -2, dns::name_to_text(name.view()).c_str());
        }
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    decltype(e.host().resolve_config->root_hints) fresh;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        std::string name = check_string(L, -2, "hints.root");
        fresh.emplace_back(check_name(L, name, "hints.root"), addresses(L, lua_gettop(L), "hints.root"));
        lua_pop(L, 1);
    }
    if (fresh.empty()) return luaL_error(L, "hints.root: no root servers given");
    hints = std::move(fresh);
    lua_pushboolean(L, 1);
    return 1;
}

// hints.root_file(path): a root hints zone file (NAME TTL [IN] A|AAAA ADDR).
int l_root_file(lua_State* L)
{
    Engine& e = engine_of(L);
    std::string path = check_string(L, 1, "hints.root_file");
    std::ifstream in(path);
    if (!in) return luaL_error(L, "hints.root_file: cannot read %s", path.c_str());
    std::map<std::string, std::vector<resolve::Address>> byname;
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (auto c = line.find(';'); c != std::string::npos) line.resize(c);
        std::istringstream f(line);
        std::vector<std::string> w;
        for (std::string t; f >> t;) w.push_back(t);
        if (w.size() < 3) continue;
        std::string type = w[w.size() - 2];
        if (type != "A" && type != "AAAA") continue;
        auto a = resolve::parse_address(w.back());
        if (!a) return luaL_error(L, "%s:%d: bad address '%s'", path.c_str(), lineno, w.back().c_str());
        byname[w[0]].push_back(*a);
    }
    if (byname.empty()) return luaL_error(L, "hints.root_file: no addresses in %s", path.c_str());
    auto& hints = e.host().resolve_config->root_hints;
    hints.clear();
    for (auto& [name, addrs] : byname) hints.emplace_back(check_name(L, name, "hints.root_file"), addrs);
    lua_pushboolean(L, 1);
    return 1;
}

void add_hint(lua_State* L, const std::string& name, int value_idx)
{
    Engine& e = engine_of(L);
    dns::Name n = check_name(L, name, "hints");
    auto addrs = addresses(L, value_idx, "hints");
    for (const auto& a : addrs) e.host().hints->add(n.view(), a);
}

// hints.set('name addr')
int l_set(lua_State* L)
{
    std::string spec = check_string(L, 1, "hints.set");
    std::istringstream f(spec);
    std::string name, addr;
    f >> name >> addr;
    if (addr.empty()) return luaL_error(L, "hints.set: expected 'name address'");
    lua_pushstring(L, addr.c_str());
    add_hint(L, name, lua_gettop(L));
    lua_pushboolean(L, 1);
    return 1;
}

int l_hints_get(lua_State* L)
{
    Engine& e = engine_of(L);
    dns::Name n = check_name(L, check_string(L, 1, "hints.get"), "hints.get");
    const auto& names = e.host().hints->names;
    auto it = names.find(std::vector<uint8_t>(n.wire.begin(), n.wire.begin() + n.len));
    if (it == names.end()) return 0;
    lua_newtable(L);
    int i = 0;
    for (const auto& a : it->second) {
        std::string s = resolve::address_to_string(a);
        s = s.substr(0, s.rfind('@'));
        lua_pushstring(L, s.c_str());
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

// hints['name'] = 'addr'
int l_hints_newindex(lua_State* L)
{
    add_hint(L, check_string(L, 2, "hints"), 3);
    return 0;
}

int l_hints_index(lua_State* L)
{
    lua_pushcfunction(L, l_hints_get);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    return 1;
}

int l_mode(lua_State* L)
{
    Engine& e = engine_of(L);
    if (!lua_isnoneornil(L, 1)) {
        std::string m = check_string(L, 1, "mode");
        if (m != "strict" && m != "normal" && m != "permissive")
            return luaL_error(L, "mode: '%s' is not strict, normal or permissive", m.c_str());
        e.settings().mode = m;
    }
    lua_pushstring(L, e.settings().mode.c_str());
    return 1;
}

// Until DNSSEC validation lands there are no trust anchors: removing one
// that is not there returns false, as in Knot Resolver.
int l_ta_remove(lua_State* L)
{
    check_string(L, 1, "trust_anchors.remove");
    lua_pushboolean(L, 0);
    return 1;
}

void set_fns(lua_State* L, std::initializer_list<luaL_Reg> fns)
{
    for (const auto& f : fns) {
        lua_pushcfunction(L, f.func);
        lua_setfield(L, -2, f.name);
    }
}

} // namespace

void bind_cache(lua_State* L)
{
    lua_newtable(L);
    set_fns(L, {{"open", l_open}, {"clear", l_clear}, {"count", l_count}, {"stats", l_stats},
                {"backends", l_backends}, {"max_ttl", l_max_ttl}, {"min_ttl", l_min_ttl}});
    lua_newtable(L);
    set_fns(L, {{"__index", l_cache_index}, {"__newindex", l_cache_newindex}});
    lua_setmetatable(L, -2);
    lua_setglobal(L, "cache");

    lua_newtable(L);
    set_fns(L, {{"root", l_root}, {"root_file", l_root_file}, {"set", l_set}, {"get", l_hints_get}});
    lua_newtable(L);
    set_fns(L, {{"__index", l_hints_index}, {"__newindex", l_hints_newindex}});
    lua_setmetatable(L, -2);
    lua_setglobal(L, "hints");

    lua_newtable(L);
    set_fns(L, {{"remove", l_ta_remove}});
    lua_setglobal(L, "trust_anchors");

    lua_pushcfunction(L, l_mode);
    lua_setglobal(L, "mode");
}

} // namespace kresd::lua
