// The modules that change answers (src/modules/dns64.cpp, renumber.cpp,
// rebinding.cpp, workarounds.cpp, subnet.cpp): their Lua configuration,
// their decisions on written answers, and the answers they write, with the
// resolve test lab standing in for the resolver where a module needs a
// finished Request.
#include <arpa/inet.h>
#include <lua.hpp>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "catch.hpp"
#include "dns/ldns.hpp"
#include "lua/engine_fixture.hpp"
#include "modules/module.hpp"
#include "modules/subnet.hpp"
#include "policy/policy.hpp"
#include "resolve/lab.hpp"
#include "resolve/resolve.hpp"

using namespace kresd;
using namespace kresd::modules;
using resolve::test::lines;
using resolve::test::make_query;
using resolve::test::name_of;

namespace {

// Built-in modules loaded into a registry with a bare Lua state.
struct Mods {
    lua_State* L = luaL_newstate();
    Registry reg;
    Mods() { luaL_openlibs(L); }
    ~Mods() { lua_close(L); }
    Module* load(const char* spec) { return reg.load(spec, L); }
    // Runs a Lua chunk; "" or the error message.
    std::string lua(const std::string& code)
    {
        if (luaL_dostring(L, code.c_str()) == 0) return "";
        std::string err = lua_tostring(L, -1);
        lua_pop(L, 1);
        return err;
    }
};

std::vector<uint8_t> wire(const char* name)
{
    const auto n = name_of(name);
    return {n.wire.begin(), n.wire.begin() + n.len};
}

std::vector<uint8_t> ip(const char* text)
{
    std::vector<uint8_t> out(16);
    if (inet_pton(AF_INET, text, out.data()) == 1) {
        out.resize(4);
        return out;
    }
    REQUIRE(inet_pton(AF_INET6, text, out.data()) == 1);
    return out;
}

std::vector<uint8_t> soa(const char* zone)
{
    auto out = wire(zone);
    const auto rname = wire("host.invalid.");
    out.insert(out.end(), rname.begin(), rname.end());
    for (int i = 0; i < 5; ++i) out.insert(out.end(), {0, 0, 0x0e, 0x10});
    return out;
}

// An RRSIG covering `type`, enough of it for the modules (they look at the
// type covered only).
std::vector<uint8_t> rrsig(uint16_t type)
{
    std::vector<uint8_t> out = {uint8_t(type >> 8), uint8_t(type), 13, 2, 0, 0, 1, 0x2c};
    out.insert(out.end(), 12, 0);
    const auto signer = wire("example.");
    out.insert(out.end(), signer.begin(), signer.end());
    out.insert(out.end(), 64, 0xab);
    return out;
}

// One answer being built, as the worker hands it to the modules.
struct Answer {
    dns::Query q;
    std::vector<uint8_t> buf = std::vector<uint8_t>(4096);
    dns::ResponseBuilder b{buf, 4096};

    explicit Answer(const dns::Query& query, uint8_t rcode = dns::rcode::NOERROR) : q(query)
    {
        REQUIRE(b.begin(q, rcode, 256));
    }
    void add(dns::Section s, const char* owner, uint16_t type, uint32_t ttl,
             const std::vector<uint8_t>& rdata)
    {
        REQUIRE(b.add_rr(s, wire(owner), type, dns::klass::IN, ttl, rdata));
    }
    struct Parsed {
        lines answer, authority, additional;
        std::vector<std::pair<uint16_t, std::string>> ede;
        bool ad = false;
        uint16_t rcode = 0;
    };
    Parsed finish()
    {
        buf.resize(b.finish());
        auto pkt = dns::ldns::parse(buf);
        REQUIRE(pkt);
        const ldns_pkt* p = pkt->get();
        Parsed out;
        out.ad = ldns_pkt_ad(p);
        out.rcode = static_cast<uint16_t>(ldns_pkt_get_rcode(p));
        auto section = [](const ldns_rr_list* list, lines& to) {
            for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
                const ldns_rr* rr = ldns_rr_list_rr(list, i);
                std::string line = dns::ldns::take_text(ldns_rdf2str(ldns_rr_owner(rr)));
                line += " " + std::to_string(ldns_rr_ttl(rr)) + " " +
                        dns::ldns::take_text(ldns_rr_type2str(ldns_rr_get_type(rr)));
                for (size_t j = 0; j < ldns_rr_rd_count(rr) && j < 1; ++j)
                    line += " " + dns::ldns::take_text(ldns_rdf2str(ldns_rr_rdf(rr, j)));
                to.push_back(line);
            }
        };
        section(ldns_pkt_answer(p), out.answer);
        section(ldns_pkt_authority(p), out.authority);
        section(ldns_pkt_additional(p), out.additional);
        const auto opts = dns::ldns::rdf_bytes(ldns_pkt_edns_data(p));
        for (size_t pos = 0; pos + 4 <= opts.size();) {
            const uint16_t code = uint16_t((opts[pos] << 8) | opts[pos + 1]);
            const size_t len = size_t((opts[pos + 2] << 8) | opts[pos + 3]);
            pos += 4;
            if (code == dns::edns_opt::EDE && len >= 2)
                out.ede.push_back({uint16_t((opts[pos] << 8) | opts[pos + 1]),
                                   std::string(opts.begin() + long(pos) + 2,
                                               opts.begin() + long(pos + len))});
            pos += len;
        }
        return out;
    }
};

