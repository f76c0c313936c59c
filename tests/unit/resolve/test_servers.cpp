// Misbehaving servers: lame, REFUSED, timing out, truncating, no EDNS; and
// how server selection remembers them.
#include "catch.hpp"
#include "lab.hpp"
#include "resolve/servers.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

TEST_CASE("a REFUSED server is penalised and the other one asked", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.20").rcode = dns::rcode::REFUSED;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 www.example.com. A", "192.0.2.21 www.example.com. A"});
    CHECK(lab.res().servers().penalised(addr("192.0.2.20"), lab.mono_ms));

    // The next request goes to the good server first.
    lab.add("example.com.", {"ftp.example.com. 300 IN A 192.0.2.82"});
    lab.clear_sent();
    auto next = lab.resolve("ftp.example.com.", "A");
    CHECK(next.answer == lines{"ftp.example.com. 300 A 192.0.2.82"});
    CHECK(lab.sent() == lines{"192.0.2.21 ftp.example.com. A"});
}

TEST_CASE("a lame server (upward referral) is skipped", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.20").script = [](const SentQuery&) -> std::optional<Reply> {
        Reply r; // "ask the com servers": upward, not below the cut
        r.authority = {"com. 172800 IN NS a.gtld-servers.net."};
        r.additional = {"a.gtld-servers.net. 172800 IN A 192.0.2.10"};
        return r;
    };
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 www.example.com. A", "192.0.2.21 www.example.com. A"});
}

TEST_CASE("all servers lame: SERVFAIL with NO_REACHABLE_AUTHORITY", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.20").rcode = dns::rcode::SERVFAIL;
    lab.server("192.0.2.21").rcode = dns::rcode::REFUSED;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
    CHECK(r.answer.empty());
    CHECK(r.queries == 4);
}

TEST_CASE("a server that times out is left for another, and avoided later", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.20").timeout = true;
    const uint64_t start = lab.mono_ms;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 www.example.com. A", "192.0.2.21 www.example.com. A"});
    // An unknown server gets a timeout from the initial estimate, within limits.
    const uint64_t spent = lab.mono_ms - start;
    CHECK(spent >= 200 + 30);
    CHECK(spent <= 3000 + 30);
    const auto* stats = lab.res().servers().find(addr("192.0.2.20"));
    REQUIRE(stats != nullptr);
    CHECK(stats->timeouts == 1);
    CHECK(stats->backoff == 2);

    lab.add("example.com.", {"ftp.example.com. 300 IN A 192.0.2.82"});
    lab.clear_sent();
    auto next = lab.resolve("ftp.example.com.", "A");
    CHECK(next.answer == lines{"ftp.example.com. 300 A 192.0.2.82"});
    CHECK(lab.sent() == lines{"192.0.2.21 ftp.example.com. A"});

    SECTION("once the penalty is over it is tried again, with a longer timeout")
    {
        lab.mono_ms += 60000;
        lab.res().servers().on_reply(addr("192.0.2.21"), 500, lab.mono_ms); // now slow
        lab.add("example.com.", {"mx.example.com. 300 IN A 192.0.2.83"});
        lab.clear_sent();
        Resolver::ServerStats& s = lab.res().servers();
        CHECK_FALSE(s.penalised(addr("192.0.2.20"), lab.mono_ms));
        const uint32_t t = s.timeout_ms(addr("192.0.2.20"), lab.config.limits);
        CHECK(t > 430);
        auto third = lab.resolve("mx.example.com.", "A");
        CHECK(third.answer == lines{"mx.example.com. 300 A 192.0.2.83"});
        CHECK(lab.sent() == lines{"192.0.2.20 mx.example.com. A", "192.0.2.21 mx.example.com. A"});
    }
}

TEST_CASE("TC=1 over UDP: the same server is asked over TCP", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.20").tc_udp = true;
    lab.server("192.0.2.21").tc_udp = true;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 www.example.com. A",
                              "192.0.2.20 www.example.com. A tcp"});

    SECTION("RequestOptions::tcp asks over TCP from the start")
    {
        lab.clear_sent();
        RequestOptions o;
        o.tcp = true;
        o.no_cache = true;
        auto t = lab.resolve("www.example.com.", "A", o);
        CHECK(t.answer == r.answer);
        for (const auto& q : lab.queries)
            CHECK(q.proto == Proto::tcp);
    }
}

