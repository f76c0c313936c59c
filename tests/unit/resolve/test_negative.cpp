// Negative answers (RFC 2308): NXDOMAIN and NODATA, their SOA and TTL,
// and that they are answered from the cache afterwards.
#include "catch.hpp"
#include "lab.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

static const std::string kExampleSoa =
    "example.com. 300 SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300";

TEST_CASE("NXDOMAIN is answered with the SOA and cached", "[resolve]")
{
    Lab lab;
    auto r = lab.resolve("nope.example.com.", "A");
    CHECK(r.rcode == dns::rcode::NXDOMAIN);
    CHECK(r.answer.empty());
    // RFC 2308 3: TTL = min(SOA TTL 3600, MINIMUM 300).
    CHECK(r.authority == lines{kExampleSoa});
    CHECK(lab.sent().back() == "192.0.2.20 nope.example.com. A");

    lab.clear_sent();
    lab.wall_s += 60;
    SECTION("any type of the name, from the cache")
    {
        auto again = lab.resolve("nope.example.com.", "TXT");
        CHECK(again.rcode == dns::rcode::NXDOMAIN);
        CHECK(again.from_cache);
        CHECK(lab.sent().empty());
        CHECK(again.authority ==
              lines{"example.com. 240 SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 "
                    "1209600 300"});
    }
    SECTION("until it expires")
    {
        lab.wall_s += 300;
        auto later = lab.resolve("nope.example.com.", "A");
        CHECK(later.rcode == dns::rcode::NXDOMAIN);
        CHECK(lab.sent() == lines{"192.0.2.20 nope.example.com. A"});
    }
}

TEST_CASE("NODATA is answered with the SOA and cached for that type", "[resolve]")
{
    Lab lab;
    auto r = lab.resolve("www.example.com.", "AAAA");
    CHECK(r.rcode == 0);
    CHECK(r.answer.empty());
    CHECK(r.authority == lines{kExampleSoa});

    lab.clear_sent();
    auto again = lab.resolve("www.example.com.", "AAAA");
    CHECK(again.rcode == 0);
    CHECK(again.answer.empty());
    CHECK(again.authority == lines{kExampleSoa});
    CHECK(again.from_cache);
    CHECK(lab.sent().empty());

    // Other types of the name are still asked for.
    auto a = lab.resolve("www.example.com.", "A");
    CHECK(a.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(lab.sent() == lines{"192.0.2.20 www.example.com. A"});
}

TEST_CASE("NXDOMAIN at the end of a CNAME keeps the chain", "[resolve]")
{
    Lab lab;
    lab.add("example.com.", {"dangling.example.com. 300 IN CNAME gone.example.com."});
    auto r = lab.resolve("dangling.example.com.", "A");
    CHECK(r.rcode == dns::rcode::NXDOMAIN);
    CHECK(r.answer == lines{"dangling.example.com. 300 CNAME gone.example.com."});
    CHECK(r.authority == lines{kExampleSoa});

    lab.clear_sent();
    auto again = lab.resolve("dangling.example.com.", "A");
    CHECK(again.rcode == dns::rcode::NXDOMAIN);
    CHECK(again.answer == r.answer);
    CHECK(again.from_cache);
}

TEST_CASE("NXDOMAIN for an empty non-terminal of a minimised query is not believed",
          "[resolve]")
{
    Lab lab;
    lab.add("example.com.", {"a.b.example.com. 300 IN A 192.0.2.7"});
    lab.server("192.0.2.20").nxdomain_ent = true;
    lab.server("192.0.2.21").nxdomain_ent = true;
    auto r = lab.resolve("a.b.example.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"a.b.example.com. 300 A 192.0.2.7"});
    // RFC 9156 4: the broken NXDOMAIN makes us ask the full name.
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 b.example.com. NS", "192.0.2.20 a.b.example.com. A"});
    CHECK_FALSE(lab.cache.knows("b.example.com."));
}
