// rebinding: DNS rebinding protection, as Knot Resolver 5.6's module of that
// name (loaded there as 'rebinding < iterate'; the placement does not
// matter here). It has no settings: while it is loaded, every request
// starts with RequestOptions::rebinding, and the resolution core refuses
// upstream replies that carry private or special addresses before anything
// in them is used or cached (resolve/rebinding.hpp has the list and the
// answer: REFUSED, EDE 18 "EIM4", TXT "blocked by DNS rebinding
// protection"). Answers from forwarders (policy.FORWARD) are checked like
// any other; requests with ALLOW_LOCAL (option() or policy.FLAGS) are not,
// nor are answers from the cache or from local data (hints).
#include <lua.hpp>

#include "modules/builtin.hpp"
#include "resolve/resolve.hpp"

namespace kresd::modules {

namespace {

class Rebinding final : public Module {
public:
    const char* name() const override { return "rebinding"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}
    void adjust_request(resolve::RequestOptions& opts) const override { opts.rebinding = true; }
    void bind_lua(lua_State* L) override
    {
        lua_newtable(L); // no configuration names, as in Knot Resolver
        lua_setglobal(L, "rebinding");
    }
};

} // namespace

std::unique_ptr<Module> make_rebinding() { return std::make_unique<Rebinding>(); }

} // namespace kresd::modules
