// Resolver::answer_from_cache, the cache-hit path: it must give byte for
// byte the answer a Request gives from the same cache, and nothing at all
// whenever the Request has more to do (CNAMEs, negative answers, glue).
#include "catch.hpp"
#include "lab.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

namespace {

// The fast answer to (name, type) into a fresh buffer; empty when it declined.
std::vector<uint8_t> fast(Lab& lab, const std::string& name, uint16_t type,
                          const RequestOptions& opts = {}, size_t limit = 65535)
{
    const dns::Query q = make_query(name, type);
    std::vector<uint8_t> buf(65535);
    dns::ResponseBuilder b(buf, limit);
    REQUIRE(b.begin(q, 0, Request::ede_reserve()));
    const size_t begun = b.size();
    if (!lab.res().answer_from_cache(q, opts, b)) {
        CHECK(b.size() == begun); // declined: nothing written
        CHECK(b.count(dns::Section::answer) == 0);
        return {};
    }
    buf.resize(b.finish());
    return buf;
}

void same_as_request(Lab& lab)
{
    lab.add("example.com.", {"www.example.com. 300 IN A 192.0.2.81",
                             "alias.example.com. 300 IN CNAME www.example.com.",
                             "v4.example.com. 300 IN A 192.0.2.9"});
    REQUIRE(lab.resolve("www.example.com.", "A").answer.size() == 2);
    lab.wall_s += 100; // aged TTLs

    auto slow = lab.resolve("www.example.com.", "A");
    REQUIRE(slow.from_cache);
    auto quick = fast(lab, "www.example.com.", dns::type::A);
    REQUIRE_FALSE(quick.empty());
    CHECK(quick == slow.wire);

    SECTION("the question's case is kept")
    {
        auto slow_mixed = lab.resolve("WWW.Example.com.", "A");
        CHECK(fast(lab, "WWW.Example.com.", dns::type::A) == slow_mixed.wire);
    }
    SECTION("a small buffer truncates alike")
    {
        lab.add("example.com.", {"big.example.com. 300 IN TXT \"" + std::string(200, 'x') + "\"",
                                 "big.example.com. 300 IN TXT \"" + std::string(200, 'y') + "\"",
                                 "big.example.com. 300 IN TXT \"" + std::string(200, 'z') + "\""});
        lab.resolve("big.example.com.", "TXT");
        auto small = lab.resolve("big.example.com.", "TXT", {}, 512);
        CHECK(small.tc);
        CHECK(fast(lab, "big.example.com.", dns::type::TXT, {}, 512) == small.wire);
    }
    SECTION("declines what the Request must do itself")
    {
        lab.resolve("alias.example.com.", "A"); // cached: the CNAME and its target
        CHECK(fast(lab, "alias.example.com.", dns::type::A).empty());
        lab.resolve("v4.example.com.", "AAAA"); // cached NODATA
        CHECK(fast(lab, "v4.example.com.", dns::type::AAAA).empty());
        lab.resolve("nx.example.com.", "A"); // cached NXDOMAIN
        CHECK(fast(lab, "nx.example.com.", dns::type::A).empty());
        CHECK(fast(lab, "never.example.com.", dns::type::A).empty()); // a miss
        // Glue from the com. referral: good to reach ns1, not an answer.
        CHECK(fast(lab, "ns1.example.com.", dns::type::A).empty());
        RequestOptions nc;
        nc.no_cache = true;
        CHECK(fast(lab, "www.example.com.", dns::type::A, nc).empty());
        RequestOptions dbg;
        dbg.debug = true;
        CHECK(fast(lab, "www.example.com.", dns::type::A, dbg).empty());
    }
    SECTION("expired data is a miss")
    {
        lab.wall_s += 1000;
        CHECK(fast(lab, "www.example.com.", dns::type::A).empty());
    }
}

} // namespace

TEST_CASE("answer_from_cache equals the Request's answer (in-memory cache)", "[resolve]")
{
    Lab lab;
    same_as_request(lab);
}

TEST_CASE("answer_from_cache equals the Request's answer (LMDB cache)", "[resolve]")
{
    TempDir dir;
    auto lmdb = cache::Cache::open(dir.path, 16 * 1024 * 1024);
    Lab lab;
    lab.store = lmdb.get();
    same_as_request(lab);
}

TEST_CASE("answer_from_cache answers class IN only", "[resolve]")
{
    Lab lab;
    lab.resolve("www.example.com.", "A");
    dns::Query q = make_query("www.example.com.", dns::type::A);
    q.qclass = 3; // CH
    std::vector<uint8_t> buf(512);
    dns::ResponseBuilder b(buf, buf.size());
    REQUIRE(b.begin(q, 0));
    CHECK_FALSE(lab.res().answer_from_cache(q, {}, b));
}
