#include "catch.hpp"

#include "policy/policy.hpp"
#include "policy/rpz.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace kresd;

namespace {

const resolve::RequestOptions kNoOptions{};

// A zone file in /tmp that disappears with the test.
struct ZoneFile {
    std::string path;
    explicit ZoneFile(const std::string& text) {
        char tmpl[] = "/tmp/kresd-rpz-XXXXXX";
        const int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        close(fd);
        path = tmpl;
        write(text);
    }
    void write(const std::string& text) const {
        std::ofstream f(path, std::ios::trunc);
        f << text;
    }
    ~ZoneFile() { std::remove(path.c_str()); }
};

struct Loaded {
    std::vector<std::string> warnings;
    std::unique_ptr<policy::Rpz> rpz;
    explicit Loaded(const ZoneFile& f) {
        rpz = std::make_unique<policy::Rpz>(
            f.path, [this](const std::string& w) { warnings.push_back(w); });
    }
};

dns::Name lower_name(const char* text) {
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    dns::name_lower(n);
    return n;
}

const policy::Action* look(const policy::Rpz& z, const char* name, const policy::Action& given) {
    const auto n = lower_name(name);
    return z.lookup(n.view(), given);
}

const char* kZone = R"($TTL 300
$ORIGIN rpz.test.
@            SOA localhost. root.localhost. ( 1 3600
                 1200 604800 10800 )
             NS  localhost.
nx.example   CNAME .           ; the action given to policy.rpz
*.wild.example CNAME .
nodata.example CNAME *.
pass.example CNAME rpz-passthru.
drop.example CNAME rpz-drop.
tc.example   CNAME rpz-tcp-only.
data.example 600 A 192.0.2.1
data.example IN A 192.0.2.2
data.example AAAA 2001:db8::1
data.example TXT "hello world" two
mx.example   MX 10 mail
Mixed.Example A 192.0.2.9
*.wildata.example A 192.0.2.10
both.example CNAME .
both.example A 192.0.2.11
)";

} // namespace

TEST_CASE("rpz: CNAME actions of QNAME triggers", "[policy][rpz]") {
    ZoneFile f(kZone);
    Loaded l(f);
    policy::Action given;
    given.kind = policy::ActionKind::deny;

    CHECK(look(*l.rpz, "nx.example.", given) == &given);
    CHECK(look(*l.rpz, "NX.Example.", given) == &given);    // lookups take lower-case names
    CHECK(look(*l.rpz, "a.nx.example.", given) == nullptr); // exact only
    CHECK(look(*l.rpz, "example.", given) == nullptr);

    const auto* nodata = look(*l.rpz, "nodata.example.", given);
    REQUIRE(nodata);
    CHECK(nodata->kind == policy::ActionKind::answer);
    REQUIRE(nodata->answer);
    CHECK(nodata->answer->nodata);
    CHECK(nodata->answer->sets.empty());

    REQUIRE(look(*l.rpz, "pass.example.", given));
    CHECK(look(*l.rpz, "pass.example.", given)->kind == policy::ActionKind::pass);
    CHECK(look(*l.rpz, "drop.example.", given)->kind == policy::ActionKind::drop);
    CHECK(look(*l.rpz, "tc.example.", given)->kind == policy::ActionKind::tc);
    CHECK(l.rpz->size() == 11);
}

TEST_CASE("rpz: a wildcard covers every name below, not the name itself", "[policy][rpz]") {
    ZoneFile f(kZone);
    Loaded l(f);
    policy::Action given;
    given.kind = policy::ActionKind::refuse;
    CHECK(look(*l.rpz, "x.wild.example.", given) == &given);
    CHECK(look(*l.rpz, "a.b.c.wild.example.", given) == &given);
    CHECK(look(*l.rpz, "*.wild.example.", given) == &given);
    CHECK(look(*l.rpz, "wild.example.", given) == nullptr);
    CHECK(look(*l.rpz, "xwild.example.", given) == nullptr);

    const auto* a = look(*l.rpz, "deep.x.wildata.example.", given);
    REQUIRE(a);
    CHECK(a->kind == policy::ActionKind::answer);
    REQUIRE(a->answer->find(dns::type::A));
    CHECK(a->answer->find(dns::type::A)->rdata.front() == std::vector<uint8_t>{192, 0, 2, 10});
}