dns::Query query(const char* name, uint16_t type, bool cd = false)
{
    auto q = make_query(name, type);
    q.cd = cd;
    return q;
}

// Runs one Request in the resolve test lab to its end.
std::unique_ptr<resolve::Request> run(resolve::test::Lab& lab, const char* name, uint16_t type)
{
    auto req = std::make_unique<resolve::Request>(lab.res(), make_query(name, type),
                                                  resolve::RequestOptions{});
    resolve::Outgoing out;
    for (int rounds = 0; req->produce(out) == resolve::Step::send; ++rounds) {
        REQUIRE(rounds < 100);
        auto reply = lab.respond(out);
        if (!reply) {
            lab.mono_ms += out.timeout_ms;
            req->timeout();
            continue;
        }
        lab.mono_ms += 10;
        REQUIRE(req->consume(*reply, out.to, out.proto));
    }
    return req;
}

} // namespace

TEST_CASE("subnets as Knot Resolver's modules write them", "[modules][subnet]")
{
    auto s = parse_subnet("10.10.10.0/24");
    REQUIRE(s);
    CHECK_FALSE(s->v6);
    CHECK(s->bits == 24);
    CHECK(s->contains(ip("10.10.10.77")));
    CHECK_FALSE(s->contains(ip("10.10.11.1")));
    auto six = parse_subnet("fe80::/10");
    REQUIRE(six);
    CHECK(six->v6);
    CHECK(six->contains(ip("febf::1")));
    CHECK_FALSE(six->contains(ip("fec0::1")));
    CHECK_FALSE(six->contains(ip("10.0.0.1"))); // shorter than the prefix
    auto whole = parse_subnet("192.0.2.1");
    REQUIRE(whole);
    CHECK(whole->bits == 32);
    CHECK(whole->contains(ip("192.0.2.1")));
    CHECK_FALSE(whole->contains(ip("192.0.2.2")));
    CHECK(parse_subnet("::/0")->contains(ip("2001:db8::1")));
    for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "zzz", "",
                            "10.0.0/8", "1.2.3.4/8/8"}) {
        INFO(bad);
        CHECK_FALSE(parse_subnet(bad));
    }
    CHECK(parse_ip("64:ff9b::")->v6);
    CHECK_FALSE(parse_ip("64:ff9b::/96"));
}

TEST_CASE("the answer modules are built in; an unknown name is an error naming it",
          "[modules]")
{
    Mods m;
    for (const char* name : {"dns64", "renumber", "rebinding", "workarounds"}) {
        INFO(name);
        REQUIRE(m.load(name) != nullptr);
        lua_getglobal(m.L, name);
        CHECK(lua_istable(m.L, -1));
        lua_pop(m.L, 1);
    }
    CHECK(m.reg.follow_ups()); // dns64
    CHECK(m.reg.unload("dns64"));
    CHECK_FALSE(m.reg.follow_ups());
    try {
        m.load("no_such_module");
        FAIL("loaded");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("'no_such_module'") != std::string::npos);
        CHECK(std::string(e.what()).find("no such module") != std::string::npos);
    }
}

