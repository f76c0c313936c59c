// A module's Lua table (e.g. `predict`): functions that close over the
// module (upvalue 1, a light userdata), and optionally a metatable whose
// __index / __newindex read and set live fields through the module.
#pragma once

#include <initializer_list>
#include <lua.hpp>

namespace kresd::modules {

inline void publish_table(lua_State* L, const char* global, void* self,
                          std::initializer_list<luaL_Reg> fns, lua_CFunction index = nullptr,
                          lua_CFunction newindex = nullptr)
{
    lua_newtable(L);
    for (const luaL_Reg& f : fns) {
        lua_pushlightuserdata(L, self);
        lua_pushcclosure(L, f.func, 1);
        lua_setfield(L, -2, f.name);
    }
    if (index != nullptr || newindex != nullptr) {
        lua_newtable(L);
        for (auto [name, fn] : {std::pair{"__index", index}, std::pair{"__newindex", newindex}}) {
            if (fn == nullptr)
                continue;
            lua_pushlightuserdata(L, self);
            lua_pushcclosure(L, fn, 1);
            lua_setfield(L, -2, name);
        }
        lua_setmetatable(L, -2);
    }
    lua_setglobal(L, global);
}

} // namespace kresd::modules
