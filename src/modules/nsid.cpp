// NSID (RFC 5001): names the server that answered. A query carrying an
// empty NSID option gets the configured identifier back in the same option;
// queries without it get nothing (RFC 5001 2.1). With several instances on
// one address, `nsid.name(os.getenv('SYSTEMD_INSTANCE'))` tells them apart.
#include <lua.hpp>
#include <optional>
#include <string>

#include "modules/builtin.hpp"

namespace kresd::modules {

namespace {

constexpr size_t kMaxNsid = 255; // keeps the OPT record small; RFC 5001 sets no bound

class Nsid final : public Module {
public:
    const char* name() const override { return "nsid"; }

    size_t option_reserve(const dns::Query& q) const override
    {
        return (q.edns.present && q.edns.nsid && id_) ? 4 + id_->size() : 0;
    }

    void on_answer(const dns::Query& q, bool query_ok, uint16_t, dns::ResponseBuilder& out) override
    {
        if (!query_ok || !q.edns.present || !q.edns.nsid || !id_) return;
        out.add_option(dns::edns_opt::NSID,
                       {reinterpret_cast<const uint8_t*>(id_->data()), id_->size()});
    }

    void bind_lua(lua_State* L) override
    {
        lua_newtable(L);
        lua_pushlightuserdata(L, this);
        lua_pushcclosure(L, &Nsid::l_name, 1);
        lua_setfield(L, -2, "name");
        lua_setglobal(L, "nsid");
    }

private:
    // nsid.name([identifier]): sets the identifier when given; returns it.
    static int l_name(lua_State* L)
    {
        auto* self = static_cast<Nsid*>(lua_touserdata(L, lua_upvalueindex(1)));
        if (lua_gettop(L) >= 1 && !lua_isnil(L, 1)) {
            size_t len = 0;
            const char* s = lua_tolstring(L, 1, &len);
            if (!s || lua_type(L, 1) == LUA_TBOOLEAN)
                return luaL_error(L, "nsid.name: expected a string, got %s", luaL_typename(L, 1));
            if (len > kMaxNsid)
                return luaL_error(L, "nsid.name: identifier longer than %d bytes", int(kMaxNsid));
            self->id_ = std::string(s, len);
        } else if (lua_gettop(L) >= 1) {
            self->id_.reset(); // nsid.name(nil) switches it off
        }
        if (self->id_)
            lua_pushlstring(L, self->id_->data(), self->id_->size());
        else
            lua_pushnil(L);
        return 1;
    }

    std::optional<std::string> id_;
};

} // namespace

std::unique_ptr<Module> make_nsid() { return std::make_unique<Nsid>(); }

} // namespace kresd::modules
