// The `modules` table: load, unload and list built-in modules.
#include <lua.hpp>

#include "lua/engine.hpp"

namespace kresd::lua {

namespace {

int l_load(lua_State* L)
{
    Engine& e = engine_of(L);
    std::string spec = check_string(L, 1, "modules.load");
    // view: built into the policy (lua/view.lua); loading publishes `view`.
    std::string_view name = std::string_view(spec).substr(0, spec.find_first_of("<>"));
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (name == "view") {
        lua_getglobal(L, "__kresd_view_module");
        lua_setglobal(L, "view");
        if (e.host().policy) e.host().policy->set_views_on(true);
        lua_pushboolean(L, 1);
        return 1;
    }
    try {
        e.host().modules->load(spec, L);
    } catch (const std::exception& ex) {
        return luaL_error(L, "%s", ex.what());
    }
    lua_pushboolean(L, 1);
    return 1;
}

int l_unload(lua_State* L)
{
    Engine& e = engine_of(L);
    std::string name = check_string(L, 1, "modules.unload");
    if (name == "view") {
        // As 5.6: the views stop applying (they come back with
        // modules.load('view')); false when it was not loaded.
        lua_getglobal(L, "view");
        const bool loaded = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (loaded && e.host().policy) e.host().policy->set_views_on(false);
        lua_pushnil(L);
        lua_setglobal(L, "view");
        lua_pushboolean(L, loaded);
        return 1;
    }
    bool ok = e.host().modules->unload(name);
    if (ok) {
        lua_pushnil(L);
        lua_setglobal(L, name.c_str());
    }
    lua_pushboolean(L, ok);
    return 1;
}

int l_list(lua_State* L)
{
    Engine& e = engine_of(L);
    auto names = e.host().modules->list();
    lua_createtable(L, static_cast<int>(names.size()), 0);
    for (size_t i = 0; i < names.size(); ++i) {
        lua_pushstring(L, names[i].c_str());
        lua_rawseti(L, -2, static_cast<int>(i + 1));
    }
    return 1;
}

// modules[n] = 'name' (from `modules = {'nsid'}`) and modules.name = cfg load it.
int l_newindex(lua_State* L)
{
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_pushcfunction(L, l_load);
        lua_pushvalue(L, 3);
        lua_call(L, 1, 0);
        return 0;
    }
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushcfunction(L, l_load);
        lua_pushvalue(L, 2);
        lua_call(L, 1, 0);
        // A module with a config function gets the value, as in Knot Resolver.
        lua_getglobal(L, lua_tostring(L, 2));
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "config");
            if (lua_isfunction(L, -1)) {
                lua_pushvalue(L, 3);
                lua_call(L, 1, 0);
            } else {
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
        return 0;
    }
    return luaL_error(L, "modules: cannot assign to a key of type %s", luaL_typename(L, 2));
}

} // namespace

void bind_modules(lua_State* L)
{
    const luaL_Reg fns[] = {{"load", l_load}, {"unload", l_unload}, {"list", l_list}};
    lua_newtable(L);
    for (const auto& f : fns) {
        lua_pushcfunction(L, f.func);
        lua_setfield(L, -2, f.name);
    }
    lua_newtable(L);
    lua_pushcfunction(L, l_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_setglobal(L, "modules");
}

} // namespace kresd::lua
