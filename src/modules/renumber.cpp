// renumber: rewrites addresses in answers, as Knot Resolver 5.6's module of
// that name: renumber.config({{'10.10.10.0/24', '192.168.1.0'}, ...}).
//
// Each rule is a subnet and a target address; the target's family (a ':'
// means IPv6) says which records the rule looks at (A or AAAA). For each
// A/AAAA record of the answer section the first rule whose subnet holds
// the address applies: the address keeps its bits after the prefix and
// takes the target's before it ('10.10.10.0/24' -> '192.168.1.0' turns
// 10.10.10.5 into 192.168.1.5); a target ending in '!' replaces the whole
// address ('192.168.1.1!'). Rules add up over config() calls.
//
// Every answer is looked at (from the cache, resolution, local data or
// policy). When a record changed, the answer keeps only its answer
// section without RRSIGs (rewritten data cannot validate), as Knot
// Resolver rebuilds it; AD is cleared and the Extended DNS Error 4 (Forged
// Answer) "DUQR" is added. (Knot Resolver 5.6 means to add that EDE, but
// its rebuilt answer loses the OPT record altogether: no EDNS, no EDE, and
// it keeps AD.)
#include <lua.hpp>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "modules/builtin.hpp"
#include "modules/subnet.hpp"

namespace kresd::modules {

namespace {

constexpr uint8_t kEde[] = {0, 4, 'D', 'U', 'Q', 'R'}; // Forged Answer

struct Rule {
    Subnet subnet;
    Subnet target;
    bool exact = false;
};

class Renumber final : public Module {
public:
    const char* name() const override { return "renumber"; }
    size_t option_reserve(const dns::Query& q) const override
    {
        return rules_.empty() || !q.edns.present ? 0 : 4 + sizeof(kEde);
    }

    void on_answer(const dns::Query&, bool query_ok, uint16_t, dns::ResponseBuilder& out) override
    {
        if (rules_.empty() || !query_ok || out.count(dns::Section::answer) == 0) return;
        bool changed = false;
        out.for_each_rr([&](const dns::ResponseBuilder::WrittenRr& rr) {
            if (rr.section != dns::Section::answer ||
                (rr.type != dns::type::A && rr.type != dns::type::AAAA))
                return;
            for (const Rule& r : rules_) {
                const uint16_t type = r.target.v6 ? dns::type::AAAA : dns::type::A;
                if (rr.type != type || !r.subnet.contains(rr.rdata)) continue;
                changed = true;
                if (r.target.size() == rr.rdata.size()) { // else kept, as Knot Resolver
                    std::array<uint8_t, 16> addr{};
                    std::memcpy(addr.data(), rr.rdata.data(), rr.rdata.size());
                    merge(r, addr);
                    out.rewrite_rdata(rr, {addr.data(), rr.rdata.size()});
                }
                break;
            }
        });
        if (!changed) return;
        out.remove_rrs([](const dns::ResponseBuilder::WrittenRr& rr) {
            return rr.section != dns::Section::answer || rr.type == dns::type::RRSIG;
        });
        out.set_ad(false);
        out.add_option(dns::edns_opt::EDE, kEde);
    }

    void bind_lua(lua_State* L) override
    {
        lua_newtable(L);
        lua_pushlightuserdata(L, this);
        lua_pushcclosure(L, &Renumber::l_config, 1);
        lua_setfield(L, -2, "config");
        lua_setglobal(L, "renumber");
    }

private:
    // The target's bits up to the rule's prefix length, or all of them.
    static void merge(const Rule& r, std::array<uint8_t, 16>& addr)
    {
        const size_t n = r.target.size();
        const unsigned bits = r.exact ? static_cast<unsigned>(n * 8) : r.subnet.bits;
        for (size_t i = 0; i < n; ++i) {
            const int left = static_cast<int>(bits) - static_cast<int>(i * 8);
            if (left >= 8) {
                addr[i] = r.target.bytes[i];
            } else if (left > 0) {
                const auto mask = static_cast<uint8_t>(0xFF << (8 - left));
                addr[i] = static_cast<uint8_t>((r.target.bytes[i] & mask) | (addr[i] & ~mask));
            }
        }
    }

    // renumber.config({{subnet, target}, ...}); nil does nothing.
    static int l_config(lua_State* L)
    {
        auto* self = static_cast<Renumber*>(lua_touserdata(L, lua_upvalueindex(1)));
        if (lua_isnoneornil(L, 1)) return 0;
        bool shape = lua_istable(L, 1);
        if (shape) {
            lua_rawgeti(L, 1, 1);
            shape = lua_istable(L, -1);
            lua_pop(L, 1);
        }
        if (!shape) return luaL_error(L, "[renumber] expected { {prefix, target}, ... }");
        std::vector<Rule> add;
        for (int i = 1;; ++i) {
            lua_rawgeti(L, 1, i);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                break;
            }
            if (!lua_istable(L, -1))
                return luaL_error(L, "[renumber] expected { {prefix, target}, ... }");
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            const char* subnet = lua_tostring(L, -2);
            const char* target = lua_tostring(L, -1);
            if (!subnet) return luaL_error(L, "[renumber] invalid subnet: %s", luaL_typename(L, -2));
            if (!target) return luaL_error(L, "[renumber] invalid address: %s", luaL_typename(L, -1));
            Rule r;
            std::string t = target;
            if (auto bang = t.find('!'); bang != std::string::npos) {
                if (bang + 1 != t.size())
                    return luaL_error(L, "[renumber] \"!\" symbol in target is only accepted at "
                                         "the end of address");
                t.resize(bang);
                r.exact = true;
            }
            auto tgt = parse_ip(t);
            if (!tgt) return luaL_error(L, "[renumber] invalid address: %s", t.c_str());
            auto sub = parse_subnet(subnet);
            if (!sub) return luaL_error(L, "[renumber] invalid subnet: %s", subnet);
            r.subnet = *sub;
            r.target = *tgt;
            add.push_back(r);
            lua_pop(L, 3);
        }
        self->rules_.insert(self->rules_.end(), add.begin(), add.end());
        return 0;
    }

    std::vector<Rule> rules_;
};

} // namespace

std::unique_ptr<Module> make_renumber() { return std::make_unique<Renumber>(); }

} // namespace kresd::modules