TEST_CASE("rebinding switches the core's check on while loaded", "[modules][rebinding]")
{
    Mods m;
    resolve::RequestOptions o;
    m.reg.adjust_request(o);
    CHECK_FALSE(o.rebinding);
    m.load("rebinding < iterate");
    m.reg.adjust_request(o);
    CHECK(o.rebinding);
    m.reg.unload("rebinding");
    resolve::RequestOptions fresh;
    m.reg.adjust_request(fresh);
    CHECK_FALSE(fresh.rebinding);
}

TEST_CASE("renumber rewrites addresses of the answer section", "[modules][renumber]")
{
    Mods m;
    m.load("renumber");
    REQUIRE(m.lua("renumber.config({{'192.0.2.0/24', '10.9.0.0'}, {'198.18.0.1', '10.1.2.3!'},"
                  " {'2001:db8::/32', 'fd00:1::'}})") == "");

    SECTION("prefix and exact rules; RRSIGs and other sections go; EDE; no AD")
    {
        Answer a(query("www.example.", dns::type::A));
        a.b.set_ad(true);
        a.add(dns::Section::answer, "www.example.", dns::type::CNAME, 300, wire("host.example."));
        a.add(dns::Section::answer, "host.example.", dns::type::A, 300, ip("192.0.2.5"));
        a.add(dns::Section::answer, "host.example.", dns::type::A, 300, ip("198.18.0.1"));
        a.add(dns::Section::answer, "host.example.", dns::type::A, 300, ip("198.51.100.1"));
        a.add(dns::Section::answer, "host.example.", dns::type::RRSIG, 300, rrsig(dns::type::A));
        a.add(dns::Section::authority, "example.", dns::type::NS, 300, wire("ns.example."));
        a.add(dns::Section::additional, "ns.example.", dns::type::A, 300, ip("192.0.2.53"));
        m.reg.on_answer(a.q, true, 0, a.b);
        auto p = a.finish();
        CHECK(p.answer == lines{"www.example. 300 CNAME host.example.",
                                "host.example. 300 A 10.9.0.5", "host.example. 300 A 10.1.2.3",
                                "host.example. 300 A 198.51.100.1"});
        CHECK(p.authority.empty());
        CHECK(p.additional.empty());
        CHECK(p.ede == std::vector<std::pair<uint16_t, std::string>>{{4, "DUQR"}});
        CHECK_FALSE(p.ad);
    }
    SECTION("AAAA: the prefix bits only")
    {
        Answer a(query("v6.example.", dns::type::AAAA));
        a.add(dns::Section::answer, "v6.example.", dns::type::AAAA, 60, ip("2001:db8:1:2::99"));
        m.reg.on_answer(a.q, true, 0, a.b);
        CHECK(a.finish().answer == lines{"v6.example. 60 AAAA fd00:1:1:2::99"});
    }
    SECTION("nothing matches: the answer stays as it was")
    {
        Answer a(query("www.example.", dns::type::A));
        a.b.set_ad(true);
        a.add(dns::Section::answer, "www.example.", dns::type::A, 300, ip("198.51.100.1"));
        a.add(dns::Section::answer, "www.example.", dns::type::RRSIG, 300, rrsig(dns::type::A));
        a.add(dns::Section::authority, "example.", dns::type::NS, 300, wire("ns.example."));
        m.reg.on_answer(a.q, true, 0, a.b);
        auto p = a.finish();
        CHECK(p.answer.size() == 2);
        CHECK(p.authority.size() == 1);
        CHECK(p.ede.empty());
        CHECK(p.ad);
    }
    SECTION("rules add up; mistakes are errors")
    {
        REQUIRE(m.lua("renumber.config({{'203.0.113.0/24', '10.7.0.0'}})") == "");
        Answer a(query("x.example.", dns::type::A));
        a.add(dns::Section::answer, "x.example.", dns::type::A, 5, ip("203.0.113.9"));
        a.add(dns::Section::answer, "x.example.", dns::type::A, 5, ip("192.0.2.9"));
        m.reg.on_answer(a.q, true, 0, a.b);
        CHECK(a.finish().answer == lines{"x.example. 5 A 10.7.0.9", "x.example. 5 A 10.9.0.9"});
        CHECK(m.lua("renumber.config()") == "");
        CHECK(m.lua("renumber.config({})").find("expected { {prefix, target}, ... }") !=
              std::string::npos);
        CHECK(m.lua("renumber.config({{'10.0.0.0/33', '1.2.3.4'}})").find("invalid subnet") !=
              std::string::npos);
        CHECK(m.lua("renumber.config({{'10.0.0.0/8', 'zzz'}})").find("invalid address") !=
              std::string::npos);
        CHECK(m.lua("renumber.config({{'10.0.0.0/8', '1.2.3.4!x'}})").find("\"!\" symbol") !=
              std::string::npos);
    }
}

