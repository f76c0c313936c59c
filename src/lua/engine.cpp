#include "lua/engine.hpp"

#include <event2/event.h>
#include <cstring>
#include <lua.hpp>

#include "net/event.hpp"
#include "util/log.hpp"

namespace kresd::lua {

namespace {

const char kEngineKey = 0; // its address keys the Engine* in the registry

// pcall message handler: makes sure the message says where in a config file
// the error happened, even when a C binding raised it.
int message_handler(lua_State* L)
{
    const char* msg = lua_tostring(L, 1);
    if (!msg) {
        lua_pushstring(L, "(error object is not a string)");
        return 1;
    }
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); ++level) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline <= 0 || ar.source[0] != '@') continue;
        // The prelude's own helpers (panic, env, the sandbox) are not where
        // the user's mistake is: look further up, and drop their position.
        std::string_view src(ar.source);
        if (src.ends_with("/prelude.lua") || src.ends_with("/policy.lua") ||
            src.ends_with("/view.lua")) {
            std::string prefix = std::string(ar.source + 1) + ":";
            if (std::string_view(msg).starts_with(prefix)) {
                const char* rest = std::strchr(msg + prefix.size(), ':');
                if (rest && rest[1] == ' ') msg = rest + 2;
            }
            continue;
        }
        std::string where = std::string(ar.source + 1) + ":";
        if (std::string_view(msg).find(where) == std::string_view::npos)
            lua_pushfstring(L, "%s%d: %s", where.c_str(), ar.currentline, msg);
        else
            lua_pushstring(L, msg);
        return 1;
    }
    lua_pushstring(L, msg);
    return 1;
}

// Runs the function on top of the stack in the config sandbox. Returns
// LUA_OK or an error code with the message on the stack.
int call_sandboxed(lua_State* L, int nresults)
{
    lua_getglobal(L, "__kresd_sandbox");
    if (lua_istable(L, -1))
        lua_setfenv(L, -2);
    else
        lua_pop(L, 1);
    int fn = lua_gettop(L);
    lua_pushcfunction(L, &message_handler);
    lua_insert(L, fn);
    int rc = lua_pcall(L, 0, nresults, fn);
    lua_remove(L, fn);
    return rc;
}

} // namespace

Engine& engine_of(lua_State* L)
{
    lua_pushlightuserdata(L, const_cast<char*>(&kEngineKey));
    lua_rawget(L, LUA_REGISTRYINDEX);
    auto* e = static_cast<Engine*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    return *e;
}

std::string check_string(lua_State* L, int idx, const char* fn)
{
    if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
        luaL_error(L, "%s: expected a string as argument %d, got %s", fn, idx, luaL_typename(L, idx));
    size_t len = 0;
    const char* s = lua_tolstring(L, idx, &len);
    return std::string(s, len);
}

struct Engine::Timer {
    Engine* engine = nullptr;
    int id = 0;
    int fn_ref = LUA_NOREF;
    bool recurrent = false;
    net::EventPtr ev;
};

Engine::Engine(Host host, const std::string& luadir) : host_(std::move(host))
{
    L_ = luaL_newstate();
    if (!L_) throw ConfigError("cannot create the Lua state (out of memory)");
    luaL_openlibs(L_);
    lua_pushlightuserdata(L_, const_cast<char*>(&kEngineKey));
    lua_pushlightuserdata(L_, this);
    lua_rawset(L_, LUA_REGISTRYINDEX);
    bind_net(L_);
    bind_tls(L_);
    bind_worker(L_);
    bind_modules(L_);
    bind_misc(L_);
    bind_policy(L_);
    bind_lua_rules(L_);
    bind_cache(L_);
    bind_trust_anchors(L_);
    for (const char* file : {"prelude.lua", "kres.lua", "policy.lua", "view.lua"}) {
        std::string path = luadir + "/" + file;
        if (luaL_dofile(L_, path.c_str()) != 0) {
            std::string msg = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "unknown error";
            throw ConfigError("cannot load " + path + ": " + msg);
        }
    }
    if (host_.policy) {
        host_.policy->set_pattern_matcher([this](const std::string& pattern,
                                                 std::span<const uint8_t> name) {
            int top = lua_gettop(L_);
            lua_getglobal(L_, "__kresd_policy_match");
            lua_pushlstring(L_, pattern.data(), pattern.size());
            lua_pushlstring(L_, reinterpret_cast<const char*>(name.data()), name.size());
            bool hit = lua_pcall(L_, 2, 1, 0) == 0 && lua_toboolean(L_, -1);
            lua_settop(L_, top);
            return hit;
        });
    }
}

