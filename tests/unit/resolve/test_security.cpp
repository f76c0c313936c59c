// Poisoning and spoofing: out-of-bailiwick records are neither used nor
// cached; replies that do not match the query in flight are dropped; glue
// pointing into private networks is not followed without ALLOW_LOCAL.
#include "catch.hpp"
#include "dns/query_writer.hpp"
#include "lab.hpp"
#include "resolve/names.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

// bank.org at 192.0.2.60, reached through org. (same gTLD server).
static void add_bank(Lab& lab)
{
    lab.add(".", {"org. 172800 IN NS a.gtld-servers.net."});
    lab.zone("192.0.2.10", "org.",
             {"org. 900 IN SOA a.gtld-servers.net. n.org. 1 1800 900 604800 86400",
              "org. 172800 IN NS a.gtld-servers.net.",
              "bank.org. 172800 IN NS ns.bank.org.", "ns.bank.org. 172800 IN A 192.0.2.60"});
    lab.zone("192.0.2.60", "bank.org.",
             {"bank.org. 3600 IN SOA ns.bank.org. h.bank.org. 1 7200 3600 1209600 300",
              "bank.org. 3600 IN NS ns.bank.org.", "ns.bank.org. 3600 IN A 192.0.2.60",
              "www.bank.org. 300 IN A 192.0.2.66"});
}

TEST_CASE("a referral carrying records for unrelated names: not cached, not used", "[resolve]")
{
    Lab lab;
    add_bank(lab);
    lab.server("192.0.2.10").script = [](const SentQuery& q) -> std::optional<Reply> {
        if (q.qname != "example.com.")
            return std::nullopt;
        Reply r;
        r.authority = {"example.com. 172800 IN NS ns1.example.com.",
                       "bank.org. 172800 IN NS ns.evil.net."};
        r.additional = {"ns1.example.com. 172800 IN A 192.0.2.20",
                        "ns.evil.net. 172800 IN A 203.0.113.66",
                        "www.bank.org. 172800 IN A 203.0.113.66"};
        return r;
    };
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK_FALSE(lab.cache.knows("bank.org."));
    CHECK_FALSE(lab.cache.knows("www.bank.org."));
    CHECK_FALSE(lab.cache.knows("ns.evil.net."));

    lab.clear_sent();
    lab.server("192.0.2.10").script = nullptr;
    auto bank = lab.resolve("www.bank.org.", "A");
    CHECK(bank.answer == lines{"www.bank.org. 300 A 192.0.2.66"});
    for (const auto& line : lab.sent())
        CHECK(line.find("203.0.113.66") == std::string::npos);
}

TEST_CASE("an answer carrying records for unrelated names: not cached, not used", "[resolve]")
{
    Lab lab;
    add_bank(lab);
    lab.add("example.com.", {"alias.example.com. 300 IN CNAME www.bank.org."});
    lab.server("192.0.2.20").script = [](const SentQuery& q) -> std::optional<Reply> {
        Reply r;
        r.aa = true;
        if (q.qname == "alias.example.com.") {
            r.answer = {"alias.example.com. 300 IN CNAME www.bank.org.",
                        "www.bank.org. 86400 IN A 203.0.113.66"};
        } else if (q.qname == "www.example.com.") {
            r.answer = {"www.example.com. 300 IN A 192.0.2.80",
                        "www.bank.org. 86400 IN A 203.0.113.66"};
            r.additional = {"ns.bank.org. 86400 IN A 203.0.113.66"};
        } else {
            return std::nullopt;
        }
        return r;
    };
    lab.server("192.0.2.21").timeout = true;
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK_FALSE(lab.cache.knows("www.bank.org."));
    CHECK_FALSE(lab.cache.knows("ns.bank.org."));

    // The CNAME target is resolved at its own servers, not taken from the
    // example.com reply.
    auto chained = lab.resolve("alias.example.com.", "A");
    CHECK(chained.answer ==
          lines{"alias.example.com. 300 CNAME www.bank.org.", "www.bank.org. 300 A 192.0.2.66"});
    REQUIRE(lab.cache.has("www.bank.org.", dns::type::A));
    const auto& rd = lab.cache.find("www.bank.org.", dns::type::A)->rdatas;
    CHECK(rd == std::vector<std::vector<uint8_t>>{{192, 0, 2, 66}});
}

