// The `net` table: listening endpoints and network settings.
#include <ifaddrs.h>
#include <lua.hpp>
#include <net/if.h>
#include <netinet/in.h>
#include <string>
#include <vector>
#if defined(__linux__)
#include <netpacket/packet.h>
#elif defined(AF_LINK)
#include <net/if_dl.h>
#endif

#include "lua/engine.hpp"
#include "util/log.hpp"

namespace kresd::lua {

namespace {

using activation::Kind;

// Collects addresses from a string, an array of them (nested), or an
// interface table {addr = {...}} as returned by net.eth0.
void collect_addrs(lua_State* L, int idx, std::vector<std::string>& out, int depth = 0)
{
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    if (depth > 4) luaL_error(L, "net.listen: address tables nested too deep");
    if (lua_type(L, idx) == LUA_TSTRING) {
        out.emplace_back(lua_tostring(L, idx));
        return;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "net.listen: expected an address or a table of them, got %s",
                   luaL_typename(L, idx));
    lua_getfield(L, idx, "addr");
    if (lua_istable(L, -1)) {
        collect_addrs(L, -1, out, depth + 1);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    for (int i = 1;; ++i) {
        lua_rawgeti(L, idx, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        collect_addrs(L, -1, out, depth + 1);
        lua_pop(L, 1);
    }
}

int l_listen(lua_State* L)
{
    Engine& e = engine_of(L);
    std::vector<std::string> addrs;
    collect_addrs(L, 1, addrs);
    uint16_t port = 0;
    if (!lua_isnoneornil(L, 2)) {
        if (!lua_isnumber(L, 2)) return luaL_error(L, "net.listen: port must be a number");
        lua_Number p = lua_tonumber(L, 2);
        if (p < 1 || p > 65535 || p != static_cast<lua_Number>(static_cast<int>(p)))
            return luaL_error(L, "net.listen: port %s is not in 1-65535", lua_tostring(L, 2));
        port = static_cast<uint16_t>(p);
    }
    Kind kind = Kind::dns;
    bool freebind = false;
    if (!lua_isnoneornil(L, 3)) {
        if (!lua_istable(L, 3))
            return luaL_error(L, "net.listen: third argument must be a table like {kind = 'tls'}");
        lua_getfield(L, 3, "kind");
        if (!lua_isnil(L, -1)) {
            std::string k = check_string(L, -1, "net.listen kind");
            bool alias = false;
            auto parsed = activation::parse_kind(k, &alias);
            if (!parsed)
                return luaL_error(L, "net.listen: unknown kind '%s' (dns, tls, doh2, control)",
                                  k.c_str());
            if (alias) KR_LOG(warning, "net", "kind 'doh' is treated as 'doh2'");
            kind = *parsed;
        }
        lua_pop(L, 1);
        lua_getfield(L, 3, "freebind");
        freebind = lua_toboolean(L, -1);
        lua_pop(L, 1);
        // Knot Resolver 5's {kind = 'doh2', tls = false}: HTTP/2 in the
        // clear, behind a proxy that does TLS. Not served: say so rather
        // than speak TLS to a proxy that does not expect it.
        lua_getfield(L, 3, "tls");
        const bool cleartext = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (cleartext && kind == Kind::doh2)
            return luaL_error(L, "net.listen: kind 'doh2' with tls = false (HTTP/2 without "
                                 "TLS) is not supported; give kresd the certificate with "
                                 "net.tls() instead");
    }
    if (addrs.empty()) return luaL_error(L, "net.listen: no address given");
    for (const auto& a : addrs) {
        try {
            if (kind == Kind::control)
                e.host().endpoints->listen_control(a);
            else
                e.host().endpoints->listen(a, port, kind, freebind);
        } catch (const std::exception& ex) {
            return luaL_error(L, "%s", ex.what());
        }
    }
    lua_pushboolean(L, 1);
    return 1;
}

int l_close(lua_State* L)
{
    Engine& e = engine_of(L);
    std::string addr = check_string(L, 1, "net.close");
    uint16_t port = static_cast<uint16_t>(luaL_optinteger(L, 2, 0));
    if (auto parsed = net::parse_ip(addr, port)) addr = parsed->ip(); // normalise the spelling
    lua_pushboolean(L, e.host().endpoints->close(addr, port) > 0);
    return 1;
}

int l_list(lua_State* L)
{
    Engine& e = engine_of(L);
    auto list = e.host().endpoints->list();
    lua_createtable(L, static_cast<int>(list.size()), 0);
    int i = 0;
    for (const auto& ep : list) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, activation::kind_name(ep.kind));
        lua_setfield(L, -2, "kind");
        lua_createtable(L, 0, 5);
        lua_pushstring(L, ep.family.c_str());
        lua_setfield(L, -2, "family");
        lua_pushstring(L, ep.protocol.c_str());
        lua_setfield(L, -2, "protocol");
        if (ep.family == "unix") {
            lua_pushstring(L, ep.path.c_str());
            lua_setfield(L, -2, "path");
        } else {
            lua_pushstring(L, ep.ip.c_str());
            lua_setfield(L, -2, "ip");
            lua_pushinteger(L, ep.port);
            lua_setfield(L, -2, "port");
            lua_pushboolean(L, ep.freebind);
            lua_setfield(L, -2, "freebind");
        }
        lua_setfield(L, -2, "transport");
        lua_pushboolean(L, ep.inherited);
        lua_setfield(L, -2, "inherited");
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

int l_interfaces(lua_State* L)
{
    ifaddrs* ifa = nullptr;
    if (getifaddrs(&ifa) != 0) return luaL_error(L, "net.interfaces: getifaddrs failed");
    lua_newtable(L);
    for (ifaddrs* i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        lua_getfield(L, -1, i->ifa_name);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_newtable(L);
            lua_setfield(L, -2, "addr");
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, i->ifa_name);
        }
        int fam = i->ifa_addr->sa_family;
        if (fam == AF_INET || fam == AF_INET6) {
            auto a = net::from_sockaddr(i->ifa_addr, fam == AF_INET ? sizeof(sockaddr_in)
                                                                     : sizeof(sockaddr_in6));
            lua_getfield(L, -1, "addr");
            lua_pushstring(L, a.ip().c_str());
            lua_rawseti(L, -2, static_cast<int>(lua_objlen(L, -2)) + 1);
            lua_pop(L, 1);
        }
#if defined(__linux__)
        if (fam == AF_PACKET) {
            auto* ll = reinterpret_cast<sockaddr_ll*>(i->ifa_addr);
            char mac[3 * 8] = "";
            int n = 0;
            for (int b = 0; b < ll->sll_halen && b < 8; ++b)
                n += snprintf(mac + n, sizeof(mac) - n, b ? ":%02x" : "%02x", ll->sll_addr[b]);
            lua_pushstring(L, mac);
            lua_setfield(L, -2, "mac");
        }
#endif
        lua_pop(L, 1);
    }
    freeifaddrs(ifa);
    return 1;
}

int l_bufsize(lua_State* L)
{
    Engine& e = engine_of(L);
    if (!lua_isnoneornil(L, 1)) {
        lua_Integer n = luaL_checkinteger(L, 1);
        if (n < 512 || n > 65535)
            return luaL_error(L, "net.bufsize: %d is not in 512-65535", static_cast<int>(n));
        e.settings().edns_bufsize = static_cast<uint16_t>(n);
        if (e.host().serve) e.host().serve->udp_max_answer = static_cast<size_t>(n);
    }
    lua_pushinteger(L, e.settings().edns_bufsize);
    return 1;
}

int outgoing(lua_State* L, bool v6)
{
    Engine& e = engine_of(L);
    std::string& slot = v6 ? e.settings().outgoing_v6 : e.settings().outgoing_v4;
    if (lua_gettop(L) >= 1) {
        if (lua_isnil(L, 1)) {
            slot.clear();
        } else {
            std::string a = check_string(L, 1, v6 ? "net.outgoing_v6" : "net.outgoing_v4");
            auto parsed = net::parse_ip(a, 0);
            if (!parsed || parsed->family() != (v6 ? AF_INET6 : AF_INET))
                return luaL_error(L, "net.outgoing_v%d: '%s' is not an IPv%d address", v6 ? 6 : 4,
                                  a.c_str(), v6 ? 6 : 4);
            slot = parsed->ip();
        }
    }
    if (slot.empty())
        lua_pushnil(L);
    else
        lua_pushstring(L, slot.c_str());
    return 1;
}
int l_outgoing_v4(lua_State* L) { return outgoing(L, false); }
int l_outgoing_v6(lua_State* L) { return outgoing(L, true); }

// net.ipv4 / net.ipv6 read and set; net.<ifname> returns the interface;
// net[n] = addr (from `net = {'127.0.0.1'}`) listens on addr.
int l_index(lua_State* L)
{
    Engine& e = engine_of(L);
    std::string key = lua_isstring(L, 2) ? lua_tostring(L, 2) : "";
    if (key == "ipv4" || key == "ipv6") {
        lua_pushboolean(L, key == "ipv4" ? e.settings().ipv4 : e.settings().ipv6);
        return 1;
    }
    if (key.empty()) return 0;
    l_interfaces(L);
    lua_getfield(L, -1, key.c_str());
    return 1;
}

int l_newindex(lua_State* L)
{
    Engine& e = engine_of(L);
    if (lua_type(L, 2) == LUA_TSTRING) {
        std::string key = lua_tostring(L, 2);
        if (key == "ipv4" || key == "ipv6") {
            (key == "ipv4" ? e.settings().ipv4 : e.settings().ipv6) = lua_toboolean(L, 3);
            return 0;
        }
    }
    if (lua_type(L, 2) == LUA_TNUMBER) {
        // An interface name listens on its addresses.
        if (lua_type(L, 3) == LUA_TSTRING && !net::parse_ip(lua_tostring(L, 3), 0)) {
            l_interfaces(L);
            lua_getfield(L, -1, lua_tostring(L, 3));
            if (!lua_isnil(L, -1)) lua_replace(L, 3);
        }
        lua_pushcfunction(L, &l_listen);
        lua_pushvalue(L, 3);
        lua_call(L, 1, 0);
        return 0;
    }
    lua_rawset(L, 1);
    return 0;
}

} // namespace

void bind_net(lua_State* L)
{
    const luaL_Reg fns[] = {{"listen", l_listen},         {"close", l_close},
                            {"list", l_list},             {"interfaces", l_interfaces},
                            {"bufsize", l_bufsize},       {"outgoing_v4", l_outgoing_v4},
                            {"outgoing_v6", l_outgoing_v6}};
    lua_newtable(L);
    for (const auto& f : fns) {
        lua_pushcfunction(L, f.func);
        lua_setfield(L, -2, f.name);
    }
    lua_newtable(L);
    lua_pushcfunction(L, l_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_setglobal(L, "net");
}

} // namespace kresd::lua
