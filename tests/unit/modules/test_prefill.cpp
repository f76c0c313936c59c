// The module prefill: reading and checking a root zone file, the ranks and
// DNSSEC status of what it puts into the cache, its Lua table, and its
// refresh through fake Services with a simulated clock.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <lua.hpp>
#include <unistd.h>

#include "../dnssec/sign_helpers.hpp"
#include "cache/cache.hpp"
#include "catch.hpp"
#include "clock_services.hpp"
#include "dnssec/anchors.hpp"
#include "modules/module.hpp"
#include "modules/prefill.hpp"
#include "resolve/resolve.hpp"

using namespace kresd;
using namespace kresd::modules;
namespace fs = std::filesystem;
using dnssec::test::rec;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/kresd-prefill-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { fs::remove_all(path); }
    std::string file(const std::string& name, const std::string& text) const {
        const fs::path p = path / name;
        std::ofstream(p) << text;
        return p.string();
    }
};

std::vector<uint8_t> wire(const char* text) {
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    return {n.wire.begin(), n.wire.begin() + n.len};
}

const char* kRootZone = R"($ORIGIN .
$TTL 86400
@ SOA a.root-servers.lab. hostmaster.lab. 1 3600 900 604800 300
@ NS a.root-servers.lab.
; a TLD with its glue
sim. 172800 NS ns1.sim.
ns1.sim. A 127.0.0.10
lab. NS ns1.lab.
ns1.lab. A 127.0.0.11
a.root-servers.lab. A 127.0.0.9
)";

struct Lua {
    lua_State* L = luaL_newstate();
    Lua() { luaL_openlibs(L); }
    ~Lua() { lua_close(L); }
    // The error text, or empty when `code` ran.
    std::string run(const std::string& code) {
        if (luaL_dostring(L, code.c_str()) == 0) return {};
        std::string err = lua_tostring(L, -1);
        lua_pop(L, 1);
        return err;
    }
    std::string eval(const std::string& expr) {
        REQUIRE(run("_r = tostring(" + expr + ")").empty());
        lua_getglobal(L, "_r");
        std::string out = lua_tostring(L, -1);
        lua_pop(L, 1);
        return out;
    }
};

// Services with a simulated clock (starting now) and a real cache.
class FakeServices final : public test::ClockServices {
  public:
    FakeServices() { wall0 = static_cast<uint64_t>(std::time(nullptr)); }
    bool resolve(const dns::Name&, uint16_t, bool, Done) override { return false; }
    resolve::Config& resolver_config() override { return config; }
    cache::Cache* cache() override { return store.get(); }

    resolve::Config config = resolve::default_config();
    std::unique_ptr<cache::Cache> store;
};

std::string error_of(const std::string& path) {
    try {
        prefill::read_zone(path);
    } catch (const prefill::PrefillError& e) {
        return e.what();
    }
    return {};
}

std::string to_text(const dns::Record& r) {
    return dns::ldns::take_text(ldns_rr2str(dnssec::test::to_ldns(r).get()));
}

} // namespace

TEST_CASE("prefill: an unsigned root zone is imported insecure, delegations as glue",
          "[modules][prefill]") {
    TempDir d;
    const auto z = prefill::read_zone(d.file("root.zone", kRootZone));
    CHECK(z.records == 7);
    CHECK(z.origin.len == 1);
    const auto plan = prefill::plan_import(z, nullptr, 1700000000);
    CHECK(plan.security == dns::Security::insecure);
    CHECK(plan.authoritative == 2); // the apex SOA and NS
    auto c = cache::Cache::open((d.path / "cache").string(), 4 << 20);
    const uint64_t now = 1700000000;
    CHECK(prefill::store(z, plan, *c, now) == 7);
    auto soa = c->get_rrset(wire("."), dns::type::SOA, now + 10);
    REQUIRE(soa);
    CHECK(soa->rank == cache::Rank::auth_answer);
    CHECK(soa->security == dns::Security::insecure);
    CHECK(soa->ttl == 86400 - 10);
    auto sim = c->get_rrset(wire("sim."), dns::type::NS, now);
    REQUIRE(sim);
    CHECK(sim->rank == cache::Rank::glue);
    CHECK(sim->ttl == 172800);
    auto glue = c->get_rrset(wire("ns1.sim."), dns::type::A, now);
    REQUIRE(glue);
    CHECK(glue->rank == cache::Rank::glue);
}