TEST_CASE("a sideways referral to an unrelated zone is lame", "[resolve]")
{
    Lab lab;
    lab.server("192.0.2.20").script = [](const SentQuery&) -> std::optional<Reply> {
        Reply r;
        r.authority = {"bank.org. 172800 IN NS ns.evil.net."};
        r.additional = {"ns.evil.net. 172800 IN A 203.0.113.66"};
        return r;
    };
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(lab.sent().back() == "192.0.2.21 www.example.com. A");
    CHECK_FALSE(lab.cache.knows("bank.org."));
}

TEST_CASE("forged replies are dropped and the real one then accepted", "[resolve]")
{
    Lab lab;
    Request req(lab.res(), make_query("www.example.com.", dns::type::A), {});
    Outgoing out;
    REQUIRE(req.produce(out) == Step::send);
    CHECK(out.to.family() == AF_INET);
    CHECK(address_to_string(out.to) == "198.41.0.4@53");
    CHECK(out.proto == Proto::udp);
    CHECK(out.timeout_ms >= lab.config.limits.min_timeout_ms);
    auto real = lab.respond(out);
    REQUIRE(real);

    SECTION("wrong ID")
    {
        auto forged = *real;
        forged[1] ^= 0x01;
        CHECK_FALSE(req.consume(forged, out.to, out.proto));
    }
    SECTION("wrong question name")
    {
        // The same reply, but for another question (and the right ID).
        dns::Name other = name_of("org.");
        auto q = dns::write_query(other.view(), dns::type::NS, dns::klass::IN,
                                  {static_cast<uint16_t>((out.wire[0] << 8) | out.wire[1])});
        Outgoing fake = out;
        fake.wire = q;
        auto forged = lab.respond(fake);
        REQUIRE(forged);
        CHECK_FALSE(req.consume(*forged, out.to, out.proto));
    }
    SECTION("wrong question type")
    {
        dns::Name com = name_of("com.");
        auto q = dns::write_query(com.view(), dns::type::A, dns::klass::IN,
                                  {static_cast<uint16_t>((out.wire[0] << 8) | out.wire[1])});
        Outgoing fake = out;
        fake.wire = q;
        auto forged = lab.respond(fake);
        REQUIRE(forged);
        CHECK_FALSE(req.consume(*forged, out.to, out.proto));
    }
    SECTION("wrong source address, port or transport")
    {
        CHECK_FALSE(req.consume(*real, addr("198.41.0.5"), out.proto));
        CHECK_FALSE(req.consume(*real, addr("198.41.0.4@5353"), out.proto));
        CHECK_FALSE(req.consume(*real, out.to, Proto::tcp));
    }
    SECTION("not a response, or garbage")
    {
        auto query = out.wire; // QR=0
        CHECK_FALSE(req.consume(query, out.to, out.proto));
        std::vector<uint8_t> junk(real->begin(), real->begin() + 14);
        CHECK_FALSE(req.consume(junk, out.to, out.proto));
        CHECK_FALSE(req.consume({}, out.to, out.proto));
    }
    // Nothing changed: the real reply is accepted and resolution goes on.
    CHECK(req.consume(*real, out.to, out.proto));
    CHECK_FALSE(req.consume(*real, out.to, out.proto)); // not twice
    int rounds = 0;
    while (req.produce(out) == Step::send) {
        REQUIRE(++rounds < 10);
        auto reply = lab.respond(out);
        REQUIRE(reply);
        REQUIRE(req.consume(*reply, out.to, out.proto));
    }
    CHECK(req.rcode() == 0);
    CHECK(lab.cache.has("www.example.com.", dns::type::A));
}

