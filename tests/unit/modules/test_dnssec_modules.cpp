// The DNSSEC modules (src/modules/ta_sentinel.cpp, ta_signal_query.cpp,
// detect_time_skew.cpp, priming.cpp, bogus_log.cpp): their pure decisions,
// the registry's defaults and request flags, and the scheduling of the
// modules that act on their own, through fake Services.
#include <arpa/inet.h>
#include <lua.hpp>
#include <netinet/in.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "catch.hpp"
#include "dnssec/anchors.hpp"
#include "modules/dnssec_modules.hpp"
#include "modules/module.hpp"
#include "resolve/resolve.hpp"

using namespace kresd;
using namespace kresd::modules;

namespace {

dns::Name name(const char* text) {
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    return n;
}

std::string text(const dns::Name& n) {
    return dns::name_to_text(n.view());
}

dns::Record rrsig(uint32_t inception, uint32_t expiration) {
    dns::Record r;
    r.owner = name(".");
    r.type = dns::type::RRSIG;
    r.klass = dns::klass::IN;
    r.ttl = 3600;
    auto put16 = [&](uint16_t v) { r.rdata.insert(r.rdata.end(), {uint8_t(v >> 8), uint8_t(v)}); };
    auto put32 = [&](uint32_t v) {
        put16(uint16_t(v >> 16));
        put16(uint16_t(v));
    };
    put16(dns::type::NS);  // type covered
    r.rdata.push_back(13); // algorithm
    r.rdata.push_back(0);  // labels
    put32(3600);           // original TTL
    put32(expiration);
    put32(inception);
    put16(12345);                            // key tag
    r.rdata.push_back(0);                    // signer: the root
    r.rdata.insert(r.rdata.end(), 64, 0xab); // signature
    return r;
}

dns::Record rr(const char* owner, uint16_t type, std::vector<uint8_t> rdata, uint32_t ttl = 3600) {
    return {name(owner), type, dns::klass::IN, ttl, std::move(rdata)};
}

std::vector<uint8_t> wire(const char* n) {
    auto x = name(n);
    return {x.wire.begin(), x.wire.begin() + x.len};
}

// Services with a simulated clock: timers are kept in a list and fired by
// the test; questions are recorded and never answered.
class FakeServices final : public Services {
  public:
    struct Pending {
        uint64_t ms = 0;
        std::function<void()> fn;
        bool alive = true;
    };
    struct Asked {
        std::string name;
        uint16_t type;
        bool cd;
    };

    class FakeTimer final : public Timer {
      public:
        explicit FakeTimer(std::shared_ptr<Pending> p) : p_(std::move(p)) {}
        ~FakeTimer() override { p_->alive = false; }

      private:
        std::shared_ptr<Pending> p_;
    };

    bool resolve(const dns::Name& n, uint16_t type, bool cd, Done) override {
        asked.push_back({text(n), type, cd});
        return true;
    }
    std::unique_ptr<Timer> after(uint64_t ms, std::function<void()> fn) override {
        auto p = std::make_shared<Pending>();
        p->ms = ms;
        p->fn = std::move(fn);
        timers.push_back(p);
        return std::make_unique<FakeTimer>(p);
    }
    resolve::Config& resolver_config() override { return config; }
    uint64_t wall_s() const override { return 1700000000; }

    // Fires the live timers due within `ms` (those armed meanwhile wait).
    void run(uint64_t ms) {
        auto now = timers;
        timers.clear();
        for (auto& p : now) {
            if (!p->alive) continue;
            if (p->ms <= ms) {
                p->alive = false;
                auto fn = std::move(p->fn);
                fn();
            } else {
                p->ms -= ms;
                timers.push_back(p);
            }
        }
    }
    size_t live_timers() const {
        size_t n = 0;
        for (const auto& p : timers)
            n += p->alive;
        return n;
    }

    resolve::Config config = resolve::default_config();
    std::vector<std::shared_ptr<Pending>> timers;
    std::vector<Asked> asked;
};

struct Lua {
    lua_State* L = luaL_newstate();
    ~Lua() { lua_close(L); }
};

} // namespace

TEST_CASE("ta_signal_query: the _ta- name of the root's anchors", "[modules]") {
    auto builtin = dnssec::TrustAnchors::with_root_defaults();
    // KSK-2017 20326 = 0x4f66, KSK-2024 38696 = 0x9728: ascending, lower case.
    CHECK(ta_signal_qname(builtin) == std::optional<std::string>("_ta-4f66-9728."));

    dnssec::TrustAnchors one;
    REQUIRE_FALSE(one.add_text(". IN DS 2571 13 2 "
                               "0000000000000000000000000000000000000000000000000000000000000000"));
    CHECK(ta_signal_qname(one) == std::optional<std::string>("_ta-0a0b."));
    // The same tag twice is named once; tags below 0x1000 keep four digits.
    REQUIRE_FALSE(one.add_text(". IN DS 2571 13 2 "
                               "1111111111111111111111111111111111111111111111111111111111111111"));
    REQUIRE_FALSE(one.add_text(". IN DS 10 8 2 "
                               "2222222222222222222222222222222222222222222222222222222222222222"));
    CHECK(ta_signal_qname(one) == std::optional<std::string>("_ta-000a-0a0b."));

    dnssec::TrustAnchors other_zone;
    REQUIRE_FALSE(
        other_zone.add_text("example. IN DS 2571 13 2 "
                            "0000000000000000000000000000000000000000000000000000000000000000"));
    CHECK_FALSE(ta_signal_qname(other_zone));
    CHECK_FALSE(ta_signal_qname(dnssec::TrustAnchors{}));
}

