// QNAME minimisation (RFC 9156) as seen in the queries sent.
#include "catch.hpp"
#include "lab.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

TEST_CASE("minimised queries reveal one label more per step", "[resolve]")
{
    Lab lab;
    lab.add("example.com.", {"a.b.c.example.com. 300 IN TXT \"deep\""});
    auto r = lab.resolve("a.b.c.example.com.", "TXT");
    CHECK(r.answer == lines{"a.b.c.example.com. 300 TXT \"deep\""});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 c.example.com. NS", "192.0.2.20 b.c.example.com. NS",
                              "192.0.2.20 a.b.c.example.com. TXT"});
}

TEST_CASE("minimisation off: the full question everywhere", "[resolve]")
{
    Lab lab;
    const lines full{"198.41.0.4 www.example.com. A", "192.0.2.10 www.example.com. A",
                     "192.0.2.20 www.example.com. A"};
    SECTION("per request (NO_MINIMIZE policy flag)")
    {
        RequestOptions o;
        o.no_minimize = true;
        auto r = lab.resolve("www.example.com.", "A", o);
        CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
        CHECK(lab.sent() == full);
    }
    SECTION("by configuration (option('NO_MINIMIZE', true))")
    {
        lab.config.minimize = false;
        auto r = lab.resolve("www.example.com.", "A");
        CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
        CHECK(lab.sent() == full);
    }
}

TEST_CASE("a delegation met while minimising is followed", "[resolve]")
{
    Lab lab;
    lab.add("example.com.", {"sub.example.com. 3600 IN NS ns.sub.example.com.",
                             "ns.sub.example.com. 3600 IN A 192.0.2.25"});
    lab.zone("192.0.2.25", "sub.example.com.",
             {"sub.example.com. 3600 IN SOA ns.sub.example.com. h.example.com. 1 2 3 4 60",
              "sub.example.com. 3600 IN NS ns.sub.example.com.",
              "x.y.sub.example.com. 300 IN A 192.0.2.26"});
    auto r = lab.resolve("x.y.sub.example.com.", "A");
    CHECK(r.answer == lines{"x.y.sub.example.com. 300 A 192.0.2.26"});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 sub.example.com. NS", "192.0.2.25 y.sub.example.com. NS",
                              "192.0.2.25 x.y.sub.example.com. A"});
    CHECK(lab.cache.has("sub.example.com.", dns::type::NS));
}

TEST_CASE("a very long name is minimised at most 10 times", "[resolve]")
{
    Lab lab;
    std::string name = "example.com.";
    for (int i = 0; i < 20; ++i)
        name = "l" + std::to_string(i) + "." + name;
    lab.add("example.com.", {name + " 300 IN A 192.0.2.5"});
    auto r = lab.resolve(name, "A");
    CHECK(r.answer == lines{name + " 300 A 192.0.2.5"});
    size_t minimised = 0;
    for (const auto& q : lab.queries)
        minimised += q.qtype == "NS" ? 1 : 0;
    CHECK(minimised == 10);
    CHECK(lab.sent().back() == "192.0.2.20 " + name + " A");
}

TEST_CASE("DS is asked at the parent side", "[resolve]")
{
    Lab lab;
    lab.add("com.", {"example.com. 86400 IN DS 12345 8 2 "
                     "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE3F3E23E6C5D9C1F9E1A1C7B1"});
    auto r = lab.resolve("example.com.", "DS");
    CHECK(r.rcode == 0);
    REQUIRE(r.answer.size() == 1);
    CHECK(r.answer[0].rfind("example.com. 86400 DS 12345 8 2", 0) == 0);
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. DS"});
}