TEST_CASE("prefill: what is not a root zone file is refused with the file and line",
          "[modules][prefill]") {
    TempDir d;
    CHECK(error_of((d.path / "missing.zone").string()) ==
          (d.path / "missing.zone").string() + ": cannot open: No such file or directory");
    const std::string bad = d.file("bad.zone", "$ORIGIN .\n. 60 SOA a. b. 1 2 3 4 5\n"
                                               "\nsim. NS ns1.sim.\nns1.sim. A 300.1.2.3\n");
    CHECK(error_of(bad).starts_with(bad + ":5: "));
    const std::string notroot =
        d.file("sim.zone", "$ORIGIN sim.\n@ 60 SOA a. b. 1 2 3 4 5\n@ NS ns1\n");
    CHECK(error_of(notroot) == notroot + ":2: the SOA is not at '.': this is not the root zone");
    const std::string nosoa = d.file("nosoa.zone", ". 60 NS a.\n");
    CHECK(error_of(nosoa) == nosoa + ": no SOA record: this is not a zone file");
    CHECK(error_of(d.file("empty.zone", "; nothing\n")).ends_with(": empty zone file"));
    const std::string inc = d.file("inc.zone", ". 60 SOA a. b. 1 2 3 4 5\n$INCLUDE other\n");
    CHECK(error_of(inc) == inc + ":2: $INCLUDE is not supported");
    const std::string two =
        d.file("two.zone", ". 60 SOA a. b. 1 2 3 4 5\n. 60 SOA a. b. 2 2 3 4 5\n");
    CHECK(error_of(two) == two + ":2: a second SOA record");
}

TEST_CASE("prefill: a signed root zone is validated with the trust anchor", "[modules][prefill]") {
    using namespace dnssec::test;
    const auto& ksk = cached_key(".", LDNS_SIGN_ECDSAP256SHA256, 257);
    const uint64_t now = now_s();
    const std::vector<std::vector<dns::Record>> sets = {
        {rec(". 86400 IN SOA a.root-servers.lab. hostmaster.lab. 1 3600 900 604800 300")},
        {rec(". 518400 IN NS a.root-servers.lab.")},
        {ksk.dnskey},
        {rec("sim. 86400 IN DS 12345 13 2 "
             "0000000000000000000000000000000000000000000000000000000000000000")},
        {rec(". 86400 IN NSEC sim. SOA NS RRSIG NSEC DNSKEY")},
        {rec("sim. 86400 IN NSEC . NS DS RRSIG NSEC")},
    };
    std::string text;
    for (const auto& s : sets) {
        text += to_text(s.front());
        text += to_text(sign_now(s, ksk));
    }
    text += "sim. 172800 IN NS ns1.sim.\nns1.sim. 172800 IN A 127.0.0.10\n";
    TempDir d;
    const std::string path = d.file("root.zone", text);
    dnssec::TrustAnchors anchors;
    REQUIRE(anchors.add(ksk.dnskey));

    const auto z = prefill::read_zone(path);
    const auto plan = prefill::plan_import(z, &anchors, now);
    CHECK(plan.security == dns::Security::secure);
    CHECK(plan.authoritative == 6);
    auto c = cache::Cache::open((d.path / "cache").string(), 4 << 20);
    CHECK(prefill::store(z, plan, *c, now) == 8);
    auto ds = c->get_rrset(wire("sim."), dns::type::DS, now);
    REQUIRE(ds);
    CHECK(ds->security == dns::Security::secure);
    CHECK(ds->rank == cache::Rank::auth_answer);
    CHECK(ds->sigs.size() == 1);
    // The NSEC chain serves aggressive negative answers (RFC 8198).
    auto nsec = c->find_nsec(wire("."), wire("nx."), now);
    REQUIRE(nsec);
    CHECK(dns::name_to_text(nsec->rr.owner.view()) == ".");

    SECTION("a trust anchor of another key refuses the zone") {
        dnssec::TrustAnchors other;
        REQUIRE(other.add(cached_key(".", LDNS_SIGN_ECDSAP256SHA256, 256).dnskey));
        CHECK_THROWS_WITH(
            prefill::plan_import(z, &other, now),
            Catch::Matchers::StartsWith(
                path + ": the DNSKEY of '.' does not validate with the trust anchors"));
    }
    SECTION("a changed record refuses the zone, naming it") {
        std::string changed = text;
        const auto at = changed.find("hostmaster.lab. 1 ");
        REQUIRE(at != std::string::npos);
        changed.replace(at, 18, "hostmaster.lab. 2 ");
        const auto z2 = prefill::read_zone(d.file("changed.zone", changed));
        CHECK_THROWS_WITH(prefill::plan_import(z2, &anchors, now),
                          Catch::Matchers::Contains(". type 6 does not validate"));
    }
    SECTION("an unsigned RRset in a signed zone refuses it") {
        const auto z3 = prefill::read_zone(d.file("nosig.zone", text + "lab. 60 IN DS 1 13 2 "
                                                                       "00000000000000000000000000"
                                                                       "00000000000000000000000000"
                                                                       "000000000000\n"));
        CHECK_THROWS_WITH(prefill::plan_import(z3, &anchors, now),
                          Catch::Matchers::Contains("lab. type 43 does not validate"));
    }
    SECTION("without an anchor for '.' the zone is insecure") {
        const auto p = prefill::plan_import(z, nullptr, now);
        CHECK(p.security == dns::Security::insecure);
    }
}

