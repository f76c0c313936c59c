// Serve-stale (RFC 8767, RequestOptions::serve_stale_s), refreshes
// (RequestOptions::refresh) and the expiring-answer report of the
// cache-hit path (Config::on_expiring): what the modules serve_stale and
// predict build on.
#include "catch.hpp"
#include "lab.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

namespace {

RequestOptions stale_opts(uint32_t s = 86400) {
    RequestOptions o;
    o.serve_stale_s = s;
    return o;
}

void example_servers_down(Lab& lab, bool timeout = true) {
    for (const char* a : {"192.0.2.20", "192.0.2.21"}) {
        if (lab.servers.count(a) == 0) continue;
        if (timeout)
            lab.server(a).timeout = true;
        else
            lab.server(a).rcode = 2; // SERVFAIL
    }
}

} // namespace

TEST_CASE("serve-stale: expired data when every server fails", "[resolve][stale]") {
    Lab lab; // www.example.com. 300 A 192.0.2.80
    REQUIRE(lab.resolve("www.example.com.", "A").rcode == 0);
    lab.wall_s += 400; // expired 100 s ago

    SECTION("servers that time out: TTL 1 and EDE 3") {
        example_servers_down(lab);
        auto r = lab.resolve("www.example.com.", "A", stale_opts());
        CHECK(r.rcode == 0);
        CHECK(r.answer == lines{"www.example.com. 1 A 192.0.2.80"});
        REQUIRE(r.ede);
        CHECK(*r.ede == ede::STALE);
        CHECK(r.ede_text == "6Q6X");
        CHECK(r.queries > 0);
        CHECK_FALSE(r.from_cache);
    }
    SECTION("servers that answer SERVFAIL") {
        example_servers_down(lab, false);
        auto r = lab.resolve("www.example.com.", "A", stale_opts());
        CHECK(r.rcode == 0);
        CHECK(r.answer == lines{"www.example.com. 1 A 192.0.2.80"});
    }
    SECTION("without the option: SERVFAIL") {
        example_servers_down(lab);
        auto r = lab.resolve("www.example.com.", "A");
        CHECK(r.rcode == 2);
        CHECK(r.answer.empty());
    }
    SECTION("data expired longer ago than the limit: SERVFAIL") {
        example_servers_down(lab);
        auto r = lab.resolve("www.example.com.", "A", stale_opts(60));
        CHECK(r.rcode == 2);
        CHECK(r.answer.empty());
    }
    SECTION("a refresh never serves stale data") {
        example_servers_down(lab);
        auto o = stale_opts();
        o.refresh = true;
        CHECK(lab.resolve("www.example.com.", "A", o).rcode == 2);
    }
    SECTION("a name never cached: SERVFAIL") {
        example_servers_down(lab);
        CHECK(lab.resolve("other.example.com.", "A", stale_opts()).rcode == 2);
    }
    SECTION("servers that answer are used: no stale data") {
        auto r = lab.resolve("www.example.com.", "A", stale_opts());
        CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
        CHECK_FALSE(r.ede);
    }
}

TEST_CASE("serve-stale: a negative answer and a CNAME chain", "[resolve][stale]") {
    Lab lab;
    lab.add("example.com.", {"alias.example.com. 300 IN CNAME www.example.com."});
    REQUIRE(lab.resolve("nx.example.com.", "A").rcode == 3);
    REQUIRE(lab.resolve("alias.example.com.", "A").answer.size() == 2);
    lab.wall_s += 3600 * 3;
    example_servers_down(lab);

    auto nx = lab.resolve("nx.example.com.", "A", stale_opts());
    CHECK(nx.rcode == 3);
    REQUIRE(nx.authority.size() == 1);
    CHECK(nx.authority[0].find(" 1 SOA ") != std::string::npos);
    CHECK(nx.ede == ede::STALE);

    auto chain = lab.resolve("alias.example.com.", "A", stale_opts());
    CHECK(chain.rcode == 0);
    CHECK(chain.answer ==
          lines{"alias.example.com. 1 CNAME www.example.com.", "www.example.com. 1 A 192.0.2.80"});
}

TEST_CASE("serve-stale: after 3 s of waiting the stale answer goes out", "[resolve][stale]") {
    // Each in a fresh lab: server penalties carry over between requests.
    auto waited = [](std::optional<RequestOptions> opts, Result& r) {
        Lab lab;
        REQUIRE(lab.resolve("www.example.com.", "A").rcode == 0);
        lab.wall_s += 400;
        example_servers_down(lab); // silent: each query waits for its timeout
        const uint64_t before = lab.mono_ms;
        r = opts ? lab.resolve("www.example.com.", "A", *opts)
                 : lab.resolve("www.example.com.", "A");
        return lab.mono_ms - before;
    };
    Result failed, r, soon;
    const uint64_t without = waited(std::nullopt, failed);
    const uint64_t with = waited(stale_opts(), r);
    auto o = stale_opts();
    o.stale_after_ms = 1000; // serve_stale.timeout = 1*sec
    const uint64_t sooner = waited(o, soon);
    INFO("without serve-stale " << without << " ms, with " << with << " ms, 1 s: " << sooner);
    CHECK(failed.rcode == 2);
    CHECK(r.answer == lines{"www.example.com. 1 A 192.0.2.80"});
    CHECK(with >= kStaleAfterMs);
    CHECK(with < without);
    CHECK(soon.answer == lines{"www.example.com. 1 A 192.0.2.80"});
    CHECK(sooner >= 1000);
    CHECK(sooner < with);
}

