// Resolver::answer_from_cache, the cache-hit path: it must give byte for
// byte the answer a Request gives from the same cache (RRsets, NXDOMAIN,
// NODATA), and nothing at all whenever the Request has more to do (CNAMEs,
// glue, misses).
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
    SECTION("a cached NODATA or NXDOMAIN is the Request's answer too")
    {
        REQUIRE(lab.resolve("v4.example.com.", "AAAA").queries > 0); // cached NODATA
        REQUIRE(lab.resolve("nx.example.com.", "A").queries > 0);    // cached NXDOMAIN
        lab.wall_s += 10;
        const struct {
            const char* name;
            const char* type_text;
            uint16_t type;
        } asked[] = {
            {"v4.example.com.", "AAAA", dns::type::AAAA},
            {"V4.Example.COM.", "AAAA", dns::type::AAAA},
            {"nx.example.com.", "A", dns::type::A},
            {"nx.example.com.", "TXT", dns::type::TXT}, // NXDOMAIN: every type
            {"NX.example.com.", "MX", dns::type::MX},
        };
        for (const auto& a : asked) {
            INFO(a.name << " " << a.type_text);
            for (int i = 0; i < 2; ++i) { // the second time from LMDB's front table
                auto slow = lab.resolve(a.name, a.type_text);
                REQUIRE(slow.from_cache);
                CHECK(fast(lab, a.name, a.type) == slow.wire);
            }
        }
        // Data stored since: the positive answer, at once.
        const std::vector<uint8_t> v6(16, 1);
        dns::Name owner;
        REQUIRE(dns::name_from_text("v4.example.com.", owner));
        REQUIRE(lab.store->put_rrset(owner.view(), dns::type::AAAA, 300, {v6},
                                     cache::Rank::auth_answer, lab.wall_s));
        auto slow = lab.resolve("v4.example.com.", "AAAA");
        REQUIRE(slow.answer.size() == 1);
        CHECK(fast(lab, "v4.example.com.", dns::type::AAAA) == slow.wire);
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