Engine::~Engine()
{
    timers_.clear();
    if (L_) lua_close(L_);
}

void Engine::run_config(const std::string& path)
{
    if (luaL_loadfile(L_, path.c_str()) != 0) {
        std::string msg = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "unknown error";
        lua_pop(L_, 1);
        // "cannot open config" carries errno text; syntax errors carry file:line.
        throw ConfigError(msg);
    }
    if (call_sandboxed(L_, 0) != 0) {
        std::string msg = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "unknown error";
        lua_pop(L_, 1);
        throw ConfigError(msg);
    }
}

std::string Engine::eval(std::string_view line)
{
    std::string code = "return " + std::string(line);
    int top = lua_gettop(L_);
    if (luaL_loadbuffer(L_, code.data(), code.size(), "=control") != 0) {
        lua_pop(L_, 1);
        if (luaL_loadbuffer(L_, line.data(), line.size(), "=control") != 0) {
            std::string msg = lua_tostring(L_, -1);
            lua_settop(L_, top);
            return msg;
        }
    }
    if (call_sandboxed(L_, LUA_MULTRET) != 0) {
        std::string msg = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "error";
        lua_settop(L_, top);
        return msg;
    }
    if (host_.settings_changed) host_.settings_changed();
    int nres = lua_gettop(L_) - top;
    lua_getglobal(L_, "__kresd_format");
    lua_insert(L_, top + 1);
    std::string out;
    if (lua_pcall(L_, nres, 1, 0) == 0 && lua_isstring(L_, -1)) out = lua_tostring(L_, -1);
    else if (lua_isstring(L_, -1)) out = lua_tostring(L_, -1);
    lua_settop(L_, top);
    return out;
}

int Engine::add_timer(int fn_ref, double ms, bool recurrent)
{
    auto t = std::make_unique<Timer>();
    t->engine = this;
    t->id = next_timer_++;
    t->fn_ref = fn_ref;
    t->recurrent = recurrent;
    auto cb = [](evutil_socket_t, short, void* arg) {
        auto* timer = static_cast<Timer*>(arg);
        timer->engine->fire_timer(timer->id);
    };
    t->ev.reset(event_new(host_.base, -1, recurrent ? EV_PERSIST : 0, cb, t.get()));
    if (ms < 0) ms = 0;
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(static_cast<long>(ms) % 1000 * 1000)};
    event_add(t->ev.get(), &tv);
    int id = t->id;
    timers_[id] = std::move(t);
    return id;
}

bool Engine::cancel_timer(int id)
{
    auto it = timers_.find(id);
    if (it == timers_.end()) return false;
    luaL_unref(L_, LUA_REGISTRYINDEX, it->second->fn_ref);
    timers_.erase(it);
    return true;
}

void Engine::fire_timer(int id)
{
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    bool recurrent = it->second->recurrent;
    int top = lua_gettop(L_);
    lua_pushcfunction(L_, &message_handler);
    lua_rawgeti(L_, LUA_REGISTRYINDEX, it->second->fn_ref);
    lua_pushinteger(L_, id);
    if (lua_pcall(L_, 1, 0, top + 1) != 0)
        KR_LOG(err, "system", "error in event callback: %s", lua_tostring(L_, -1));
    lua_settop(L_, top);
    if (!recurrent) cancel_timer(id); // the callback may have cancelled it already
}

} // namespace kresd::lua
