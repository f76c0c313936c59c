// Limits against abuse (Limits in resolve.hpp): every one ends in SERVFAIL
// with an Extended DNS Error (RFC 8914) and a bounded amount of work.
#include "catch.hpp"
#include "lab.hpp"
#include "resolve/names.hpp"

#include <memory>

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

TEST_CASE("an endless chain of referrals hits the referral limit", "[resolve]")
{
    Lab lab;
    lab.add("com.", {"deep.com. 172800 IN NS ns.deep.com.", "ns.deep.com. 172800 IN A 192.0.2.70"});
    // Whatever is asked, deep.com's server delegates one label further down
    // than last time, to itself.
    auto depth = std::make_shared<int>(2);
    lab.server("192.0.2.70").script = [depth](const SentQuery& q) -> std::optional<Reply> {
        const dns::Name zone = names::suffix(name_of(q.qname), ++*depth);
        Reply r;
        r.authority = {names::text(zone) + " 3600 IN NS ns.deep.com."};
        r.additional = {"ns.deep.com. 3600 IN A 192.0.2.70"};
        return r;
    };
    std::string name = "deep.com.";
    for (int i = 0; i < 40; ++i)
        name = "l" + std::to_string(i) + "." + name;
    auto r = lab.resolve(name, "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede == ede::OTHER);
    CHECK(r.ede_text == "limit: referrals");
    CHECK(r.queries <= lab.config.limits.max_referrals + 1);
}

TEST_CASE("a referral to the same zone again is lame, not a loop", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.20").script = [](const SentQuery&) -> std::optional<Reply> {
        Reply r;
        r.authority = {"example.com. 3600 IN NS ns1.example.com."};
        r.additional = {"ns1.example.com. 3600 IN A 192.0.2.20"};
        return r;
    };
    lab.server("192.0.2.21").script = lab.server("192.0.2.20").script;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
    CHECK(r.queries == 4);
}

TEST_CASE("a CNAME loop hits the chain limit", "[resolve]")
{
    SECTION("inside one zone, in one reply")
    {
        Lab lab;
        lab.add("example.com.", {"loop1.example.com. 300 IN CNAME loop2.example.com.",
                                 "loop2.example.com. 300 IN CNAME loop1.example.com."});
        lab.server("192.0.2.20").script = [](const SentQuery& q) -> std::optional<Reply> {
            if (q.qtype != "A")
                return std::nullopt;
            Reply r;
            r.aa = true;
            r.answer = {"loop1.example.com. 300 IN CNAME loop2.example.com.",
                        "loop2.example.com. 300 IN CNAME loop1.example.com."};
            return r;
        };
        auto r = lab.resolve("loop1.example.com.", "A");
        CHECK(r.rcode == dns::rcode::SERVFAIL);
        CHECK(r.ede == ede::OTHER);
        CHECK(r.ede_text == "limit: CNAME chain");
        CHECK(r.answer.empty());
        CHECK(r.queries == 3);
    }
    SECTION("across zones, through the cache")
    {
        Lab lab;
        lab.add("net.", {"example.net. 172800 IN NS ns.example.net.",
                         "ns.example.net. 172800 IN A 192.0.2.50"});
        lab.zone("192.0.2.50", "example.net.",
                 {"example.net. 3600 IN SOA ns.example.net. h.example.net. 1 7200 3600 1209600 300",
                  "example.net. 3600 IN NS ns.example.net.",
                  "b.example.net. 300 IN CNAME a.example.com."});
        lab.add("example.com.", {"a.example.com. 300 IN CNAME b.example.net."});
        auto r = lab.resolve("a.example.com.", "A");
        CHECK(r.rcode == dns::rcode::SERVFAIL);
        CHECK(r.ede_text == "CNAME loop"); // seen as soon as it comes round
        CHECK(r.queries <= 8);
    }
}

TEST_CASE("NXNS: a referral to 100 glue-less NS names is bounded", "[resolve]")
{
    Lab lab;
    // victim.net is where the amplified queries would land.
    lab.add("net.", {"victim.net. 172800 IN NS ns.victim.net.",
                     "ns.victim.net. 172800 IN A 192.0.2.90"});
    lab.zone("192.0.2.90", "victim.net.",
             {"victim.net. 3600 IN SOA ns.victim.net. h.victim.net. 1 7200 3600 1209600 300",
              "victim.net. 3600 IN NS ns.victim.net."});
    lab.add("com.", {"attacker.com. 172800 IN NS ns.attacker.com.",
                     "ns.attacker.com. 172800 IN A 192.0.2.66"});
    lab.server("192.0.2.66").script = [](const SentQuery&) -> std::optional<Reply> {
        Reply r;
        for (int i = 0; i < 100; ++i)
            r.authority.push_back("x.attacker.com. 3600 IN NS n" + std::to_string(i) +
                                  ".victim.net.");
        return r;
    };
    auto count_victim = [&] {
        size_t n = 0;
        for (const auto& q : lab.queries)
            n += q.server == "192.0.2.90" ? 1 : 0;
        return n;
    };

    SECTION("max_ns_per_zone names are tried")
    {
        auto r = lab.resolve("www.x.attacker.com.", "A");
        CHECK(r.rcode == dns::rcode::SERVFAIL);
        CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
        CHECK(count_victim() <= lab.config.limits.max_ns_per_zone);
        CHECK(r.queries <= 15);
    }
    SECTION("max_subrequests bounds the lookups")
    {
        lab.config.limits.max_ns_per_zone = 100;
        auto r = lab.resolve("www.x.attacker.com.", "A");
        CHECK(r.rcode == dns::rcode::SERVFAIL);
        CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
        CHECK(r.ede_text == "limit: sub-requests");
        CHECK(count_victim() <= lab.config.limits.max_subrequests);
        CHECK(r.queries <= 20);
    }
}

TEST_CASE("the upstream query limit", "[resolve]")
{
    Lab lab;
    lab.config.limits.max_upstream_queries = 2;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede == ede::OTHER);
    CHECK(r.ede_text == "limit: upstream queries");
    CHECK(r.queries == 2);
}

TEST_CASE("the time budget", "[resolve]")
{
    Lab lab;
    lab.config.limits.total_time_ms = 1500;
    lab.server("192.0.2.20").timeout = true;
    lab.server("192.0.2.21").timeout = true;
    const uint64_t start = lab.mono_ms;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede_text == "limit: time budget");
    CHECK(lab.mono_ms - start <= 1500 + 20);
}

TEST_CASE("servers that all time out: NO_REACHABLE_AUTHORITY", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.20").timeout = true;
    lab.server("192.0.2.21").timeout = true;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
    // Each server gets kMaxTimeoutsPerServer tries.
    CHECK(r.queries == 2 + 4);
}
