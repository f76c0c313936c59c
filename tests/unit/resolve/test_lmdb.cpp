// The resolver over the real LMDB cache (src/cache): the same scenarios as
// with the in-memory one, to check that both sides read the contract alike.
#include "catch.hpp"
#include "lab.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

TEST_CASE("resolution over the LMDB cache", "[resolve]")
{
    TempDir dir;
    auto lmdb = cache::Cache::open(dir.path, 16 * 1024 * 1024);
    REQUIRE(lmdb);
    Lab lab;
    lab.store = lmdb.get();
    lab.add("example.com.", {"alias.example.com. 300 IN CNAME www.example.com."});

    auto r = lab.resolve("alias.example.com.", "A");
    CHECK(r.answer == lines{"alias.example.com. 300 CNAME www.example.com.",
                            "www.example.com. 300 A 192.0.2.80"});
    auto nx = lab.resolve("nope.example.com.", "A");
    CHECK(nx.rcode == dns::rcode::NXDOMAIN);
    auto nodata = lab.resolve("www.example.com.", "AAAA");
    CHECK(nodata.rcode == 0);
    CHECK(nodata.answer.empty());

    lab.clear_sent();
    lab.wall_s += 10;
    auto again = lab.resolve("alias.example.com.", "A");
    CHECK(again.from_cache);
    CHECK(again.answer == lines{"alias.example.com. 290 CNAME www.example.com.",
                                "www.example.com. 290 A 192.0.2.80"});
    auto nx2 = lab.resolve("nope.example.com.", "TXT");
    CHECK(nx2.rcode == dns::rcode::NXDOMAIN);
    CHECK(nx2.from_cache);
    auto nodata2 = lab.resolve("www.example.com.", "AAAA");
    CHECK(nodata2.from_cache);
    CHECK(nodata2.authority.size() == 1);
    auto other = lab.resolve("mail.example.com.", "A"); // the cut comes from the cache
    CHECK(other.rcode == dns::rcode::NXDOMAIN);
    CHECK(lab.sent() == lines{"192.0.2.20 mail.example.com. A"});
}
