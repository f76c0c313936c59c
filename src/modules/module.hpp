// Built-in modules: small pieces of behaviour a config switches on with
// modules.load('name'). A module sees each answer through on_answer(), after
// the answer's records are written and before the OPT record is.
//
// Hooks run in the order of the loaded list, which modules.load() keeps
// (including kresd's 'a > b' / 'a < b' placement syntax).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/wire.hpp"

struct lua_State;

namespace kresd::modules {

bool is_core_part(std::string_view name);

class Module {
public:
    virtual ~Module() = default;
    virtual const char* name() const = 0;
    // Bytes of EDNS options this module may add to an answer to `q`.
    virtual size_t option_reserve(const dns::Query&) const { return 0; }
    // Called for every answer; `rcode` is the answer's final RCODE.
    virtual void on_answer(const dns::Query& q, bool query_ok, uint16_t rcode,
                           dns::ResponseBuilder& out) = 0;
    // Publishes the module's Lua table (e.g. `nsid`) in the global scope.
    virtual void bind_lua(lua_State* L) = 0;
};

// Creates a built-in module by name; nullptr when there is none.
std::unique_ptr<Module> create(std::string_view name);
// Names of the built-in modules, for errors and help().
std::vector<std::string> builtin_names();

class Registry {
public:
    // spec: "name", "name > other" (after other) or "name < other" (before).
    // Throws std::runtime_error naming the problem. Loading a loaded module
    // again is a no-op, as in Knot Resolver. Names of parts that are built
    // into the daemon (iterate, cache, policy, hints) load nothing and return
    // nullptr; they are accepted as anchors too.
    Module* load(std::string_view spec, lua_State* L);
    bool unload(std::string_view name);
    std::vector<std::string> list() const;
    Module* find(std::string_view name) const;

    size_t option_reserve(const dns::Query& q) const;
    void on_answer(const dns::Query& q, bool query_ok, uint16_t rcode,
                   dns::ResponseBuilder& out) const;

private:
    std::vector<std::unique_ptr<Module>> loaded_;
    // Unloaded modules are kept: Lua closures may still point at them.
    std::vector<std::unique_ptr<Module>> retired_;
};

} // namespace kresd::modules
