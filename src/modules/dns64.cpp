// dns64: DNS64 (RFC 6147) as Knot Resolver 5.6's module of that name does
// it. Off until dns64.config() gives the prefix (no argument: 64:ff9b::).
//
// AAAA: a NOERROR answer of class IN without AAAA at the end of its CNAME
// chain (NODATA), or whose AAAA set has an address in an excluded subnet
// (then the whole set goes, as in Knot Resolver), is completed by asking A
// for the chain's last name with the same request options: each A becomes
// AAAA prefix(96 bits) + address, with the A's TTL capped by the TTL of the
// SOA in the AAAA answer, or by 600 s without one (RFC 6147 5.1.7). The
// chain and the authority section of the AAAA answer stay (so a
// synthesised answer carries the SOA, as Knot Resolver's does); the answer
// gets the Extended DNS Error 4 (Forged Answer) "BHD4: DNS64 synthesis",
// also when there was no A to convert. AD only when both answers were
// secure. Queries with CD are left alone (RFC 6147 5.5, as Knot Resolver:
// any CD, DO or not), and so are requests with FLAGS('DNS64_DISABLE').
// When the A question fails, the AAAA answer goes out as it was (without
// excluded addresses).
//
// Reverse: a query (any type) for a full 32-nibble name under the reverse
// zone of the prefix's first 96 bits gets a CNAME (TTL rev_ttl, default
// 60) to the in-addr.arpa name of its last 32 bits, followed like any
// CNAME. Other names under it are resolved as usual (Knot Resolver 5.6's
// code means to answer shorter ones NODATA and longer ones NXDOMAIN, but
// when it iterates they are resolved, and when it forwards they get
// SERVFAIL).
//
// Default exclusion: ::ffff:0:0/96 (RFC 6147 5.1.4). Knot Resolver 5.6
// writes it as '::ffff/96', which its parser reads as ::/96, so it passes
// IPv4-mapped AAAA through and drops IPv4-compatible ones.
#include <lua.hpp>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "modules/lua_table.hpp"
#include "modules/builtin.hpp"
#include "modules/subnet.hpp"
#include "resolve/resolve.hpp"

namespace kresd::modules {

namespace {

constexpr uint16_t kEdeForged = 4;
constexpr char kEdeText[] = "BHD4: DNS64 synthesis";
constexpr size_t kEdeReserve = 4 + 2 + sizeof(kEdeText) - 1;
constexpr uint32_t kTtlWithoutSoa = 600; // RFC 6147 5.1.7
constexpr size_t kNibbleLabels = 32;

bool same_name(std::span<const uint8_t> a, std::span<const uint8_t> b)
{
    return a.size() == b.size() && dns::name_in_zone(a, b);
}

struct SavedRr {
    std::vector<uint8_t> owner;
    uint16_t type = 0, klass = 0;
    uint32_t ttl = 0;
    std::vector<uint8_t> rdata;
};

SavedRr save(const dns::ResponseBuilder::WrittenRr& rr)
{
    return {{rr.owner.begin(), rr.owner.end()},
            rr.type,
            rr.klass,
            rr.ttl,
            {rr.rdata.begin(), rr.rdata.end()}};
}

// The type an RRSIG RDATA covers (RFC 4034 3.1).
uint16_t covered(std::span<const uint8_t> rdata)
{
    return rdata.size() >= 2 ? static_cast<uint16_t>((rdata[0] << 8) | rdata[1]) : 0;
}

void add_all(dns::ResponseBuilder& out, dns::Section s, const std::vector<SavedRr>& rrs)
{
    for (const SavedRr& r : rrs)
        if (!out.add_rr(s, r.owner, r.type, r.klass, r.ttl, r.rdata)) {
            out.set_tc(true);
            return;
        }
}

// The AAAA answer completed with synthesised records from the A answer.
class Synthesis final : public FollowUp {
public:
    std::array<uint8_t, 12> prefix{};
    std::vector<SavedRr> answer;    // the chain (and its RRSIGs), no AAAA
    std::vector<SavedRr> authority; // SOA and proofs, as they were
    uint32_t max_ttl = kTtlWithoutSoa;
    bool ad = false;

