// Private to src/lua: Lua-function rules and actions, and where
// __kresd_policy_add() puts a rule (bind_policy.cpp builds the typed rule,
// bind_lua_rules.cpp places it and runs the Lua parts per query).
#pragma once

#include "policy/policy.hpp"

struct lua_State;

namespace kresd::lua {

// policy.add(function(req, query) ... end): a rule whose filter is the
// function at `idx` (kept in the registry for the life of the state).
policy::Rule lua_filter_rule(lua_State* L, int idx);
// A custom action function(state, req) at `idx`.
policy::Action lua_action(lua_State* L, int idx);
// An action description table (or function) at `idx` (bind_policy.cpp);
// raises a Lua error when it is not one.
policy::Action read_action(lua_State* L, int idx);
// Puts `r` where argument 2 of __kresd_policy_add says: nil or false: the
// rules; true: the postrules; {view = 'addr', subnet = S, dst = bool} or
// {view = 'tsig', key = WIRE}: a view. Pushes the rule's id; returns 1.
int place_rule(lua_State* L, policy::Rule r);

} // namespace kresd::lua