TEST_CASE("prefill: config, import at start and refresh every interval", "[modules][prefill]") {
    TempDir d;
    const std::string path = d.file("root.zone", kRootZone);
    auto mod = create("prefill");
    REQUIRE(mod);
    Lua lua;
    mod->bind_lua(lua.L);

    // Configuration errors, as 5.6 words them where it has them.
    CHECK(lua.run("prefill.config('x')").find("configuration must be in table") !=
          std::string::npos);
    CHECK(lua.run("prefill.config({['sim.'] = {file = '" + path + "'}})")
              .find("only root zone can be imported") != std::string::npos);
    CHECK(lua.run("prefill.config({['.'] = {file = '" + path + "', interval = 60}})")
              .find("refresh interval 60 s is too short, minimal interval is 3600 s") !=
          std::string::npos);
    const std::string https =
        lua.run("prefill.config({['.'] = {url = 'https://www.internic.net/domain/root.zone'}})");
    CHECK(https.find("downloading is not supported") != std::string::npos);
    CHECK(lua.run("prefill.config({['.'] = {}})").find("must name the zone file") !=
          std::string::npos);
    CHECK(lua.run("prefill.config({['.'] = {file = '" + d.path.string() + "/nope'}})")
              .find(d.path.string() + "/nope: cannot open") != std::string::npos);
    CHECK(lua.run("prefill.config()").empty()); // nothing, as 5.6

    REQUIRE(lua.run("prefill.config({['.'] = {url = 'file://" + path + "', interval = 7200}})")
                .empty());
    CHECK(lua.eval("prefill.file") == path);
    CHECK(lua.eval("prefill.imports") == "0"); // not before the resolver runs

    FakeServices s;
    s.config.anchors.reset(); // no validation
    s.store = cache::Cache::open((d.path / "cache").string(), 4 << 20);
    mod->start(s);
    CHECK(lua.eval("prefill.imports") == "1");
    CHECK(lua.eval("prefill.validated") == "false");
    const uint64_t t0 = s.wall_s();
    REQUIRE(s.store->get_rrset(wire("sim."), dns::type::NS, t0));

    // The file changes: read again after the interval.
    d.file("root.zone", std::string(kRootZone) + "new. NS ns1.new.\nns1.new. A 127.0.0.12\n");
    s.run(7199 * 1000);
    CHECK(lua.eval("prefill.imports") == "1");
    s.run(1000);
    CHECK(lua.eval("prefill.imports") == "2");
    CHECK(s.store->get_rrset(wire("new."), dns::type::NS, s.wall_s()));

    // A broken file at a refresh: a warning, the cache keeps the data,
    // tried again after 10 minutes.
    d.file("root.zone", "x. IN A 1.2.3\n");
    s.run(7200 * 1000);
    CHECK(lua.eval("prefill.imports") == "2");
    CHECK(lua.eval("prefill.last_error").find(path + ":1: ") == 0);
    CHECK(s.store->get_rrset(wire("sim."), dns::type::NS, s.wall_s()));
    d.file("root.zone", kRootZone);
    s.run(600 * 1000);
    CHECK(lua.eval("prefill.imports") == "3");
    CHECK(lua.eval("prefill.last_error") == "nil");

    // Unloading stops the timer.
    mod->stop();
    s.run(100000 * 1000);
    CHECK(lua.eval("prefill.imports") == "3");
}