    void complete(const resolve::Request& done, dns::ResponseBuilder& out) override
    {
        add_all(out, dns::Section::answer, answer);
        const bool failed = done.rcode() != dns::rcode::NOERROR &&
                            done.rcode() != dns::rcode::NXDOMAIN;
        if (!failed) {
            for (const dns::Record& a : done.answer_records()) {
                if (a.type != dns::type::A || a.rdata.size() != 4) continue;
                std::array<uint8_t, 16> v6{};
                std::memcpy(v6.data(), prefix.data(), prefix.size());
                std::memcpy(v6.data() + 12, a.rdata.data(), 4);
                if (!out.add_rr(dns::Section::answer, a.owner.view(), dns::type::AAAA, a.klass,
                                std::min(a.ttl, max_ttl), v6)) {
                    out.set_tc(true);
                    break;
                }
            }
        }
        add_all(out, dns::Section::authority, authority);
        out.set_ad(ad && (failed || done.security() == dns::Security::secure));
        if (failed) return;
        const uint8_t* text = reinterpret_cast<const uint8_t*>(kEdeText);
        std::array<uint8_t, 2 + sizeof(kEdeText) - 1> ede{};
        ede[0] = 0;
        ede[1] = kEdeForged;
        std::memcpy(ede.data() + 2, text, sizeof(kEdeText) - 1);
        out.add_option(dns::edns_opt::EDE, ede);
    }
};

// The reverse name's CNAME, then whatever its target resolves to.
class ReverseAlias final : public FollowUp {
public:
    uint32_t ttl = 60;

    void complete(const resolve::Request& done, dns::ResponseBuilder& out) override
    {
        if (!out.add_rr(dns::Section::answer, out.question_name(), dns::type::CNAME, dns::klass::IN,
                        ttl, name.view())) {
            out.set_tc(true);
            return;
        }
        done.write_answer(out);
        out.set_ad(false); // the CNAME is ours, not signed by anyone
    }
};

int hex_nibble(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return 10 + c - 'a';
    return -1;
}

class Dns64 final : public Module {
public:
    const char* name() const override { return "dns64"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}
    size_t option_reserve(const dns::Query& q) const override
    {
        return on_ && q.qtype == dns::type::AAAA ? kEdeReserve : 0;
    }
    bool has_follow_ups() const override { return true; }

    std::unique_ptr<FollowUp> redirect(const dns::Query& q,
                                       const resolve::RequestOptions& opts) override
    {
        if (!on_ || opts.dns64_disable) return nullptr;
        const auto name = q.qname_lower.view();
        if (!dns::name_in_zone(name, rev_suffix_.view()) ||
            dns::name_labels(name) != dns::name_labels(rev_suffix_.view()) + 8)
            return nullptr;
        // The first eight labels are the IPv4 address's nibbles, lowest first.
        std::string v4;
        size_t pos = 0;
        std::array<int, 4> octets{};
        for (size_t i = 0; i < 8; ++i) {
            if (name[pos] != 1) return nullptr;
            const int n = hex_nibble(name[pos + 1]);
            if (n < 0) return nullptr;
            octets[i / 2] += i % 2 == 0 ? n : n * 16;
            pos += 2;
        }
        for (int o : octets) v4 += std::to_string(o) + ".";
        v4 += "in-addr.arpa.";
        auto f = std::make_unique<ReverseAlias>();
        if (!dns::name_from_text(v4, f->name)) return nullptr;
        f->type = q.qtype;
        f->ttl = rev_ttl_;
        return f;
    }

    std::unique_ptr<FollowUp> follow_up(const dns::Query& q, const resolve::RequestOptions& opts,
                                        const dns::ResponseBuilder& answer) override
    {
        if (!on_ || opts.dns64_disable || q.cd || q.qtype != dns::type::AAAA ||
            q.qclass != dns::klass::IN || answer.rcode() != dns::rcode::NOERROR)
            return nullptr;
        // The end of the CNAME chain (the answer writes it in order).
        dns::Name end = q.qname_lower;
        bool usable_aaaa = false, excluded = false;
        answer.for_each_rr([&](const dns::ResponseBuilder::WrittenRr& rr) {
            if (rr.section != dns::Section::answer) return;
            if (rr.type == dns::type::CNAME && same_name(rr.owner, end.view()) &&
                rr.rdata.size() <= dns::kMaxNameWire) {
                std::memcpy(end.wire.data(), rr.rdata.data(), rr.rdata.size());
                end.len = static_cast<uint8_t>(rr.rdata.size());
            }
        });
        answer.for_each_rr([&](const dns::ResponseBuilder::WrittenRr& rr) {
            if (rr.section != dns::Section::answer || rr.type != dns::type::AAAA ||
                !same_name(rr.owner, end.view()))
                return;
            usable_aaaa = true;
            for (const Subnet& s : exclude_)
                excluded = excluded || (rr.rdata.size() == 16 && s.contains(rr.rdata));
        });
        if (usable_aaaa && !excluded) return nullptr;
        auto f = std::make_unique<Synthesis>();
        std::memcpy(f->prefix.data(), prefix_.data(), f->prefix.size());
        f->ad = answer.ad();
        answer.for_each_rr([&](const dns::ResponseBuilder::WrittenRr& rr) {
            if (rr.section == dns::Section::answer) {
                const bool aaaa = rr.type == dns::type::AAAA ||
                                  (rr.type == dns::type::RRSIG && covered(rr.rdata) == dns::type::AAAA);
                if (!aaaa) f->answer.push_back(save(rr));
            } else if (rr.section == dns::Section::authority) {
                if (rr.type == dns::type::SOA && rr.klass == dns::klass::IN) f->max_ttl = rr.ttl;
                f->authority.push_back(save(rr));
            }
        });
        f->name = end;
        f->type = dns::type::A;
        return f;
    }

