// workarounds: quirks for broken authoritative servers, as Knot Resolver
// 5.6's module of that name. workarounds.config() (no options; loading the
// module alone does nothing, as there) adds the rule
//
//   policy.add(policy.suffix(policy.FLAGS('NO_0X20'), {names}))
//
// for Knot Resolver's list of zones whose servers answer a query whose
// name's case was randomised wrongly (DNS-OARC's DVE-2017-0003 and
// DVE-2017-0006). The flag is stored in RequestOptions::no_0x20. kresd
// does not randomise the case of names it sends (the 0x20 defence) yet, so
// the rule changes nothing today; it is there for when the core does.
#include <lua.hpp>

#include "modules/builtin.hpp"

namespace kresd::modules {

namespace {

constexpr char kConfig[] = R"lua(
return function()
	policy.add(policy.suffix(policy.FLAGS('NO_0X20'), {
		-- DVE-2017-0003
		todname('avqs.mcafee.com'), todname('avts.mcafee.com'),
		-- DVE-2017-0006 (the zones of ns1/ns3.panthercdn.com)
		todname('cdnga.com'), todname('cdngc.com'), todname('cdngd.com'),
		todname('cdngl.com'), todname('cdngm.com'),
		todname('cdngc.net'), todname('panthercdn.com'),
		todname('magazine-fashion.net.'),
	}))
end
)lua";

class Workarounds final : public Module {
public:
    const char* name() const override { return "workarounds"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}
    void bind_lua(lua_State* L) override
    {
        lua_newtable(L);
        if (luaL_loadbuffer(L, kConfig, sizeof(kConfig) - 1, "=workarounds") == 0 &&
            lua_pcall(L, 0, 1, 0) == 0)
            lua_setfield(L, -2, "config");
        else
            lua_pop(L, 1); // cannot happen: the chunk is fixed
        lua_setglobal(L, "workarounds");
    }
};

} // namespace

std::unique_ptr<Module> make_workarounds() { return std::make_unique<Workarounds>(); }

} // namespace kresd::modules