TEST_CASE("dns64: which answers get a follow-up A question", "[modules][dns64]")
{
    Mods m;
    Module* mod = m.load("dns64");
    resolve::RequestOptions opts;
    auto nodata = [](const dns::Query& q) {
        auto a = std::make_unique<Answer>(q);
        a->add(dns::Section::authority, "example.", dns::type::SOA, 300, soa("example."));
        return a;
    };
    const auto aaaa = query("v4.example.", dns::type::AAAA);
    CHECK(mod->follow_up(aaaa, opts, nodata(aaaa)->b) == nullptr); // not configured yet

    REQUIRE(m.lua("dns64.config()") == "");
    auto f = mod->follow_up(aaaa, opts, nodata(aaaa)->b);
    REQUIRE(f);
    CHECK(dns::name_to_text(f->name.view()) == "v4.example.");
    CHECK(f->type == dns::type::A);

    // The end of a CNAME chain is asked.
    const auto alias = query("Alias.Example.", dns::type::AAAA);
    Answer chained(alias);
    chained.add(dns::Section::answer, "alias.example.", dns::type::CNAME, 300, wire("mid.example."));
    chained.add(dns::Section::answer, "mid.example.", dns::type::CNAME, 300, wire("end.example."));
    chained.add(dns::Section::authority, "example.", dns::type::SOA, 300, soa("example."));
    f = mod->follow_up(alias, opts, chained.b);
    REQUIRE(f);
    CHECK(dns::name_to_text(f->name.view()) == "end.example.");

    // An AAAA answer stays, unless an address is excluded (default ::ffff:0:0/96).
    Answer real(aaaa);
    real.add(dns::Section::answer, "v4.example.", dns::type::AAAA, 300, ip("2001:db8::1"));
    CHECK(mod->follow_up(aaaa, opts, real.b) == nullptr);
    Answer mapped(aaaa);
    mapped.add(dns::Section::answer, "v4.example.", dns::type::AAAA, 300, ip("2001:db8::1"));
    mapped.add(dns::Section::answer, "v4.example.", dns::type::AAAA, 300, ip("::ffff:192.0.2.1"));
    CHECK(mod->follow_up(aaaa, opts, mapped.b) != nullptr);
    Answer compat(aaaa); // IPv4-compatible: not excluded (Knot Resolver 5.6 excludes it)
    compat.add(dns::Section::answer, "v4.example.", dns::type::AAAA, 300, ip("::192.0.2.1"));
    CHECK(mod->follow_up(aaaa, opts, compat.b) == nullptr);

    // CD, DNS64_DISABLE, other types, other RCODEs: left alone.
    const auto cd = query("v4.example.", dns::type::AAAA, true);
    CHECK(mod->follow_up(cd, opts, nodata(cd)->b) == nullptr);
    resolve::RequestOptions off;
    off.dns64_disable = true;
    CHECK(mod->follow_up(aaaa, off, nodata(aaaa)->b) == nullptr);
    const auto a = query("v4.example.", dns::type::A);
    CHECK(mod->follow_up(a, opts, nodata(a)->b) == nullptr);
    Answer nx(aaaa, dns::rcode::NXDOMAIN);
    CHECK(mod->follow_up(aaaa, opts, nx.b) == nullptr);

    // Custom exclusions.
    REQUIRE(m.lua("dns64.config({prefix = '2001:db8:64::', exclude_subnets = {'2001:db8::/32'}})") ==
            "");
    CHECK(mod->follow_up(aaaa, opts, real.b) != nullptr);
}

