// The `cache` and `hints` tables.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <lua.hpp>
#include <set>
#include <sstream>

#include "lua/engine.hpp"
#include "util/log.hpp"

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
    bool any = false;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        any = true;
        // As Knot Resolver does, an entry without a name (a list item, '')
        // or without addresses ({} or '') is left out, here with a warning.
        if (lua_type(L, -2) != LUA_TSTRING || lua_objlen(L, -2) == 0) {
            KR_LOG(warning, "hints", "hints.root: an entry without a name is skipped");
            lua_pop(L, 1);
            continue;
        }
        std::string name = check_string(L, -2, "hints.root");
        if ((lua_istable(L, -1) || lua_type(L, -1) == LUA_TSTRING) && lua_objlen(L, -1) == 0) {
            KR_LOG(warning, "hints", "hints.root: '%s' has no addresses and is skipped", name.c_str());
            lua_pop(L, 1);
            continue;
        }
        fresh.emplace_back(check_name(L, name, "hints.root"), addresses(L, lua_gettop(L), "hints.root"));
        lua_pop(L, 1);
    }
    if (!any) return luaL_error(L, "hints.root: no root servers given");
    if (fresh.empty()) {
        // Knot Resolver would be left without root servers; these stay.
        KR_LOG(warning, "hints", "hints.root: no usable root servers given; the root hints are unchanged");
        lua_pushboolean(L, 1);
        return 1;
    }
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

// { result = ok }, as Knot Resolver's hints functions return.
int push_result(lua_State* L, bool ok)
{
    lua_newtable(L);
    lua_pushboolean(L, ok);
    lua_setfield(L, -2, "result");
    return 1;
}

// "name address" (hints.set; hints.del, where the address is optional).
void split_pair(lua_State* L, const char* fn, std::string& name, std::string& addr)
{
    std::istringstream f(check_string(L, 1, fn));
    std::string extra;
    f >> name >> addr >> extra;
    if (name.empty() || !extra.empty()) luaL_error(L, "%s: expected 'name address'", fn);
}

// hints.set('name addr')
int l_set(lua_State* L)
{
    std::string name, addr;
    split_pair(L, "hints.set", name, addr);
    if (addr.empty()) return luaL_error(L, "hints.set: expected 'name address'");
    lua_pushstring(L, addr.c_str());
    add_hint(L, name, lua_gettop(L));
    return push_result(L, true);
}

// hints.del('name [addr]'): that address of the name, or all of them.
int l_del(lua_State* L)
{
    std::string name, addr;
    split_pair(L, "hints.del", name, addr);
    dns::Name n = check_name(L, name, "hints.del");
    std::optional<resolve::Address> a;
    if (!addr.empty()) {
        a = resolve::parse_address(addr);
        if (!a) return luaL_error(L, "hints.del: '%s' is not an IP address", addr.c_str());
    }
    const size_t removed = engine_of(L).host().hints->remove(n.view(), a ? &*a : nullptr);
    return push_result(L, removed > 0);
}

// Reads a hosts file into the hints. Like Knot Resolver, it stops at the
// first line it cannot read (logged with the file and line; the lines
// before it stay) and does not fail the configuration.
bool load_hosts(lua_State* L, const std::string& path)
{
    std::ifstream in(path);
    if (!in) {
        KR_LOG(err, "hints", "cannot read hosts file %s: %s", path.c_str(), std::strerror(errno));
        return false;
    }
    auto& hints = *engine_of(L).host().hints;
    std::string line;
    for (int lineno = 1; std::getline(in, line); ++lineno) {
        const auto h = resolve::parse_hosts_line(line);
        using K = resolve::HostsLine::Kind;
        if (h.kind == K::blank) continue;
        if (h.kind != K::entry) {
            const std::string why = h.kind == K::no_name       ? "an address without a name"
                                    : h.kind == K::bad_address ? "'" + h.bad + "' is not an IP address"
                                                               : "'" + h.bad + "' is not a domain name";
            KR_LOG(err, "hints", "%s:%d: %s; the rest of the file is not loaded", path.c_str(),
                   lineno, why.c_str());
            return false;
        }
        // The first name is the canonical one: the PTR answer (as in
        // Knot Resolver); the aliases get the address only.
        for (size_t i = 0; i < h.names.size(); ++i) hints.add(h.names[i], h.address, i == 0);
    }
    if (in.bad()) { // e.g. a directory: it opens, and the first read fails
        KR_LOG(err, "hints", "cannot read hosts file %s: %s", path.c_str(), std::strerror(errno));
        return false;
    }
    return true;
}

