// The `worker` and `event` tables.
#include <lua.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include "lua/engine.hpp"

namespace kresd::lua {

namespace {

void set_num(lua_State* L, const char* key, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

// worker.stats(): counters of this process, under Knot Resolver's names.
int l_stats(lua_State* L)
{
    Engine& e = engine_of(L);
    const Host& h = e.host();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    lua_newtable(L);
    set_num(L, "queries", h.queries ? double(*h.queries) : 0);
    set_num(L, "dropped", h.dropped ? double(*h.dropped) : 0);
    set_num(L, "concurrent", h.concurrent ? double(*h.concurrent) : 0);
    set_num(L, "timeout", h.timeouts ? double(*h.timeouts) : 0);
    if (const net::NetStats* n = h.net_stats) {
        set_num(L, "udp", double(n->udp));
        set_num(L, "tcp", double(n->tcp));
        set_num(L, "tls", double(n->tls));
        set_num(L, "http", double(n->http));
        set_num(L, "ipv4", double(n->ipv4));
        set_num(L, "ipv6", double(n->ipv6));
        set_num(L, "err_udp", double(n->err_udp));
        set_num(L, "err_tcp", double(n->err_tcp));
        set_num(L, "err_tls", double(n->err_tls));
        set_num(L, "err_http", double(n->err_http));
    }
    set_num(L, "usertime", double(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6);
    set_num(L, "systime", double(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6);
    set_num(L, "pagefaults", double(ru.ru_majflt));
    set_num(L, "swaps", double(ru.ru_nswap));
    set_num(L, "csw", double(ru.ru_nvcsw + ru.ru_nivcsw));
#if defined(__APPLE__)
    set_num(L, "rss", double(ru.ru_maxrss)); // bytes on macOS
#else
    set_num(L, "rss", double(ru.ru_maxrss) * 1024);
#endif
    return 1;
}

// worker.id and worker.pid are plain fields; worker.count is the number of
// processes this one knows of (each instance is independent: 1).
void push_worker(lua_State* L)
{
    Engine& e = engine_of(L);
    lua_newtable(L);
    lua_pushstring(L, e.host().instance.c_str());
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, getpid());
    lua_setfield(L, -2, "pid");
    lua_pushinteger(L, 1);
    lua_setfield(L, -2, "count");
    lua_pushcfunction(L, l_stats);
    lua_setfield(L, -2, "stats");
    lua_setglobal(L, "worker");
}

int add_timer(lua_State* L, bool recurrent, const char* fn)
{
    Engine& e = engine_of(L);
    if (!lua_isnumber(L, 1)) return luaL_error(L, "%s: first argument must be a time in ms", fn);
    double ms = lua_tonumber(L, 1);
    if (ms < 0 || (recurrent && ms < 1))
        return luaL_error(L, "%s: time must be %s", fn, recurrent ? "at least 1 ms" : ">= 0");
    if (!lua_isfunction(L, 2)) return luaL_error(L, "%s: second argument must be a function", fn);
    lua_pushvalue(L, 2);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushinteger(L, e.add_timer(ref, ms, recurrent));
    return 1;
}
int l_after(lua_State* L) { return add_timer(L, false, "event.after"); }
int l_recurrent(lua_State* L) { return add_timer(L, true, "event.recurrent"); }
int l_cancel(lua_State* L)
{
    lua_pushboolean(L, engine_of(L).cancel_timer(static_cast<int>(luaL_checkinteger(L, 1))));
    return 1;
}

} // namespace

void bind_worker(lua_State* L)
{
    push_worker(L);
    const luaL_Reg fns[] = {{"after", l_after}, {"recurrent", l_recurrent}, {"cancel", l_cancel}};
    lua_newtable(L);
    for (const auto& f : fns) {
        lua_pushcfunction(L, f.func);
        lua_setfield(L, -2, f.name);
    }
    lua_setglobal(L, "event");
}

} // namespace kresd::lua
