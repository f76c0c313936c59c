// Iteration from the root hints down to the answer: referrals with glue,
// glue-less delegations, CNAME and DNAME across zones, the cache in between.
#include "catch.hpp"
#include "lab.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

TEST_CASE("referral chain root -> com -> example.com with glue", "[resolve]")
{
    Lab lab;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.ra);
    CHECK_FALSE(r.aa);
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(r.authority.empty());
    CHECK_FALSE(r.from_cache);
    // QNAME minimisation (RFC 9156): one more label per zone, type NS.
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 www.example.com. A"});
    // Delegations and in-bailiwick glue are cached with their ranks.
    REQUIRE(lab.cache.has("com.", dns::type::NS));
    CHECK(lab.cache.find("com.", dns::type::NS)->rank == cache::Rank::glue); // parent-side
    REQUIRE(lab.cache.has("ns1.example.com.", dns::type::A));
    CHECK(lab.cache.find("ns1.example.com.", dns::type::A)->rank == cache::Rank::glue);
    REQUIRE(lab.cache.has("www.example.com.", dns::type::A));
    CHECK(lab.cache.find("www.example.com.", dns::type::A)->rank == cache::Rank::auth_answer);

    SECTION("the second time it comes from the cache, TTL aged")
    {
        lab.clear_sent();
        lab.wall_s += 100;
        auto again = lab.resolve("WWW.Example.COM.", "A");
        CHECK(again.rcode == 0);
        CHECK(again.from_cache);
        CHECK(again.queries == 0);
        CHECK(again.answer == lines{"WWW.Example.COM. 200 A 192.0.2.80"});
    }
    SECTION("another name in the zone starts at the cached cut")
    {
        lab.add("example.com.", {"mail.example.com. 300 IN A 192.0.2.81"});
        lab.clear_sent();
        auto other = lab.resolve("mail.example.com.", "A");
        CHECK(other.answer == lines{"mail.example.com. 300 A 192.0.2.81"});
        CHECK(lab.sent() == lines{"192.0.2.20 mail.example.com. A"});
    }
    SECTION("after expiry it is asked again")
    {
        lab.wall_s += 301;
        lab.clear_sent();
        auto later = lab.resolve("www.example.com.", "A");
        CHECK(later.answer == lines{"www.example.com. 300 A 192.0.2.80"});
        CHECK(lab.sent() == lines{"192.0.2.20 www.example.com. A"});
    }
}

TEST_CASE("glue-less delegation: the NS name is resolved as a sub-goal", "[resolve]")
{
    Lab lab;
    lab.add("com.", {"glueless.com. 172800 IN NS ns.hosting.net."});
    lab.add("net.", {"hosting.net. 172800 IN NS ns.hosting.net.",
                     "ns.hosting.net. 172800 IN A 192.0.2.30"});
    lab.zone("192.0.2.30", "hosting.net.",
             {"hosting.net. 3600 IN SOA ns.hosting.net. h.hosting.net. 1 7200 3600 1209600 300",
              "hosting.net. 3600 IN NS ns.hosting.net.", "ns.hosting.net. 3600 IN A 192.0.2.30"});
    lab.zone("192.0.2.30", "glueless.com.",
             {"glueless.com. 3600 IN SOA ns.hosting.net. h.hosting.net. 1 7200 3600 1209600 300",
              "glueless.com. 3600 IN NS ns.hosting.net.",
              "www.glueless.com. 300 IN A 192.0.2.99"});
    auto r = lab.resolve("www.glueless.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"www.glueless.com. 300 A 192.0.2.99"});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 glueless.com. NS",
                              // the sub-goal: ns.hosting.net. A, from the root
                              "198.41.0.4 net. NS", "192.0.2.10 hosting.net. NS",
                              "192.0.2.30 ns.hosting.net. A",
                              // back to the client's question
                              "192.0.2.30 www.glueless.com. A"});
    REQUIRE(lab.cache.has("ns.hosting.net.", dns::type::A));
    CHECK(lab.cache.find("ns.hosting.net.", dns::type::A)->rank == cache::Rank::auth_answer);

    SECTION("next time the cached NS address is used at once")
    {
        lab.add("glueless.com.", {"ftp.glueless.com. 300 IN A 192.0.2.98"});
        lab.clear_sent();
        auto again = lab.resolve("ftp.glueless.com.", "A");
        CHECK(again.answer == lines{"ftp.glueless.com. 300 A 192.0.2.98"});
        CHECK(lab.sent() == lines{"192.0.2.30 ftp.glueless.com. A"});
    }
}