TEST_CASE("dns64: the synthesised answer", "[modules][dns64]")
{
    Mods m;
    Module* mod = m.load("dns64");
    REQUIRE(m.lua("dns64.config('64:ff9b::')") == "");
    resolve::test::Lab lab;
    lab.add("example.com.", {"v4.example.com. 3600 IN A 192.0.2.1",
                             "v4.example.com. 3600 IN A 192.0.2.11",
                             "short.example.com. 60 IN A 192.0.2.5"});
    const auto q = query("alias.example.com.", dns::type::AAAA);
    Answer first(q);
    first.b.set_ad(true);
    first.add(dns::Section::answer, "alias.example.com.", dns::type::CNAME, 300,
              wire("v4.example.com."));
    first.add(dns::Section::authority, "example.com.", dns::type::SOA, 250, soa("example.com."));
    auto f = mod->follow_up(q, {}, first.b);
    REQUIRE(f);
    auto req = run(lab, dns::name_to_text(f->name.view()).c_str(), f->type);

    Answer out(q);
    f->complete(*req, out.b);
    auto p = out.finish();
    CHECK(p.rcode == dns::rcode::NOERROR);
    // The chain, the A records under the prefix with the SOA's TTL, the SOA.
    CHECK(p.answer == lines{"alias.example.com. 300 CNAME v4.example.com.",
                            "v4.example.com. 250 AAAA 64:ff9b::c000:201",
                            "v4.example.com. 250 AAAA 64:ff9b::c000:20b"});
    CHECK(p.authority == lines{"example.com. 250 SOA example.com."});
    CHECK(p.ede == std::vector<std::pair<uint16_t, std::string>>{{4, "BHD4: DNS64 synthesis"}});
    CHECK_FALSE(p.ad); // the A answer was not validated

    // Without a SOA the cap is 600 s; a shorter A TTL stays.
    const auto q2 = query("short.example.com.", dns::type::AAAA);
    Answer second(q2);
    auto f2 = mod->follow_up(q2, {}, second.b);
    REQUIRE(f2);
    auto req2 = run(lab, "short.example.com.", dns::type::A);
    Answer out2(q2);
    f2->complete(*req2, out2.b);
    CHECK(out2.finish().answer == lines{"short.example.com. 60 AAAA 64:ff9b::c000:205"});

    // The A question failed: the AAAA answer as it was, without the EDE.
    lab.server("192.0.2.20").timeout = true;
    lab.server("192.0.2.21").timeout = true;
    const auto q3 = query("gone.example.com.", dns::type::AAAA);
    Answer third(q3);
    third.add(dns::Section::authority, "example.com.", dns::type::SOA, 250, soa("example.com."));
    auto f3 = mod->follow_up(q3, {}, third.b);
    REQUIRE(f3);
    auto req3 = run(lab, "gone.example.com.", dns::type::A);
    REQUIRE(req3->rcode() == dns::rcode::SERVFAIL);
    Answer out3(q3);
    f3->complete(*req3, out3.b);
    auto p3 = out3.finish();
    CHECK(p3.rcode == dns::rcode::NOERROR);
    CHECK(p3.answer.empty());
    CHECK(p3.authority == lines{"example.com. 250 SOA example.com."});
    CHECK(p3.ede.empty());
}

