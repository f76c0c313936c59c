// The answer written for the client: flags, sections, TC when it does not
// fit, the EDE option on failures.
#include "catch.hpp"
#include "lab.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

TEST_CASE("answers that do not fit the client's buffer set TC", "[resolve]")
{
    Lab lab;
    lines big;
    for (int i = 0; i < 40; ++i)
        big.push_back("big.example.com. 300 IN TXT \"record number " + std::to_string(i) +
                      " with some padding to make it long\"");
    lab.add("example.com.", big);
    auto full = lab.resolve("big.example.com.", "TXT");
    CHECK(full.rcode == 0);
    CHECK(full.answer.size() == 40);
    CHECK_FALSE(full.tc);

    auto small = lab.resolve("big.example.com.", "TXT", {}, 512);
    CHECK(small.tc);
    CHECK(small.rcode == 0);
    CHECK(small.answer.size() < 40);
    CHECK(small.wire.size() <= 512);
}

TEST_CASE("SERVFAIL carries the EDE code and text, when there is room", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.20").rcode = dns::rcode::SERVFAIL;
    lab.server("192.0.2.21").rcode = dns::rcode::SERVFAIL;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
    CHECK(r.ede_text == "no reachable authority");

    SECTION("without reserved room the option is left out, harmlessly")
    {
        Request req(lab.res(), make_query("www.example.com.", dns::type::A), {});
        Outgoing out;
        while (req.produce(out) == Step::send) {
            auto reply = lab.respond(out);
            REQUIRE(reply);
            REQUIRE(req.consume(*reply, out.to, out.proto));
        }
        std::vector<uint8_t> buf(512);
        dns::ResponseBuilder b(buf, buf.size());
        REQUIRE(b.begin(make_query("www.example.com.", dns::type::A), 0));
        req.write_answer(b);
        CHECK(b.rcode() == dns::rcode::SERVFAIL);
        CHECK(b.count(dns::Section::answer) == 0);
        CHECK(b.finish() > 12);
    }
}

TEST_CASE("write_answer copies the question's case and clears AA", "[resolve]")
{
    Lab lab;
    auto r = lab.resolve("WWW.example.com.", "A");
    CHECK(r.answer == lines{"WWW.example.com. 300 A 192.0.2.80"});
    CHECK_FALSE(r.aa);
    CHECK(r.ra);
}

TEST_CASE("Request without a cache still resolves", "[resolve]")
{
    Lab lab;
    RequestOptions o;
    o.no_cache = true;
    auto r = lab.resolve("www.example.com.", "A", o);
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(lab.cache.count() == 0);
    auto again = lab.resolve("www.example.com.", "A", o);
    CHECK(again.queries == 3);

    SECTION("and with a null cache")
    {
        Clock clock{[&] { return lab.mono_ms; }, [&] { return lab.wall_s; }};
        Resolver res(lab.config, nullptr, clock, [] { return 7u; });
        Request req(res, make_query("www.example.com.", dns::type::A), {});
        Outgoing out;
        int rounds = 0;
        while (req.produce(out) == Step::send) {
            REQUIRE(++rounds < 10);
            auto reply = lab.respond(out);
            REQUIRE(reply);
            REQUIRE(req.consume(*reply, out.to, out.proto));
        }
        CHECK(req.rcode() == 0);
    }
}