TEST_CASE("delegations whose NS names need each other fail, bounded", "[resolve]")
{
    Lab lab;
    lab.add("com.", {"chicken.com. 172800 IN NS ns.egg.com.",
                     "egg.com. 172800 IN NS ns.chicken.com."});
    auto r = lab.resolve("www.chicken.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
    CHECK(r.queries <= 6);
}

// Zones for the cross-zone tests: example.net at 192.0.2.50.
static void add_example_net(Lab& lab)
{
    lab.add("net.", {"example.net. 172800 IN NS ns.example.net.",
                     "ns.example.net. 172800 IN A 192.0.2.50"});
    lab.zone("192.0.2.50", "example.net.",
             {"example.net. 3600 IN SOA ns.example.net. h.example.net. 1 7200 3600 1209600 300",
              "example.net. 3600 IN NS ns.example.net.", "ns.example.net. 3600 IN A 192.0.2.50",
              "www.example.net. 300 IN A 192.0.2.90"});
}

TEST_CASE("CNAME across zones restarts from the closest cut", "[resolve]")
{
    Lab lab;
    add_example_net(lab);
    lab.add("example.com.", {"alias.example.com. 600 IN CNAME www.example.net."});
    auto r = lab.resolve("alias.example.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer ==
          lines{"alias.example.com. 600 CNAME www.example.net.", "www.example.net. 300 A 192.0.2.90"});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 alias.example.com. A", "198.41.0.4 net. NS",
                              "192.0.2.10 example.net. NS", "192.0.2.50 www.example.net. A"});
    CHECK(lab.cache.has("alias.example.com.", dns::type::CNAME));

    SECTION("the whole chain then comes from the cache")
    {
        lab.clear_sent();
        auto again = lab.resolve("alias.example.com.", "A");
        CHECK(again.from_cache);
        CHECK(again.answer == r.answer);
        CHECK(lab.sent().empty());
    }
    SECTION("a CNAME query gets the CNAME itself")
    {
        lab.clear_sent();
        auto cn = lab.resolve("alias.example.com.", "CNAME");
        CHECK(cn.answer == lines{"alias.example.com. 600 CNAME www.example.net."});
    }
}

TEST_CASE("CNAME chain inside one zone comes in one reply", "[resolve]")
{
    Lab lab;
    lab.add("example.com.", {"a.example.com. 300 IN CNAME b.example.com.",
                             "b.example.com. 300 IN CNAME www.example.com."});
    auto r = lab.resolve("a.example.com.", "A");
    CHECK(r.answer == lines{"a.example.com. 300 CNAME b.example.com.",
                            "b.example.com. 300 CNAME www.example.com.",
                            "www.example.com. 300 A 192.0.2.80"});
    CHECK(r.queries == 3);
}