TEST_CASE("dns64: reverse names of the prefix become CNAMEs to in-addr.arpa", "[modules][dns64]")
{
    Mods m;
    Module* mod = m.load("dns64");
    resolve::RequestOptions opts;
    const char* full = "1.0.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.";
    CHECK(mod->redirect(query(full, dns::type::PTR), opts) == nullptr); // not configured
    REQUIRE(m.lua("dns64.config({rev_ttl = 30})") == "");
    auto f = mod->redirect(query(full, dns::type::PTR), opts);
    REQUIRE(f);
    CHECK(dns::name_to_text(f->name.view()) == "1.2.0.192.in-addr.arpa.");
    CHECK(f->type == dns::type::PTR);
    // Upper-case nibbles too; any type.
    auto upper = mod->redirect(
        query("A.B.2.0.0.0.0.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.B.9.F.F.4.6.0.0.IP6.ARPA.",
              dns::type::TXT),
        opts);
    REQUIRE(upper);
    CHECK(dns::name_to_text(upper->name.view()) == "186.2.0.192.in-addr.arpa.");
    CHECK(upper->type == dns::type::TXT);
    // Shorter, longer, not nibbles, another prefix, DNS64_DISABLE: resolved as usual.
    for (const char* other :
         {"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.", "b.9.f.f.4.6.0.0.ip6.arpa.",
          "0.1.0.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.",
          "g.0.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.",
          "10.0.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.",
          "1.0.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.b.9.f.f.4.6.0.0.ip6.arpa."}) {
        INFO(other);
        CHECK(mod->redirect(query(other, dns::type::PTR), opts) == nullptr);
    }
    resolve::RequestOptions off;
    off.dns64_disable = true;
    CHECK(mod->redirect(query(full, dns::type::PTR), off) == nullptr);

    // The answer: the CNAME (rev_ttl), then the target's answer, without AD.
    resolve::test::Lab lab;
    auto req = run(lab, "www.example.com.", dns::type::A); // stands in for the target's
    Answer out(query(full, dns::type::PTR));
    f->complete(*req, out.b);
    auto p = out.finish();
    REQUIRE(p.answer.size() == 2);
    CHECK(p.answer[0] == std::string(full) + " 30 CNAME 1.2.0.192.in-addr.arpa.");
    CHECK_FALSE(p.ad);
}

TEST_CASE("dns64.config checks its options as Knot Resolver does", "[modules][dns64]")
{
    Mods m;
    m.load("dns64");
    CHECK(m.lua("dns64.config('192.0.2.1')").find("[dns64] \"192.0.2.1\" is not a valid IPv6 "
                                                   "address") != std::string::npos);
    CHECK(m.lua("dns64.config(true)").find("\"true\" is not a valid IPv6") != std::string::npos);
    CHECK(m.lua("dns64.config({exclude_subnets = 'x'})")
              .find("[dns64] .exclude_subnets is not a table") != std::string::npos);
    CHECK(m.lua("dns64.config({exclude_subnets = {'10.0.0.0/8'}})")
              .find("[dns64] failed to parse IPv6 subnet: \"10.0.0.0/8\"") != std::string::npos);
    CHECK(m.lua("dns64.config({rev_ttl = 'abc'})").find("rev_ttl") != std::string::npos);
    CHECK(m.lua("dns64.config('64:ff9b::/96')") == "");
    CHECK(m.lua("dns64.config({prefix = '2001:db8:64::', rev_ttl = 5, exclude_subnets = {}})") ==
          "");
}

TEST_CASE("workarounds.config() adds Knot Resolver's NO_0X20 rule", "[modules][workarounds]")
{
    test::Fixture f;
    REQUIRE(f.run("modules.load('workarounds')\n") == "");
    CHECK(f.policy.size() == 0); // loading alone adds nothing, as in Knot Resolver
    REQUIRE(f.run("workarounds.config()\n") == "");
    CHECK(f.policy.size() == 1);
    const resolve::RequestOptions defaults;
    for (const char* name : {"avqs.mcafee.com.", "x.cdnga.com.", "www.panthercdn.com.",
                             "magazine-fashion.net."}) {
        INFO(name);
        auto d = f.policy.evaluate(make_query(name, dns::type::A), defaults);
        CHECK(d.final == policy::ActionKind::pass);
        CHECK(d.options().no_0x20);
    }
    auto other = f.policy.evaluate(make_query("example.com.", dns::type::A), defaults);
    CHECK_FALSE(other.options().no_0x20);
}

TEST_CASE("policy.FLAGS names the answer modules use", "[modules][policy]")
{
    resolve::RequestOptions o;
    policy::apply_flag(o, "NO_0X20", true);
    policy::apply_flag(o, "DNS64_DISABLE", true);
    CHECK(o.no_0x20);
    CHECK(o.dns64_disable);
    policy::apply_flag(o, "NO_0X20", false);
    CHECK_FALSE(o.no_0x20);
}