TEST_CASE("refresh: the question goes upstream and the cache is rewritten", "[resolve]") {
    Lab lab;
    REQUIRE(lab.resolve("www.example.com.", "A").rcode == 0);
    lab.wall_s += 298;
    lab.clear_sent();
    RequestOptions o;
    o.refresh = true;
    auto r = lab.resolve("www.example.com.", "A", o);
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(lab.sent() == lines{"192.0.2.20 www.example.com. A"}); // the cached cut
    // The next client gets the new copy from the cache.
    lab.wall_s += 100;
    auto next = lab.resolve("www.example.com.", "A");
    CHECK(next.from_cache);
    CHECK(next.answer == lines{"www.example.com. 200 A 192.0.2.80"});
}

TEST_CASE("cache-hit path: answers about to expire are reported", "[resolve][predict]") {
    // Knot Resolver's rule: fewer than 5 s + 1% of the stored TTL left.
    CHECK(is_expiring(300, 4));
    CHECK(is_expiring(300, 7));
    CHECK_FALSE(is_expiring(300, 8));
    CHECK(is_expiring(86400, 868));
    CHECK_FALSE(is_expiring(86400, 869));
    CHECK(is_expiring(5, 5));

    TempDir dir;
    auto lmdb = cache::Cache::open(dir.path, 16 * 1024 * 1024);
    Lab lab;
    lab.store = lmdb.get();
    REQUIRE(lab.resolve("www.example.com.", "A").rcode == 0);
    REQUIRE(lab.resolve("nx.example.com.", "A").rcode == 3);
    std::vector<std::string> reported;
    lab.res().config().on_expiring = [&](const dns::Name& n, uint16_t t) {
        reported.push_back(dns::name_to_text(n.view()) + " " + type_name(t));
    };
    auto hit = [&](const char* name) {
        const dns::Query q = make_query(name, dns::type::A);
        std::vector<uint8_t> buf(4096);
        dns::ResponseBuilder b(buf, buf.size());
        REQUIRE(b.begin(q, 0, Request::ede_reserve()));
        return lab.res().answer_from_cache(q, {}, b);
    };
    CHECK(hit("www.example.com."));
    CHECK(reported.empty());
    lab.wall_s += 292; // 8 s left: not yet
    CHECK(hit("www.example.com."));
    CHECK(reported.empty());
    lab.wall_s += 1; // 7 s left
    CHECK(hit("WWW.example.com."));
    CHECK(reported == std::vector<std::string>{"www.example.com. A"});
    SECTION("a refresh request never takes the cache-hit path") {
        RequestOptions o;
        o.refresh = true;
        const dns::Query q = make_query("www.example.com.", dns::type::A);
        std::vector<uint8_t> buf(4096);
        dns::ResponseBuilder b(buf, buf.size());
        REQUIRE(b.begin(q, 0, Request::ede_reserve()));
        CHECK_FALSE(lab.res().answer_from_cache(q, o, b));
    }
}

TEST_CASE("request path: cached pieces about to expire are reported", "[resolve][predict]") {
    TempDir dir;
    auto lmdb = cache::Cache::open(dir.path, 16 * 1024 * 1024);
    Lab lab;
    lab.store = lmdb.get();
    lab.add("example.com.", {"alias.example.com. 300 IN CNAME www.example.com."});
    REQUIRE(lab.resolve("alias.example.com.", "A").answer.size() == 2);
    std::vector<std::string> reported;
    lab.res().config().on_expiring = [&](const dns::Name& n, uint16_t t) {
        reported.push_back(dns::name_to_text(n.view()) + " " + type_name(t));
    };
    lab.wall_s += 200;
    CHECK(lab.resolve("alias.example.com.", "A").from_cache);
    CHECK(reported.empty());
    lab.wall_s += 94; // 6 s left of both
    CHECK(lab.resolve("alias.example.com.", "A").from_cache);
    // As Knot Resolver's sub-queries: the CNAME's question, then the target's.
    CHECK(reported == std::vector<std::string>{"alias.example.com. A", "www.example.com. A"});
    SECTION("not for refreshes nor for stale answers") {
        reported.clear();
        RequestOptions o;
        o.refresh = true;
        lab.resolve("alias.example.com.", "A", o);
        CHECK(reported.empty());
    }
}

TEST_CASE("serve-stale: a forwarding target that stopped answering", "[resolve][stale]") {
    Lab lab;
    lab.server("192.0.2.53").script = [](const SentQuery& q) -> std::optional<Reply> {
        Reply r;
        if (q.qname == "www.example.org." && q.qtype == "A")
            r.answer = {"www.example.org. 60 IN A 198.51.100.7"};
        else
            r.rcode = dns::rcode::SERVFAIL;
        return r;
    };
    RequestOptions o = stale_opts();
    o.forward.push_back(addr("192.0.2.53"));
    REQUIRE(lab.resolve("www.example.org.", "A", o).rcode == 0);
    lab.wall_s += 3600;
    lab.server("192.0.2.53").timeout = true;
    auto r = lab.resolve("www.example.org.", "A", o);
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"www.example.org. 1 A 198.51.100.7"});
    CHECK(r.ede == ede::STALE);
}
