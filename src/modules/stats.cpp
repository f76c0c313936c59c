// stats: answer counters readable from Lua, under Knot Resolver's names
// (stats.get('answer.total'), stats.list('answer'), stats.set(key, n)).
#include <lua.hpp>
#include <map>
#include <string>

#include "modules/lua_table.hpp"
#include "modules/builtin.hpp"

namespace kresd::modules {

namespace {

class Stats final : public Module {
public:
    Stats()
    {
        for (const char* k : {"answer.total", "answer.noerror", "answer.nodata", "answer.nxdomain",
                              "answer.servfail", "answer.refused", "answer.formerr",
                              "answer.notimp", "query.edns", "query.dnssec"})
            counters_[k] = 0;
    }

    const char* name() const override { return "stats"; }

    void on_answer(const dns::Query& q, bool query_ok, uint16_t rcode,
                   dns::ResponseBuilder& out) override
    {
        ++counters_["answer.total"];
        switch (rcode) {
        case dns::rcode::NOERROR:
            ++counters_["answer.noerror"];
            if (query_ok && out.count(dns::Section::answer) == 0) ++counters_["answer.nodata"];
            break;
        case dns::rcode::NXDOMAIN: ++counters_["answer.nxdomain"]; break;
        case dns::rcode::SERVFAIL: ++counters_["answer.servfail"]; break;
        case dns::rcode::REFUSED: ++counters_["answer.refused"]; break;
        case dns::rcode::FORMERR: ++counters_["answer.formerr"]; break;
        case dns::rcode::NOTIMP: ++counters_["answer.notimp"]; break;
        default: break;
        }
        if (query_ok && q.edns.present) ++counters_["query.edns"];
        if (query_ok && q.edns.do_bit) ++counters_["query.dnssec"];
    }

    void bind_lua(lua_State* L) override
    {
        publish_table(L, "stats", this,
                      {{"get", &Stats::l_get}, {"set", &Stats::l_set}, {"list", &Stats::l_list}});
    }

private:
    static Stats* self(lua_State* L)
    {
        return static_cast<Stats*>(lua_touserdata(L, lua_upvalueindex(1)));
    }
    static int l_get(lua_State* L)
    {
        const char* key = luaL_checkstring(L, 1);
        auto& c = self(L)->counters_;
        auto it = c.find(key);
        if (it == c.end())
            lua_pushnil(L);
        else
            lua_pushnumber(L, static_cast<lua_Number>(it->second));
        return 1;
    }
    static int l_set(lua_State* L)
    {
        const char* key = luaL_checkstring(L, 1);
        lua_Number v = luaL_checknumber(L, 2);
        if (v < 0) return luaL_error(L, "stats.set: value must not be negative");
        self(L)->counters_[key] = static_cast<uint64_t>(v);
        return 0;
    }
    static int l_list(lua_State* L)
    {
        std::string prefix = luaL_optstring(L, 1, "");
        lua_newtable(L);
        for (const auto& [k, v] : self(L)->counters_) {
            if (k.compare(0, prefix.size(), prefix) != 0) continue;
            lua_pushnumber(L, static_cast<lua_Number>(v));
            lua_setfield(L, -2, k.c_str());
        }
        return 1;
    }

    std::map<std::string, uint64_t> counters_;
};

} // namespace

std::unique_ptr<Module> make_stats() { return std::make_unique<Stats>(); }

} // namespace kresd::modules