TEST_CASE("detect_time_skew: RRSIG validity against the clock", "[modules]") {
    const uint32_t now = 1700000000;
    std::vector<dns::Record> answer = {rr(".", dns::type::NS, wire("a.root-servers.net."))};
    CHECK(check_time_skew(answer, now).kind == SkewCheck::Kind::no_rrsigs);

    answer.push_back(rrsig(now - 3600, now + 86400));
    CHECK(check_time_skew(answer, now).kind == SkewCheck::Kind::valid);

    // The clock is 10 days past the expiration.
    std::vector<dns::Record> expired = {rrsig(now - 40 * 86400, now - 10 * 86400)};
    auto c = check_time_skew(expired, now);
    CHECK(c.kind == SkewCheck::Kind::clock_ahead);
    CHECK(c.seconds == 10 * 86400);
    CHECK_THAT(describe_skew(c, now), Catch::Contains("seems to be at least 864000 seconds in the "
                                                      "future") &&
                                          Catch::Contains("not valid anymore") &&
                                          Catch::Contains("Please check your system clock!"));

    // The clock is 5 days before the inception.
    std::vector<dns::Record> future = {rrsig(now + 5 * 86400, now + 30 * 86400)};
    c = check_time_skew(future, now);
    CHECK(c.kind == SkewCheck::Kind::clock_behind);
    CHECK(c.seconds == 5 * 86400);
    CHECK_THAT(describe_skew(c, now),
               Catch::Contains("in the past") && Catch::Contains("not valid yet"));

    // One valid signature among bad ones is enough.
    future.push_back(rrsig(now - 10, now + 10));
    CHECK(check_time_skew(future, now).kind == SkewCheck::Kind::valid);

    // Serial-number arithmetic: an expiration after the 2106 wrap.
    const uint64_t late = 0x100000000ull + 100; // 32-bit time wrapped
    std::vector<dns::Record> wrapped = {rrsig(0xffffff00u, 1000)};
    CHECK(check_time_skew(wrapped, late).kind == SkewCheck::Kind::valid);
}

TEST_CASE("priming: NS names and addresses from the answers", "[modules]") {
    std::vector<dns::Record> answer = {
        rr(".", dns::type::NS, wire("A.root-servers.net."), 518400),
        rr(".", dns::type::NS, wire("b.root-servers.net."), 3600),
        rr(".", dns::type::NS, wire("a.root-servers.net."), 518400), // same name, other case
        rr("net.", dns::type::NS, wire("x.gtld-servers.net.")),      // not the root's
        rrsig(1, 2),
    };
    uint32_t ttl = 0;
    auto names = root_ns_names(answer, &ttl);
    REQUIRE(names.size() == 2);
    CHECK(text(names[0]) == "a.root-servers.net.");
    CHECK(text(names[1]) == "b.root-servers.net.");
    CHECK(ttl == 3600);
    CHECK(root_ns_names({}, &ttl).empty());
    CHECK(ttl == 0);

    std::vector<dns::Record> addrs = {
        rr("A.ROOT-servers.net.", dns::type::A, {198, 41, 0, 4}),
        rr("a.root-servers.net.", dns::type::AAAA,
           {0x20, 0x01, 0x05, 0x03, 0xba, 0x3e, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0x30}),
        rr("b.root-servers.net.", dns::type::A, {170, 247, 170, 2}),
        rr("a.root-servers.net.", dns::type::A, {1, 2, 3}), // malformed
    };
    auto a = addresses_of(name("a.root-servers.net."), addrs);
    REQUIRE(a.size() == 2);
    CHECK(resolve::address_to_string(a[0]) == "198.41.0.4@53");
    CHECK(a[1].family() == AF_INET6);
    CHECK(addresses_of(name("c.root-servers.net."), addrs).empty());

    CHECK(next_priming_s(518400, 10) == 86400);
    CHECK(next_priming_s(3600, 10) == 3600);
    CHECK(next_priming_s(0, 10) == 10);
}