    void bind_lua(lua_State* L) override
    {
        publish_table(L, "dns64", this, {{"config", &Dns64::l_config}});
    }

private:
    // dns64.config(prefix | {prefix=, rev_ttl=, exclude_subnets={...}})
    static int l_config(lua_State* L)
    {
        auto* self = static_cast<Dns64*>(lua_touserdata(L, lua_upvalueindex(1)));
        const bool table = lua_istable(L, 1);
        auto field = [&](const char* key) {
            if (table)
                lua_getfield(L, 1, key);
            else if (std::strcmp(key, "prefix") == 0)
                lua_pushvalue(L, 1);
            else
                lua_pushnil(L);
        };
        field("prefix");
        std::string prefix = "64:ff9b::";
        if (!lua_isnoneornil(L, -1)) {
            // tostring(), as Knot Resolver: a boolean becomes "true".
            lua_getglobal(L, "tostring");
            lua_pushvalue(L, -2);
            lua_call(L, 1, 1);
            prefix = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        std::string addr = prefix;
        if (addr.size() > 3 && addr.compare(addr.size() - 3, 3, "/96") == 0)
            addr.resize(addr.size() - 3);
        auto p = parse_ip(addr);
        if (!p || !p->v6)
            return luaL_error(L, "[dns64] \"%s\" is not a valid IPv6 address", prefix.c_str());

        field("rev_ttl");
        uint32_t rev_ttl = 60;
        if (!lua_isnil(L, -1)) {
            const lua_Number n = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1;
            if (n < 0 || n > 0x7FFFFFFF || n != static_cast<lua_Number>(static_cast<uint32_t>(n)))
                return luaL_error(L, "[dns64] .rev_ttl must be a number of seconds");
            rev_ttl = static_cast<uint32_t>(n);
        }
        lua_pop(L, 1);

        field("exclude_subnets");
        std::vector<Subnet> exclude;
        if (lua_isnil(L, -1)) {
            exclude.push_back(*parse_subnet("::ffff:0:0/96"));
        } else if (!lua_istable(L, -1)) {
            return luaL_error(L, "[dns64] .exclude_subnets is not a table");
        } else {
            for (int i = 1;; ++i) {
                lua_rawgeti(L, -1, i);
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    break;
                }
                const char* text = lua_tostring(L, -1);
                auto s = text ? parse_subnet(text) : std::nullopt;
                if (!s || !s->v6)
                    return luaL_error(L, "[dns64] failed to parse IPv6 subnet: \"%s\"",
                                      text ? text : luaL_typename(L, -1));
                exclude.push_back(*s);
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);

        // The reverse zone of the first 96 bits: 24 nibble labels, lowest first.
        std::string rev;
        static const char kHex[] = "0123456789abcdef";
        for (int i = 11; i >= 0; --i) {
            rev += kHex[p->bytes[i] & 0x0F];
            rev += '.';
            rev += kHex[p->bytes[i] >> 4];
            rev += '.';
        }
        rev += "ip6.arpa.";
        dns::Name suffix;
        dns::name_from_text(rev, suffix);

        self->prefix_ = p->bytes;
        self->rev_ttl_ = rev_ttl;
        self->exclude_ = std::move(exclude);
        self->rev_suffix_ = suffix;
        self->on_ = true;
        return 0;
    }

    bool on_ = false;
    std::array<uint8_t, 16> prefix_{};
    uint32_t rev_ttl_ = 60;
    std::vector<Subnet> exclude_;
    dns::Name rev_suffix_{};
};

} // namespace

std::unique_ptr<Module> make_dns64() { return std::make_unique<Dns64>(); }

} // namespace kresd::modules
