// ta_sentinel: the root key trust anchor sentinel of RFC 8509, loaded by
// default as in Knot Resolver 5.6. The check itself is in the resolution
// core (RequestOptions::ta_sentinel, resolve/request.cpp): a validated
// A/AAAA answer for root-key-sentinel-is-ta-<tag>.<name> becomes SERVFAIL
// when the root's trust anchors lack the key with that tag, and one for
// root-key-sentinel-not-ta-<tag>.<name> when they have it. This module
// only switches it on for every request while it is loaded;
// modules.unload('ta_sentinel') switches it off.
#include <lua.hpp>

#include "modules/builtin.hpp"
#include "resolve/resolve.hpp"

namespace kresd::modules {

namespace {

class TaSentinel final : public Module {
  public:
    const char* name() const override { return "ta_sentinel"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}
    void adjust_request(resolve::RequestOptions& opts) const override { opts.ta_sentinel = true; }
    void bind_lua(lua_State* L) override {
        lua_newtable(L); // no configuration names, as in Knot Resolver
        lua_setglobal(L, "ta_sentinel");
    }
};

} // namespace

std::unique_ptr<Module> make_ta_sentinel() {
    return std::make_unique<TaSentinel>();
}

} // namespace kresd::modules