TEST_CASE("rpz: local data answers its types, NODATA for the others", "[policy][rpz]") {
    ZoneFile f(kZone);
    Loaded l(f);
    policy::Action given;
    const auto* a = look(*l.rpz, "data.example.", given);
    REQUIRE(a);
    REQUIRE(a->kind == policy::ActionKind::answer);
    const auto& d = *a->answer;
    CHECK(d.nodata);
    const auto* set_a = d.find(dns::type::A);
    REQUIRE(set_a);
    CHECK(set_a->ttl == 300); // 600 and 300 in one set: the minimum, with a warning
    CHECK(set_a->rdata.size() == 2);
    CHECK(set_a->rdata[1] == std::vector<uint8_t>{192, 0, 2, 2});
    REQUIRE(d.find(dns::type::AAAA));
    CHECK(d.find(dns::type::AAAA)->rdata.front().size() == 16);
    REQUIRE(d.find(dns::type::TXT));
    const std::string txt = "\x0bhello world\x03two";
    CHECK(d.find(dns::type::TXT)->rdata.front() == std::vector<uint8_t>(txt.begin(), txt.end()));
    CHECK(d.find(dns::type::MX) == nullptr);

    // Other types through ldns; relative names in rdata against $ORIGIN.
    const auto* mx = look(*l.rpz, "mx.example.", given);
    REQUIRE(mx);
    REQUIRE(mx->answer->find(dns::type::MX));
    const auto& rd = mx->answer->find(dns::type::MX)->rdata.front();
    const std::string want = std::string("\0\x0a\4mail\3rpz\4test\0", 17);
    CHECK(rd == std::vector<uint8_t>(want.begin(), want.end()));

    // Owners are case-insensitive; local data beats a CNAME action.
    CHECK(look(*l.rpz, "mixed.example.", given) != nullptr);
    const auto* both = look(*l.rpz, "both.example.", given);
    REQUIRE(both);
    CHECK(both->kind == policy::ActionKind::answer);
    bool ttl_warning = false;
    for (const auto& w : l.warnings)
        ttl_warning |=
            w == "RPZ " + f.path + ":13 warning: different TTLs in a set (minimum taken)";
    CHECK(ttl_warning);
}

TEST_CASE("rpz: malformed lines are skipped with a warning naming file and line", "[policy][rpz]") {
    ZoneFile f("$ORIGIN rpz.\n"
               "@ SOA a. b. 1 2 3 4 5\n"
               "ok1 CNAME .\n"
               "bad line here !!!\n"         // 4: unknown type
               "badip A 999.1.1.1\n"         // 5
               "cust CNAME other.example.\n" // 6: custom target
               "x DNAME foo.\n"              // 7: not allowed
               "sub NS foo.\n"               // 8: NS below the apex
               "outside.example. CNAME .\n"  // 9: outside the zone
               "unbalanced ( A 192.0.2.1\n"  // 10..: never closed
    );
    // The unterminated record swallows the rest of the file; add one after
    // a fresh file to check reading goes on after a bad line.
    Loaded l(f);
    policy::Action given;
    CHECK(look(*l.rpz, "ok1.", given) == &given);
    CHECK(look(*l.rpz, "cust.", given) == nullptr);
    CHECK(look(*l.rpz, "x.", given) == nullptr);
    CHECK(look(*l.rpz, "badip.", given) == nullptr);
    const std::string p = "RPZ " + f.path + ":";
    auto has = [&](const std::string& prefix) {
        for (const auto& w : l.warnings)
            if (w.rfind(prefix, 0) == 0) return true;
        return false;
    };
    CHECK(has(p + "4: unsupported record type"));
    CHECK(has(p + "5: invalid IPv4 address"));
    CHECK(has(p + "6: CNAME with custom target in RPZ is not supported yet (ignored)"));
    CHECK(has(p + "7 warning: RR type DNAME is not allowed in RPZ (ignored)"));
    CHECK(has(p + "8 warning: RR type NS is not allowed in RPZ (ignored)"));
    CHECK(has(p + "9: RR owner \"outside.example.\" outside the zone"));
    CHECK(has(p + "10: unterminated parentheses"));

    ZoneFile g("$ORIGIN rpz.\n@ SOA a. b. 1 2 3 4 5\n\"quoted A 1.2.3.4\nafter CNAME .\n"
               "after2 A 1.2.3\nlast CNAME rpz-drop.\n");
    Loaded m(g);
    CHECK(look(*m.rpz, "after.", given) == &given);
    REQUIRE(look(*m.rpz, "last.", given));
    CHECK(look(*m.rpz, "last.", given)->kind == policy::ActionKind::drop);
    CHECK(m.warnings.size() == 2);
}

TEST_CASE("rpz: no SOA: names relative to $ORIGIN (else the root), with a warning",
          "[policy][rpz]") {
    ZoneFile f("bad.example CNAME .\n$ORIGIN blocked.\nfoo CNAME .\n");
    Loaded l(f);
    policy::Action given;
    CHECK(look(*l.rpz, "bad.example.", given) == &given);
    // 5.6 strips the origin current at each record.
    CHECK(look(*l.rpz, "foo.", given) == &given);
    REQUIRE(l.warnings.empty()); // CNAME triggers do not need the SOA
}

