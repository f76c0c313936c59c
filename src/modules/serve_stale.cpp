// serve_stale (Knot Resolver 5.6's module, built in): RFC 8767. With it
// loaded, every request may answer from expired cache data when upstream
// cannot (resolve::RequestOptions::serve_stale_s; the core's stale.cpp):
// data that expired at most a day ago, sent with TTL 1 and the Extended
// DNS Error 3 (Stale Answer), once no server could answer or after
// serve_stale.timeout (3 s, resolve::kStaleAfterMs). Refreshes (predict)
// never do.
//
// Lua: the table `serve_stale` with `timeout` (milliseconds; settable, as
// in 5.6: serve_stale.timeout = 1*sec; read by the following requests). 'serve_stale < cache' is
// accepted: the placement of built-in parts changes nothing.
#include <lua.hpp>
#include <string_view>

#include "modules/lua_table.hpp"
#include "modules/builtin.hpp"
#include "resolve/resolve.hpp"

namespace kresd::modules {

namespace {

constexpr uint32_t kMaxStaleS = 24 * 3600; // 5.6: "at most one day stale"

class ServeStale final : public Module {
  public:
    const char* name() const override { return "serve_stale"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}
    void bind_lua(lua_State* L) override {
        // `timeout` read and set through the module
        publish_table(L, "serve_stale", this, {}, l_index, l_newindex);
    }
    void adjust_request(resolve::RequestOptions& o) const override {
        o.serve_stale_s = kMaxStaleS;
        o.stale_after_ms = timeout_ms_;
    }

  private:
    static ServeStale* self(lua_State* L) {
        return static_cast<ServeStale*>(lua_touserdata(L, lua_upvalueindex(1)));
    }
    static int l_index(lua_State* L) {
        const char* k = lua_tostring(L, 2);
        if (!k || std::string_view(k) != "timeout") return 0;
        lua_pushnumber(L, self(L)->timeout_ms_);
        return 1;
    }
    static int l_newindex(lua_State* L) {
        const char* k = lua_tostring(L, 2);
        if (k && std::string_view(k) == "timeout") {
            const lua_Number v = lua_isnumber(L, 3) ? lua_tonumber(L, 3) : -1;
            if (v < 0 || v > 3600 * 1000)
                return luaL_error(L, "serve_stale.timeout must be milliseconds (e.g. 3*sec)");
            self(L)->timeout_ms_ = static_cast<uint32_t>(v);
            return 0;
        }
        lua_rawset(L, 1);
        return 0;
    }

    uint32_t timeout_ms_ = resolve::kStaleAfterMs;
};

} // namespace

std::unique_ptr<Module> make_serve_stale() {
    return std::make_unique<ServeStale>();
}

} // namespace kresd::modules