TEST_CASE("FORMERR to an EDNS query: asked again without EDNS", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.20").no_edns = true;
    lab.server("192.0.2.21").no_edns = true;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 www.example.com. A",
                              "192.0.2.20 www.example.com. A noedns"});
    // The server is remembered: no EDNS next time.
    lab.clear_sent();
    lab.resolve("nope.example.com.", "A");
    CHECK(lab.sent() == lines{"192.0.2.20 nope.example.com. A noedns"});
}

TEST_CASE("REFUSED to a minimised query: the full name is asked", "[resolve]")
{
    Lab lab;
    lab.add("example.com.", {"a.b.example.com. 300 IN A 192.0.2.7"});
    lab.server("192.0.2.20").refuse_minimised_ns = true;
    auto r = lab.resolve("a.b.example.com.", "A");
    CHECK(r.answer == lines{"a.b.example.com. 300 A 192.0.2.7"});
    CHECK(lab.sent() == lines{"198.41.0.4 com. NS", "192.0.2.10 example.com. NS",
                              "192.0.2.20 b.example.com. NS", "192.0.2.20 a.b.example.com. A"});
}

TEST_CASE("server selection prefers the fastest known server", "[resolve]")
{
    Lab lab;
    Resolver::ServerStats& s = lab.res().servers();
    s.on_reply(addr("192.0.2.20"), 80, lab.mono_ms);
    s.on_reply(addr("192.0.2.21"), 5, lab.mono_ms);
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(lab.sent().back() == "192.0.2.21 www.example.com. A");
}

TEST_CASE("ServerStats: RTT smoothing, back-off, penalties, choice", "[resolve]")
{
    Resolver::ServerStats s;
    Limits lim;
    const Address a = addr("192.0.2.1"), b = addr("192.0.2.2"), c = addr("2001:db8::1");
    // Unknown: the initial estimate (30 + 4*100), inside [200, 3000].
    CHECK(s.timeout_ms(a, lim) == 430);
    s.on_reply(a, 100, 0);
    CHECK(s.find(a)->srtt_ms == 100);
    CHECK(s.timeout_ms(a, lim) == 300);
    s.on_reply(a, 20, 0);
    CHECK(s.find(a)->srtt_ms == 90);
    s.on_timeout(a, 1000);
    CHECK(s.find(a)->backoff == 2);
    CHECK(s.penalised(a, 1000));
    CHECK(s.penalised(a, 2999));
    CHECK_FALSE(s.penalised(a, 3000));
    for (int i = 0; i < 10; ++i)
        s.on_timeout(a, 1000);
    CHECK(s.find(a)->backoff == Resolver::ServerStats::kMaxBackoff);
    CHECK(s.timeout_ms(a, lim) == lim.max_timeout_ms);
    s.on_reply(a, 50, 2000);
    CHECK(s.find(a)->backoff == 1);
    CHECK_FALSE(s.penalised(a, 2000));

    // choose(): non-penalised first, then by estimate; unknown = 30 ms.
    const std::vector<Address> cands{a, b, c};
    CHECK(s.choose(cands, 2000, 99, 0) == 1); // b unknown (30) beats a (~94)
    s.on_reply(b, 200, 2000);
    CHECK(s.choose(cands, 2000, 99, 0) == 2); // c unknown now best
    s.on_failure(c, 2000);
    CHECK(s.choose(cands, 2000, 99, 0) == 0);
    // All penalised: the best of them still gets asked.
    s.on_failure(a, 2000);
    s.on_failure(b, 2000);
    CHECK(s.choose(cands, 2000, 99, 0) == 2);
    // Exploration picks among non-penalised ones when the dice say so.
    const std::vector<Address> two{a, b};
    s.on_reply(a, 10, 9000);
    s.on_reply(b, 10, 9000);
    CHECK(s.choose(two, 9000, 1 * 100 + 0, 5) == 1); // 0 < 5: explore, pick index 1
    CHECK(s.choose(two, 9000, 1 * 100 + 50, 5) == 0); // 50 >= 5: best
}