TEST_CASE("DNAME is followed with a synthesised CNAME", "[resolve]")
{
    Lab lab;
    add_example_net(lab);
    lab.add("example.com.", {"old.example.com. 900 IN DNAME example.net."});
    auto r = lab.resolve("www.old.example.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"old.example.com. 900 DNAME example.net.",
                            "www.old.example.com. 900 CNAME www.example.net.",
                            "www.example.net. 300 A 192.0.2.90"});
    // The DNAME is cached, not the CNAME made of it: a cached answer
    // shows both again, and covers every other name below it.
    CHECK_FALSE(lab.cache.has("www.old.example.com.", dns::type::CNAME));
    CHECK(lab.cache.has("old.example.com.", dns::type::DNAME));
    lab.clear_sent();
    lab.wall_s += 10;
    auto again = lab.resolve("www.old.example.com.", "A");
    CHECK(again.from_cache);
    CHECK(again.answer == lines{"old.example.com. 890 DNAME example.net.",
                                "www.old.example.com. 890 CNAME www.example.net.",
                                "www.example.net. 290 A 192.0.2.90"});
    auto other = lab.resolve("mail.old.example.com.", "A");
    CHECK(other.answer.size() >= 2);
    CHECK(lab.sent() == lines{"192.0.2.50 mail.example.net. A"});
}

TEST_CASE("an IPv6-only name server: A is NODATA, then AAAA is used", "[resolve]")
{
    Lab lab;
    lab.add("com.", {"v6only.com. 172800 IN NS ns.v6host.net."});
    lab.add("net.", {"v6host.net. 172800 IN NS ns.v6host.net.",
                     "ns.v6host.net. 172800 IN AAAA 2001:db8::30"});
    lab.zone("2001:db8::30", "v6host.net.",
             {"v6host.net. 3600 IN SOA ns.v6host.net. h.v6host.net. 1 7200 3600 1209600 300",
              "v6host.net. 3600 IN NS ns.v6host.net.", "ns.v6host.net. 3600 IN AAAA 2001:db8::30"});
    lab.zone("2001:db8::30", "v6only.com.",
             {"v6only.com. 3600 IN SOA ns.v6host.net. h.v6host.net. 1 7200 3600 1209600 300",
              "v6only.com. 3600 IN NS ns.v6host.net.", "www.v6only.com. 300 IN A 192.0.2.60"});
    auto r = lab.resolve("www.v6only.com.", "A");
    CHECK(r.answer == lines{"www.v6only.com. 300 A 192.0.2.60"});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 v6only.com. NS",
                              "198.41.0.4 net. NS", "192.0.2.10 v6host.net. NS",
                              "2001:db8::30 ns.v6host.net. A",
                              // AAAA comes from the glue cached on the way
                              "2001:db8::30 www.v6only.com. A"});
}

TEST_CASE("queries carry EDNS with our buffer size and fresh IDs", "[resolve]")
{
    Lab lab;
    lab.config.edns_size = 1400;
    uint16_t seen_size = 0;
    lab.resolve("www.example.com.", "A");
    REQUIRE(lab.queries.size() == 3);
    CHECK(lab.queries[0].id != lab.queries[1].id);
    CHECK(lab.queries[1].id != lab.queries[2].id);
    for (const auto& q : lab.queries) {
        CHECK(q.edns);
        CHECK_FALSE(q.rd);
    }
    // The advertised size: look at the raw query.
    Request req(lab.res(), make_query("other.example.com.", dns::type::A), {});
    Outgoing out;
    REQUIRE(req.produce(out) == Step::send);
    dns::Query q;
    REQUIRE(dns::parse_query(out.wire, q) == dns::ParseStatus::ok);
    seen_size = q.edns.udp_size;
    CHECK(seen_size == 1400);
}

TEST_CASE("DEBUG: one log line per step", "[resolve]")
{
    Lab lab;
    RequestOptions o;
    o.debug = true;
    lab.resolve("www.example.com.", "A", o);
    CHECK(lab.debug_lines.size() >= 6);
    bool asked = false;
    for (const auto& line : lab.debug_lines)
        asked = asked || line.find("asking 192.0.2.20@53 udp: 'www.example.com.'") !=
                             std::string::npos;
    CHECK(asked);
    lab.debug_lines.clear();
    lab.resolve("www.example.com.", "A"); // not asked for: quiet
    CHECK(lab.debug_lines.empty());
}
