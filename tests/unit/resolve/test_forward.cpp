// FORWARD / STUB: the full question with RD=1 to configured targets, in
// order of their RTT, failing over; no iteration.
#include "catch.hpp"
#include "lab.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

namespace {

// A recursive resolver's answers, for any question.
std::optional<Reply> recursive(const SentQuery& q)
{
    Reply r;
    if (q.qname == "www.example.org." && q.qtype == "A") {
        r.answer = {"www.example.org. 120 IN CNAME web.example.net.",
                    "web.example.net. 60 IN A 198.51.100.7"};
    } else if (q.qname == "nope.example.org.") {
        r.rcode = dns::rcode::NXDOMAIN;
        r.authority = {"example.org. 900 IN SOA ns.example.org. h.example.org. 1 2 3 4 600"};
    } else {
        r.rcode = dns::rcode::SERVFAIL;
    }
    return r;
}

RequestOptions forward_to(std::initializer_list<const char*> targets, bool stub = false)
{
    RequestOptions o;
    for (const char* t : targets)
        o.forward.push_back(addr(t));
    o.stub = stub;
    return o;
}

} // namespace

TEST_CASE("forwarding sends the full question with RD=1", "[resolve]")
{
    Lab lab;
    lab.server("127.0.0.1@5300").script = recursive;
    auto r = lab.resolve("www.example.org.", "A", forward_to({"127.0.0.1@5300"}));
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"www.example.org. 120 CNAME web.example.net.",
                            "web.example.net. 60 A 198.51.100.7"});
    CHECK(lab.sent() == lines{"127.0.0.1@5300 www.example.org. A rd"});
    // Cached as non-authoritative data.
    REQUIRE(lab.cache.has("web.example.net.", dns::type::A));
    CHECK(lab.cache.find("web.example.net.", dns::type::A)->rank == cache::Rank::nonauth);
    CHECK(lab.cache.find("www.example.org.", dns::type::CNAME)->rank == cache::Rank::nonauth);

    lab.clear_sent();
    auto again = lab.resolve("www.example.org.", "A", forward_to({"127.0.0.1@5300"}));
    CHECK(again.from_cache);
    CHECK(lab.sent().empty());
}

TEST_CASE("forwarding fails over and remembers the dead target", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.53").timeout = true;
    lab.server("192.0.2.54").script = recursive;
    auto r = lab.resolve("www.example.org.", "A", forward_to({"192.0.2.53", "192.0.2.54"}));
    CHECK(r.rcode == 0);
    CHECK(lab.sent() ==
          lines{"192.0.2.53 www.example.org. A rd", "192.0.2.54 www.example.org. A rd"});

    lab.clear_sent();
    auto nx = lab.resolve("nope.example.org.", "A", forward_to({"192.0.2.53", "192.0.2.54"}));
    CHECK(nx.rcode == dns::rcode::NXDOMAIN);
    CHECK(nx.authority ==
          lines{"example.org. 600 SOA ns.example.org. h.example.org. 1 2 3 4 600"});
    CHECK(lab.sent() == lines{"192.0.2.54 nope.example.org. A rd"});
}

TEST_CASE("forwarding: SERVFAIL from a target means the next one", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.53").rcode = dns::rcode::SERVFAIL;
    lab.server("192.0.2.54").script = recursive;
    SECTION("one good target")
    {
        auto r = lab.resolve("www.example.org.", "A", forward_to({"192.0.2.53", "192.0.2.54"}));
        CHECK(r.rcode == 0);
        CHECK(r.queries == 2);
    }
    SECTION("none: SERVFAIL with NO_REACHABLE_AUTHORITY")
    {
        auto r = lab.resolve("www.example.org.", "A", forward_to({"192.0.2.53"}, true));
        CHECK(r.rcode == dns::rcode::SERVFAIL);
        CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
        CHECK(r.queries == 1);
    }
    SECTION("a referral from a target is not followed")
    {
        lab.server("192.0.2.55").script = [](const SentQuery&) -> std::optional<Reply> {
            Reply r;
            r.authority = {"org. 172800 IN NS a0.org.afilias-nst.info."};
            return r;
        };
        auto r = lab.resolve("www.example.org.", "A", forward_to({"192.0.2.55", "192.0.2.54"}));
        CHECK(r.rcode == 0);
        CHECK(lab.sent() ==
              lines{"192.0.2.55 www.example.org. A rd", "192.0.2.54 www.example.org. A rd"});
    }
}

TEST_CASE("forwarding: targets in order of their RTT", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.53").script = recursive;
    lab.server("192.0.2.54").script = recursive;
    lab.res().servers().on_reply(addr("192.0.2.53"), 90, lab.mono_ms);
    lab.res().servers().on_reply(addr("192.0.2.54"), 3, lab.mono_ms);
    RequestOptions o = forward_to({"192.0.2.53", "192.0.2.54"});
    o.no_cache = true;
    lab.resolve("www.example.org.", "A", o);
    CHECK(lab.sent() == lines{"192.0.2.54 www.example.org. A rd"});
}

TEST_CASE("TLS forwarding: every query over TLS with the target's settings", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.53@853").script = recursive;
    lab.server("192.0.2.54@853").script = recursive;
    auto a = std::make_shared<TlsAuth>();
    a->hostname = "a.example";
    auto b = std::make_shared<TlsAuth>();
    b->hostname = "b.example";
    RequestOptions o = forward_to({"192.0.2.53@853", "192.0.2.54@853"});
    o.forward_tls = {a, b};

    SECTION("the answer comes back over TLS")
    {
        auto r = lab.resolve("www.example.org.", "A", o);
        CHECK(r.rcode == 0);
        REQUIRE(lab.queries.size() == 1);
        CHECK(lab.queries[0].tls == a.get());
        CHECK(lab.sent() == lines{"192.0.2.53@853 www.example.org. A tls rd"});
    }
    SECTION("a TLS failure moves on at once, and is not retried in cleartext")
    {
        lab.server("192.0.2.53@853").tls_fails = true;
        auto r = lab.resolve("www.example.org.", "A", o);
        CHECK(r.rcode == 0);
        CHECK(lab.sent() == lines{"192.0.2.53@853 www.example.org. A tls rd",
                                  "192.0.2.54@853 www.example.org. A tls rd"});
        CHECK(lab.queries[1].tls == b.get());
    }
    SECTION("all failing: SERVFAIL with NO_REACHABLE_AUTHORITY")
    {
        lab.server("192.0.2.53@853").tls_fails = true;
        lab.server("192.0.2.54@853").timeout = true;
        auto r = lab.resolve("www.example.org.", "A", o);
        CHECK(r.rcode == dns::rcode::SERVFAIL);
        CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
        for (const auto& q : lab.queries)
            CHECK(q.proto == Proto::tls);
    }
}