TEST_CASE("the question is matched case-insensitively", "[resolve]")
{
    Lab lab;
    Request req(lab.res(), make_query("WwW.ExAmPlE.CoM.", dns::type::A), {});
    Outgoing out;
    REQUIRE(req.produce(out) == Step::send);
    auto reply = lab.respond(out);
    REQUIRE(reply);
    CHECK(lab.sent().front() == "198.41.0.4 CoM. NS");
    // The reply's question in other letters: "cOm."
    REQUIRE((*reply)[13] == 'C');
    (*reply)[13] = 'c';
    (*reply)[14] = 'O';
    CHECK(req.consume(*reply, out.to, out.proto));
}

TEST_CASE("private addresses from glue are refused unless ALLOW_LOCAL", "[resolve]")
{
    Lab lab;
    lab.add("com.", {"intranet.com. 172800 IN NS ns.intranet.com.",
                     "ns.intranet.com. 172800 IN A 10.0.0.53"});
    lab.zone("10.0.0.53", "intranet.com.",
             {"intranet.com. 3600 IN SOA ns.intranet.com. h.intranet.com. 1 7200 3600 1209600 300",
              "intranet.com. 3600 IN NS ns.intranet.com.", "ns.intranet.com. 3600 IN A 10.0.0.53",
              "www.intranet.com. 300 IN A 10.0.0.80"});

    SECTION("refused by default")
    {
        auto r = lab.resolve("www.intranet.com.", "A");
        CHECK(r.rcode == dns::rcode::SERVFAIL);
        CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
        for (const auto& line : lab.sent())
            CHECK(line.rfind("10.", 0) == std::string::npos);
    }
    SECTION("allowed per request")
    {
        RequestOptions o;
        o.allow_local = true;
        auto r = lab.resolve("www.intranet.com.", "A", o);
        CHECK(r.answer == lines{"www.intranet.com. 300 A 10.0.0.80"});
        CHECK(lab.sent().back() == "10.0.0.53 www.intranet.com. A");
    }
    SECTION("allowed by configuration")
    {
        lab.config.allow_local = true;
        auto r = lab.resolve("www.intranet.com.", "A");
        CHECK(r.answer == lines{"www.intranet.com. 300 A 10.0.0.80"});
    }
}

TEST_CASE("root hints on loopback are always allowed", "[resolve]")
{
    Lab lab;
    lab.config.root_hints = {{name_of("a.root-servers.net."), {addr("127.0.0.2")}}};
    lab.servers["127.0.0.2"] = lab.servers["198.41.0.4"];
    auto r = lab.resolve("www.example.com.", "A");
    CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
    CHECK(lab.sent().front() == "127.0.0.2 com. NS");
}

TEST_CASE("mutated replies never break a request", "[resolve]")
{
    uint32_t seed = 1;
    auto next = [&seed] {
        seed = seed * 1664525u + 1013904223u;
        return seed >> 8;
    };
    for (int round = 0; round < 300; ++round) {
        Lab lab;
        lab.add("example.com.", {"alias.example.com. 300 IN CNAME www.example.com."});
        Request req(lab.res(), make_query("alias.example.com.", dns::type::A), {});
        Outgoing out;
        int steps = 0;
        while (req.produce(out) == Step::send) {
            REQUIRE(++steps < 200);
            auto reply = lab.respond(out);
            if (!reply) { // a mutated glue address led nowhere
                req.timeout();
                continue;
            }
            auto bad = *reply;
            const unsigned flips = 1 + next() % 4;
            for (unsigned i = 0; i < flips; ++i)
                bad[next() % bad.size()] = static_cast<uint8_t>(next());
            if (next() % 4 == 0)
                bad.resize(next() % bad.size());
            if (!req.consume(bad, out.to, out.proto) && !req.consume(*reply, out.to, out.proto))
                req.timeout();
        }
        std::vector<uint8_t> buf(4096);
        dns::ResponseBuilder b(buf, buf.size());
        REQUIRE(b.begin(make_query("alias.example.com.", dns::type::A), 0,
                        Request::ede_reserve()));
        req.write_answer(b);
        CHECK(b.finish() >= 12);
    }
}
