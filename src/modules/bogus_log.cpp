// bogus_log: logs every answer that failed DNSSEC validation, and counts
// them; not loaded by default (as in Knot Resolver 5.6): modules.load
// ('bogus_log'). One line per failure, in Knot Resolver's words:
//
//     [dnssec] validation failure: www.dsbad.example. A
//
// Here the name and type are the client's question (Knot Resolver names the
// query that failed, which may be a DNSKEY or DS fetch on the way).
// bogus_log.frequent() lists the most frequent ones as Knot Resolver does:
// { {count = 3, name = 'www.dsbad.example.', type = 'A'}, ... }.
#include <algorithm>
#include <lua.hpp>

#include "modules/builtin.hpp"
#include "modules/dnssec_modules.hpp"
#include "util/log.hpp"

namespace kresd::modules {

namespace {

std::string type_text(uint16_t t) {
    switch (t) {
    case dns::type::A:
        return "A";
    case dns::type::NS:
        return "NS";
    case dns::type::CNAME:
        return "CNAME";
    case dns::type::SOA:
        return "SOA";
    case dns::type::PTR:
        return "PTR";
    case dns::type::MX:
        return "MX";
    case dns::type::TXT:
        return "TXT";
    case dns::type::AAAA:
        return "AAAA";
    case dns::type::SRV:
        return "SRV";
    case dns::type::DNAME:
        return "DNAME";
    case dns::type::DS:
        return "DS";
    case dns::type::RRSIG:
        return "RRSIG";
    case dns::type::NSEC:
        return "NSEC";
    case dns::type::DNSKEY:
        return "DNSKEY";
    case dns::type::NSEC3:
        return "NSEC3";
    case dns::type::ANY:
        return "ANY";
    default:
        return "TYPE" + std::to_string(t);
    }
}

class BogusLog final : public Module {
  public:
    const char* name() const override { return "bogus_log"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}

    void on_resolved(const dns::Query& q, const resolve::Request& req) override {
        if (!is_bogus_answer(req.rcode(), req.ede_code(), req.security())) return;
        const std::string name = dns::name_to_text(q.qname_lower.view());
        KR_LOG(notice, "dnssec", "validation failure: %s %s", name.c_str(),
               type_text(q.qtype).c_str());
        counter_.add(name, q.qtype);
    }

    void bind_lua(lua_State* L) override {
        lua_newtable(L);
        lua_pushlightuserdata(L, this);
        lua_pushcclosure(L, &BogusLog::l_frequent, 1);
        lua_setfield(L, -2, "frequent");
        lua_setglobal(L, "bogus_log");
    }

  private:
    // bogus_log.frequent(): { {count, name, type}, ... }, most frequent first.
    static int l_frequent(lua_State* L) {
        auto* self = static_cast<BogusLog*>(lua_touserdata(L, lua_upvalueindex(1)));
        const auto list = self->counter_.frequent();
        lua_createtable(L, static_cast<int>(list.size()), 0);
        for (size_t i = 0; i < list.size(); ++i) {
            lua_createtable(L, 0, 3);
            lua_pushnumber(L, static_cast<lua_Number>(list[i].count));
            lua_setfield(L, -2, "count");
            lua_pushstring(L, list[i].name.c_str());
            lua_setfield(L, -2, "name");
            lua_pushstring(L, type_text(list[i].type).c_str());
            lua_setfield(L, -2, "type");
            lua_rawseti(L, -2, static_cast<int>(i + 1));
        }
        return 1;
    }

    BogusCounter counter_;
};

} // namespace

bool is_bogus_answer(uint16_t rcode, std::optional<uint16_t> ede, dns::Security sec) {
    if (sec == dns::Security::bogus) return true;
    // RFC 8914 4.7-4.13: DNSSEC Bogus, Signature Expired, Signature Not Yet
    // Valid, DNSKEY Missing, RRSIGs Missing, No Zone Key Bit Set, NSEC Missing.
    return rcode == dns::rcode::SERVFAIL && ede && *ede >= 6 && *ede <= 12;
}

void BogusCounter::add(const std::string& name, uint16_t type) {
    auto key = std::make_pair(name, type);
    auto it = counts_.find(key);
    if (it != counts_.end()) {
        ++it->second;
        return;
    }
    if (capacity_ == 0) return;
    if (counts_.size() >= capacity_) {
        auto least =
            std::min_element(counts_.begin(), counts_.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
        counts_.erase(least);
    }
    counts_.emplace(std::move(key), 1);
}

std::vector<BogusCounter::Entry> BogusCounter::frequent(size_t limit) const {
    std::vector<Entry> out;
    out.reserve(counts_.size());
    for (const auto& [key, n] : counts_)
        out.push_back({key.first, key.second, n});
    std::stable_sort(out.begin(), out.end(),
                     [](const Entry& a, const Entry& b) { return a.count > b.count; });
    if (out.size() > limit) out.resize(limit);
    return out;
}

std::unique_ptr<Module> make_bogus_log() {
    return std::make_unique<BogusLog>();
}

} // namespace kresd::modules