// hints.add_hosts([path]): /etc/hosts by default.
int l_add_hosts(lua_State* L)
{
    const std::string path =
        lua_isnoneornil(L, 1) ? std::string("/etc/hosts") : check_string(L, 1, "hints.add_hosts");
    return push_result(L, load_hosts(L, path));
}

// hints.config([path]): forgets the local hints (not the root hints), then
// loads the hosts file if given. Returns 0, or -1 when the file could not
// be read whole (the numbers Knot Resolver returns).
int l_hints_config(lua_State* L)
{
    std::string path;
    if (!lua_isnoneornil(L, 1)) path = check_string(L, 1, "hints.config");
    engine_of(L).host().hints->clear();
    lua_pushinteger(L, path.empty() || load_hosts(L, path) ? 0 : -1);
    return 1;
}

// hints.ttl([seconds]): the TTL of every answer from the hints.
int l_hints_ttl(lua_State* L)
{
    auto& hints = *engine_of(L).host().hints;
    if (!lua_isnoneornil(L, 1)) {
        const lua_Number v = lua_isnumber(L, 1) ? lua_tonumber(L, 1) : -1;
        if (!(v >= 0 && v <= 2147483647.0) || v != static_cast<lua_Number>(static_cast<int64_t>(v)))
            return luaL_error(L, "hints.ttl: expected a TTL, 0 to 2147483647 seconds");
        hints.ttl = static_cast<uint32_t>(v);
    }
    lua_pushinteger(L, hints.ttl);
    return 1;
}

// hints.use_nodata(bool)
int l_use_nodata(lua_State* L)
{
    if (!lua_isboolean(L, 1)) return luaL_error(L, "hints.use_nodata: expected true or false");
    engine_of(L).host().hints->use_nodata = lua_toboolean(L, 1) != 0;
    return push_result(L, true);
}

void push_addresses(lua_State* L, const std::vector<resolve::Address>& addrs)
{
    lua_newtable(L);
    int i = 0;
    for (const auto& a : addrs) {
        std::string s = resolve::address_to_string(a);
        s = s.substr(0, s.rfind('@'));
        lua_pushstring(L, s.c_str());
        lua_rawseti(L, -2, ++i);
    }
}

// hints.get(name): its addresses, or nil; hints.get(): every name, as
// { ['name.'] = { addresses } }.
int l_hints_get(lua_State* L)
{
    const auto& names = engine_of(L).host().hints->names;
    if (lua_isnoneornil(L, 1)) {
        lua_newtable(L);
        for (const auto& [wire, addrs] : names) {
            push_addresses(L, addrs);
            lua_setfield(L, -2, dns::name_to_text(wire).c_str());
        }
        return 1;
    }
    dns::Name n = check_name(L, check_string(L, 1, "hints.get"), "hints.get");
    dns::name_lower(n);
    auto it = names.find(n.view());
    if (it == names.end()) return 0;
    push_addresses(L, it->second);
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
    set_fns(L, {{"root", l_root}, {"root_file", l_root_file}, {"set", l_set}, {"del", l_del},
                {"get", l_hints_get}, {"add_hosts", l_add_hosts}, {"config", l_hints_config},
                {"ttl", l_hints_ttl}, {"use_nodata", l_use_nodata}});
    lua_newtable(L);
    set_fns(L, {{"__index", l_hints_index}, {"__newindex", l_hints_newindex}});
    lua_setmetatable(L, -2);
    lua_setglobal(L, "hints");
}

} // namespace kresd::lua
