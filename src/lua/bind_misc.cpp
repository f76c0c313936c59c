// Global functions: option(), verbose(), log_level(), user(), todname().
#include <grp.h>
#include <lua.hpp>
#include <pwd.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include "dns/wire.hpp"
#include "lua/engine.hpp"
#include "util/log.hpp"

namespace kresd::lua {

namespace {

// Knot Resolver 5's query flags that option() accepts.
constexpr const char* kOptionNames[] = {
    "NO_MINIMIZE", "NO_IPV6",     "NO_IPV4",      "TCP",         "NO_ANSWER",
    "RESOLVED",    "AWAIT_IPV4",  "AWAIT_IPV6",   "AWAIT_CUT",   "NO_EDNS",
    "CACHED",      "NO_CACHE",    "EXPIRING",     "ALLOW_LOCAL", "DNSSEC_WANT",
    "DNSSEC_BOGUS", "DNSSEC_INSECURE", "DNSSEC_CD", "STUB",       "ALWAYS_CUT",
    "DNSSEC_WEXPIRY", "PERMISSIVE", "STRICT",     "BADCOOKIE_AGAIN", "CNAME",
    "REORDER_RR",  "TRACE",       "NO_0X20",      "DNSSEC_NODS", "DNSSEC_OPTOUT",
    "NONAUTH",     "FORWARD",     "DNS64_MARK",   "CACHE_TRIED", "NO_NS_FOUND",
    "PKT_IS_SANE", "DNS64_DISABLE"};

int l_option(lua_State* L)
{
    Engine& e = engine_of(L);
    std::string name = check_string(L, 1, "option");
    if (!is_known_option(name)) return luaL_error(L, "option: unknown option '%s'", name.c_str());
    Settings& s = e.settings();
    if (lua_gettop(L) >= 2) {
        if (!lua_isboolean(L, 2)) return luaL_error(L, "option: second argument must be a boolean");
        bool on = lua_toboolean(L, 2);
        if (name == "NO_IPV4") s.ipv4 = !on;
        else if (name == "NO_IPV6") s.ipv6 = !on;
        else s.options[name] = on;
    }
    bool value = name == "NO_IPV4" ? !s.ipv4 : name == "NO_IPV6" ? !s.ipv6 : s.options[name];
    lua_pushboolean(L, value);
    return 1;
}

int l_verbose(lua_State* L)
{
    if (lua_gettop(L) >= 1)
        util::set_log_level(lua_toboolean(L, 1) ? util::Level::debug : util::Level::notice);
    lua_pushboolean(L, util::log_level() == util::Level::debug);
    return 1;
}

int l_log_level(lua_State* L)
{
    if (lua_gettop(L) >= 1) {
        std::string name = check_string(L, 1, "log_level");
        bool ok = false;
        util::Level l = util::parse_level(name, &ok);
        if (!ok)
            return luaL_error(L, "log_level: '%s' is not one of crit, err, warning, notice, "
                                 "info, debug", name.c_str());
        util::set_log_level(l);
    }
    lua_pushstring(L, util::level_name(util::log_level()));
    return 1;
}

// user(name[, group]): drops root privileges for good, as Knot Resolver does.
int l_user(lua_State* L)
{
    std::string user = check_string(L, 1, "user");
    errno = 0;
    passwd* pw = getpwnam(user.c_str());
    if (!pw) return luaL_error(L, "user: no such user '%s'", user.c_str());
    gid_t gid = pw->pw_gid;
    if (!lua_isnoneornil(L, 2)) {
        std::string grname = check_string(L, 2, "user");
        struct group* gr = getgrnam(grname.c_str());
        if (!gr) return luaL_error(L, "user: no such group '%s'", grname.c_str());
        gid = gr->gr_gid;
    }
    if (geteuid() == pw->pw_uid && getegid() == gid) {
        lua_pushboolean(L, 1); // already that user
        return 1;
    }
    if (geteuid() != 0) return luaL_error(L, "user: only root can switch to '%s'", user.c_str());
    if (auto& hook = engine_of(L).host().before_user_switch) hook(pw->pw_uid, gid);
    if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0)
        return luaL_error(L, "user: cannot switch to '%s': %s", user.c_str(), std::strerror(errno));
    KR_LOG(notice, "system", "running as user %s", user.c_str());
    lua_pushboolean(L, 1);
    return 1;
}

// todname('example.com') -> the name in wire format, as a Lua string.
int l_todname(lua_State* L)
{
    std::string text = check_string(L, 1, "todname");
    dns::Name n;
    if (!dns::name_from_text(text, n))
        return luaL_error(L, "todname: '%s' is not a domain name", text.c_str());
    lua_pushlstring(L, reinterpret_cast<const char*>(n.wire.data()), n.len);
    return 1;
}

} // namespace

bool is_known_option(const std::string& name)
{
    for (const char* n : kOptionNames)
        if (name == n) return true;
    return false;
}

void bind_misc(lua_State* L)
{
    const luaL_Reg fns[] = {{"option", l_option},   {"verbose", l_verbose},
                            {"log_level", l_log_level}, {"user", l_user},
                            {"todname", l_todname}};
    for (const auto& f : fns) {
        lua_pushcfunction(L, f.func);
        lua_setglobal(L, f.name);
    }
}

} // namespace kresd::lua