TEST_CASE("bogus_log: what counts as bogus, and the frequency table", "[modules]") {
    CHECK(is_bogus_answer(dns::rcode::SERVFAIL, 6, dns::Security::unknown));
    CHECK(is_bogus_answer(dns::rcode::SERVFAIL, 7, dns::Security::unknown));
    CHECK(is_bogus_answer(dns::rcode::SERVFAIL, 12, dns::Security::unknown));
    CHECK_FALSE(is_bogus_answer(dns::rcode::SERVFAIL, 22, dns::Security::unknown));
    CHECK_FALSE(is_bogus_answer(dns::rcode::SERVFAIL, std::nullopt, dns::Security::unknown));
    CHECK_FALSE(is_bogus_answer(dns::rcode::NOERROR, std::nullopt, dns::Security::secure));
    CHECK(is_bogus_answer(dns::rcode::NOERROR, std::nullopt, dns::Security::bogus)); // CD

    BogusCounter c(3);
    c.add("www.dsbad.sec.", dns::type::A);
    c.add("www.dsbad.sec.", dns::type::A);
    c.add("www.dsbad.sec.", dns::type::AAAA);
    c.add("www.expired.sec.", dns::type::A);
    c.add("www.expired.sec.", dns::type::A);
    c.add("www.expired.sec.", dns::type::A);
    auto f = c.frequent();
    REQUIRE(f.size() == 3);
    CHECK(f[0].name == "www.expired.sec.");
    CHECK(f[0].count == 3);
    CHECK(f[1].name == "www.dsbad.sec.");
    CHECK(f[1].type == dns::type::A);
    CHECK(f[1].count == 2);
    CHECK(f[2].type == dns::type::AAAA);
    // Full: the least frequent entry makes room.
    c.add("www.future.sec.", dns::type::A);
    CHECK(c.size() == 3);
    f = c.frequent(2);
    REQUIRE(f.size() == 2);
    CHECK(f[0].name == "www.expired.sec.");
    CHECK(f[1].name == "www.dsbad.sec.");
}

TEST_CASE("modules: defaults, validate, unknown names", "[modules]") {
    Lua lua;
    Registry r;
    r.load_defaults(lua.L);
    CHECK(r.list() == std::vector<std::string>{"ta_signal_query", "priming", "detect_time_skew",
                                               "ta_sentinel", "edns_keepalive", "refuse_nord"});
    CHECK(r.load("validate", lua.L) == nullptr); // built in, like iterate
    CHECK(r.load("bogus_log > validate", lua.L) != nullptr);
    CHECK(r.list().back() == "bogus_log");
    CHECK_THROWS_WITH(r.load("no_such_module", lua.L), Catch::Contains("no such module"));
    for (const char* n :
         {"ta_signal_query", "priming", "detect_time_skew", "ta_sentinel", "edns_keepalive",
          "refuse_nord", "bogus_log"})
        CHECK(r.unload(n));
    CHECK(r.list().empty());
}

TEST_CASE("ta_sentinel: the request flag follows load and unload", "[modules]") {
    Lua lua;
    Registry r;
    resolve::RequestOptions opts;
    r.adjust_request(opts);
    CHECK_FALSE(opts.ta_sentinel);
    r.load_defaults(lua.L);
    r.adjust_request(opts);
    CHECK(opts.ta_sentinel);
    CHECK(r.unload("ta_sentinel"));
    resolve::RequestOptions fresh;
    r.adjust_request(fresh);
    CHECK_FALSE(fresh.ta_sentinel);
}

TEST_CASE("modules with timers: started with the resolver, stopped by unload", "[modules]") {
    Lua lua;
    Registry r;
    r.load_defaults(lua.L);
    FakeServices s;
    r.start(s);
    CHECK(s.live_timers() == 3); // ta_signal_query, priming, detect_time_skew
    s.run(0);
    REQUIRE(s.asked.size() == 3);
    CHECK(s.asked[0].name == "_ta-4f66-9728.");
    CHECK(s.asked[0].type == 10); // NULL
    CHECK(s.asked[1].name == ".");
    CHECK(s.asked[1].type == dns::type::NS);
    CHECK_FALSE(s.asked[1].cd); // priming
    CHECK(s.asked[2].name == ".");
    CHECK(s.asked[2].cd); // detect_time_skew: the records even when bogus

    // ta_signal_query again after a day; nothing before.
    CHECK(s.live_timers() == 1);
    s.run(24 * 3600 * 1000 - 1);
    CHECK(s.asked.size() == 3);
    s.run(1);
    REQUIRE(s.asked.size() == 4);
    CHECK(s.asked[3].name == "_ta-4f66-9728.");

    // Without a root anchor nothing is sent (but the schedule goes on).
    s.config.anchors = std::make_shared<dnssec::TrustAnchors>();
    s.run(24 * 3600 * 1000);
    CHECK(s.asked.size() == 4);

    CHECK(r.unload("ta_signal_query"));
    CHECK(s.live_timers() == 0);

    // A module loaded later starts at once.
    r.load("detect_time_skew", lua.L); // loaded: no-op
    CHECK(r.unload("detect_time_skew"));
    r.load("detect_time_skew", lua.L);
    CHECK(s.live_timers() == 1);
    s.run(0);
    CHECK(s.asked.back().cd);
}