TEST_CASE("rpz: an unreadable file is an error naming it", "[policy][rpz]") {
    try {
        policy::Rpz z("/nonexistent/kresd-rpz-test.rpz", [](const std::string&) {});
        FAIL("no error");
    } catch (const policy::RpzError& e) {
        CHECK(std::string(e.what()) ==
              "failed to parse \"/nonexistent/kresd-rpz-test.rpz\": No such file or directory");
    }
}

TEST_CASE("rpz: a changed file is re-read; a vanished one keeps the old rules", "[policy][rpz]") {
    ZoneFile f("@ SOA a. b. 1 2 3 4 5\none CNAME .\n");
    Loaded l(f);
    policy::Action given;
    CHECK(look(*l.rpz, "one.", given) == &given);
    CHECK_FALSE(l.rpz->reload_if_changed());                                // unchanged
    f.write("@ SOA a. b. 1 2 3 4 5\ntwo CNAME .\nthree CNAME rpz-drop.\n"); // size changes too
    CHECK(l.rpz->reload_if_changed());
    CHECK(look(*l.rpz, "one.", given) == nullptr);
    CHECK(look(*l.rpz, "two.", given) == &given);
    CHECK(l.rpz->size() == 2);
    std::remove(f.path.c_str());
    CHECK_FALSE(l.rpz->reload_if_changed());
    CHECK(look(*l.rpz, "two.", given) == &given);
    CHECK(l.warnings.size() == 1);
}

TEST_CASE("rpz: in a policy, the zone's action decides; no trigger goes on", "[policy][rpz]") {
    ZoneFile f(kZone);
    auto z = std::make_shared<policy::Rpz>(f.path, [](const std::string&) {});
    policy::Policy p;
    policy::Rule r;
    r.filter = policy::FilterKind::rpz;
    r.rpz = z;
    r.action.kind = policy::ActionKind::deny;
    p.add(r);
    policy::Rule after;
    after.filter = policy::FilterKind::all;
    after.action.kind = policy::ActionKind::refuse;
    p.add(after);

    auto q = [](const char* name, uint16_t type = dns::type::A) {
        dns::Query qq;
        REQUIRE(dns::name_from_text(name, qq.qname));
        qq.qname_lower = qq.qname;
        dns::name_lower(qq.qname_lower);
        qq.qtype = type;
        qq.qclass = dns::klass::IN;
        return qq;
    };
    CHECK(p.evaluate(q("NX.example.rpz.test."), kNoOptions).final ==
          policy::ActionKind::refuse); // triggers are relative to the zone
    CHECK(p.evaluate(q("nx.example."), kNoOptions).final == policy::ActionKind::deny);
    CHECK(p.evaluate(q("Nx.Example."), kNoOptions).final == policy::ActionKind::deny);
    CHECK(p.evaluate(q("pass.example."), kNoOptions).final == policy::ActionKind::pass);
    CHECK(p.evaluate(q("data.example.", dns::type::MX), kNoOptions).final ==
          policy::ActionKind::answer);
    CHECK(p.evaluate(q("other.example."), kNoOptions).final == policy::ActionKind::refuse);
}

TEST_CASE("rpz: 100,000 triggers load quickly", "[policy][rpz]") {
    std::string text = "$TTL 60\n@ SOA localhost. root.localhost. 1 2 3 4 5\n";
    text.reserve(4 << 20);
    for (int i = 0; i < 100000; ++i)
        text += "host" + std::to_string(i) + ".example.com CNAME .\n";
    ZoneFile f(text);
    const auto t0 = std::chrono::steady_clock::now();
    Loaded l(f);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    CHECK(l.rpz->size() == 100000);
    CHECK(l.warnings.empty());
    CHECK(ms < 1000); // a Debug build; a release build takes a fraction of this
    policy::Action given;
    CHECK(look(*l.rpz, "host99999.example.com.", given) == &given);
}

TEST_CASE("rpz: a wildcard at the apex covers every name, not the root", "[policy][rpz]") {
    ZoneFile f("$ORIGIN rpz.\n@ SOA a. b. 1 2 3 4 5\n* CNAME rpz-drop.\nexact.example CNAME .\n");
    Loaded l(f);
    policy::Action given;
    CHECK(look(*l.rpz, "exact.example.", given) == &given);
    REQUIRE(look(*l.rpz, "a.b.c.d.e.f.", given));
    CHECK(look(*l.rpz, "x.", given)->kind == policy::ActionKind::drop);
    CHECK(look(*l.rpz, ".", given) == nullptr);
}
