// refuse_nord: a query without RD (recursion desired) is refused, loaded by
// default as in Knot Resolver 5.6. The answer is REFUSED with the Extended
// DNS Error 20 (Not Authoritative, RFC 8914 4.21) and Knot Resolver's text
// 'ABC4' (with EDNS only); nothing else is asked first, not the cache nor
// the local hints. modules.unload('refuse_nord') answers such queries again.
//
// Knot Resolver runs it after its policy rules, which may have written an
// answer already (localhost, policy.DENY): it keeps their records and EDE
// and only changes the RCODE to REFUSED. Here every RD=0 query gets the
// same empty REFUSED answer.
#include <lua.hpp>

#include "modules/builtin.hpp"

namespace kresd::modules {

namespace {

constexpr uint16_t kEdeNotAuthoritative = 20;
constexpr uint8_t kEde[] = {0, kEdeNotAuthoritative, 'A', 'B', 'C', '4'};

class RefuseNord final : public Module {
public:
    const char* name() const override { return "refuse_nord"; }
    size_t option_reserve(const dns::Query& q) const override
    {
        return !q.rd && q.edns.present ? 4 + sizeof(kEde) : 0;
    }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}
    bool answer_early(const dns::Query& q, dns::ResponseBuilder& out) override
    {
        if (q.rd) return false;
        out.set_rcode(dns::rcode::REFUSED);
        if (q.edns.present) out.add_option(dns::edns_opt::EDE, kEde);
        return true;
    }
    void bind_lua(lua_State* L) override
    {
        lua_newtable(L); // no configuration names, as in Knot Resolver
        lua_setglobal(L, "refuse_nord");
    }
};

} // namespace

std::unique_ptr<Module> make_refuse_nord() { return std::make_unique<RefuseNord>(); }

} // namespace kresd::modules
