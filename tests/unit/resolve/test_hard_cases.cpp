// Authoritative servers that misbehave, and how resolution keeps going:
// other NS names when the glued ones fail, the parent's servers when a
// cached cut fails, RFC 9156 fallbacks, lame NODATA without SOA, RFC 2181
// credibility, a delegation that moved, and loops that must end fast.
#include "catch.hpp"
#include "lab.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

namespace {

const char* kSoa = " 3600 IN SOA ns.hosting.net. h.hosting.net. 1 7200 3600 1209600 300";

// hosting.net. on 192.0.2.30 with ns.hosting.net. (glue in net.).
void add_hosting(Lab& lab)
{
    lab.add("net.", {"hosting.net. 172800 IN NS ns.hosting.net.",
                     "ns.hosting.net. 172800 IN A 192.0.2.30"});
    lab.zone("192.0.2.30", "hosting.net.",
             {std::string("hosting.net.") + kSoa, "hosting.net. 3600 IN NS ns.hosting.net.",
              "ns.hosting.net. 3600 IN A 192.0.2.30"});
}

size_t count_to(const Lab& lab, const std::string& server)
{
    size_t n = 0;
    for (const auto& q : lab.queries)
        n += q.server == server ? 1 : 0;
    return n;
}

} // namespace

TEST_CASE("the glued servers fail: the other NS names are resolved and asked", "[resolve][hard]")
{
    Lab lab;
    add_hosting(lab);
    lab.add("com.", {"z1.com. 172800 IN NS ns1.z1.com.", "z1.com. 172800 IN NS ns.hosting.net.",
                     "ns1.z1.com. 172800 IN A 192.0.2.40"});
    const lines zone{std::string("z1.com.") + kSoa, "z1.com. 3600 IN NS ns1.z1.com.",
                     "z1.com. 3600 IN NS ns.hosting.net.", "www.z1.com. 300 IN A 192.0.2.41"};
    lab.zone("192.0.2.30", "z1.com.", zone);
    lab.zone("192.0.2.40", "z1.com.", {});
    lab.config.minimize = false;

    SECTION("it never answers") { lab.server("192.0.2.40").timeout = true; }
    SECTION("it answers REFUSED") { lab.server("192.0.2.40").rcode = dns::rcode::REFUSED; }
    SECTION("it answers SERVFAIL") { lab.server("192.0.2.40").rcode = dns::rcode::SERVFAIL; }
    SECTION("its answer is lame (no AA, no referral)")
    {
        lab.server("192.0.2.40").script = [](const SentQuery&) -> std::optional<Reply> {
            return Reply{};
        };
    }
    auto r = lab.resolve("www.z1.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"www.z1.com. 300 A 192.0.2.41"});
    CHECK(count_to(lab, "192.0.2.30") >= 1);
}

TEST_CASE("every server of a cached cut fails: the parent's servers are asked again",
          "[resolve][hard]")
{
    Lab lab;
    // The parent delegates to ns2 (alive); the child's own NS set names
    // only ns1, which is gone.
    lab.add("com.", {"z2.com. 172800 IN NS ns2.z2.com.", "ns2.z2.com. 172800 IN A 192.0.2.51"});
    lab.zone("192.0.2.51", "z2.com.",
             {std::string("z2.com.") + kSoa, "z2.com. 3600 IN NS ns1.z2.com.",
              "ns1.z2.com. 3600 IN A 192.0.2.50", "www.z2.com. 300 IN A 192.0.2.52"});
    lab.server("192.0.2.50").timeout = true;
    auto ns = lab.resolve("z2.com.", "NS");
    CHECK(ns.answer == lines{"z2.com. 3600 NS ns1.z2.com."});
    auto a = lab.resolve("ns1.z2.com.", "A");
    CHECK(a.answer == lines{"ns1.z2.com. 3600 A 192.0.2.50"});
    lab.clear_sent();
    auto r = lab.resolve("www.z2.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"www.z2.com. 300 A 192.0.2.52"});
    CHECK(count_to(lab, "192.0.2.10") >= 1); // the parent was asked again
}

TEST_CASE("a fallback to the parent happens once per zone", "[resolve][hard]")
{
    Lab lab;
    lab.add("com.", {"z2.com. 172800 IN NS ns1.z2.com.", "ns1.z2.com. 172800 IN A 192.0.2.50"});
    lab.zone("192.0.2.50", "z2.com.", {std::string("z2.com.") + kSoa});
    lab.resolve("z2.com.", "SOA"); // the cut is cached
    lab.server("192.0.2.50").timeout = true;
    lab.clear_sent();
    auto r = lab.resolve("www.z2.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
    CHECK(count_to(lab, "192.0.2.10") == 1);
    CHECK(count_to(lab, "192.0.2.50") == 4); // twice from the cache's cut, twice after
}

TEST_CASE("RFC 9156 3: a broken reply to a minimised query makes the full query follow",
          "[resolve][hard]")
{
    Lab lab;
    lab.add("example.com.", {"a.b.example.com. 300 IN A 192.0.2.90"});
    Server& s = lab.server("192.0.2.20");
    SECTION("NODATA without SOA, no AA, to the NS query")
    {
        s.script = [](const SentQuery& q) -> std::optional<Reply> {
            if (q.qtype == "NS" && q.qname == "b.example.com.")
                return Reply{};
            return std::nullopt;
        };
    }
    SECTION("an unexpected record type to the NS query")
    {
        s.script = [](const SentQuery& q) -> std::optional<Reply> {
            if (q.qtype != "NS" || q.qname != "b.example.com.")
                return std::nullopt;
            Reply r;
            r.answer = {"unrelated.example.org. 300 IN A 192.0.2.1"};
            return r;
        };
    }
    SECTION("NXDOMAIN for the empty non-terminal") { s.nxdomain_ent = true; }
    SECTION("REFUSED to the NS query") { s.refuse_minimised_ns = true; }
    auto r = lab.resolve("a.b.example.com.", "A");
    CHECK(r.rcode == 0);
    CHECK(r.answer == lines{"a.b.example.com. 300 A 192.0.2.90"});
    CHECK(lab.sent().back() == "192.0.2.20 a.b.example.com. A");
}

TEST_CASE("NODATA without SOA is lame while another server answers", "[resolve][hard]")
{
    Lab lab;
    lab.config.minimize = false;
    lab.add("com.", {"z4.com. 172800 IN NS ns1.z4.com.", "z4.com. 172800 IN NS ns2.z4.com.",
                     "ns1.z4.com. 172800 IN A 192.0.2.60", "ns2.z4.com. 172800 IN A 192.0.2.61"});
    const lines zone{std::string("z4.com.") + kSoa, "z4.com. 3600 IN NS ns1.z4.com.",
                     "z4.com. 3600 IN NS ns2.z4.com.", "www.z4.com. 300 IN A 192.0.2.62",
                     "www.z4.com. 300 IN AAAA 2001:db8::62"};
    lab.zone("192.0.2.60", "z4.com.", zone);
    lab.zone("192.0.2.61", "z4.com.", {});
    auto lame = [](const SentQuery& q) -> std::optional<Reply> {
        if (q.qname != "www.z4.com.")
            return std::nullopt;
        Reply r;
        r.aa = true; // NOERROR, AA, nothing in any section
        return r;
    };
    auto wrong_type = [](const SentQuery& q) -> std::optional<Reply> {
        if (q.qname != "www.z4.com." || q.qtype != "AAAA")
            return std::nullopt;
        Reply r;
        r.aa = true;
        r.answer = {"www.z4.com. 300 IN A 192.0.2.62"};
        return r;
    };
    SECTION("one server is lame, the other answers")
    {
        lab.server("192.0.2.60").script = lame;
        for (int i = 0; i < 4; ++i) { // whichever server is picked first
            lab.cache.clear({});
            auto r = lab.resolve("www.z4.com.", "A");
            CHECK(r.rcode == 0);
            CHECK(r.answer == lines{"www.z4.com. 300 A 192.0.2.62"});
        }
    }
    SECTION("an answer of the wrong type is lame too")
    {
        lab.server("192.0.2.60").script = wrong_type;
        for (int i = 0; i < 4; ++i) {
            lab.cache.clear({});
            auto r = lab.resolve("www.z4.com.", "AAAA");
            CHECK(r.rcode == 0);
            CHECK(r.answer == lines{"www.z4.com. 300 AAAA 2001:db8::62"});
        }
    }
    SECTION("every server says so: NODATA, not cached")
    {
        lab.server("192.0.2.60").script = lame;
        lab.server("192.0.2.61").script = lame;
        auto r = lab.resolve("www.z4.com.", "A");
        CHECK(r.rcode == 0);
        CHECK(r.answer.empty());
        CHECK(r.authority.empty());
        lab.clear_sent();
        auto again = lab.resolve("www.z4.com.", "A");
        CHECK(again.rcode == 0);
        CHECK(again.answer.empty());
        CHECK_FALSE(lab.queries.empty());
    }
}

TEST_CASE("an NXDOMAIN without AA and without SOA is lame", "[resolve][hard]")
{
    Lab lab;
    lab.config.minimize = false;
    lab.add("com.", {"z5.com. 172800 IN NS ns1.z5.com.", "z5.com. 172800 IN NS ns2.z5.com.",
                     "ns1.z5.com. 172800 IN A 192.0.2.63", "ns2.z5.com. 172800 IN A 192.0.2.64"});
    const lines zone{std::string("z5.com.") + kSoa, "www.z5.com. 300 IN A 192.0.2.65"};
    lab.zone("192.0.2.63", "z5.com.", zone);
    lab.zone("192.0.2.64", "z5.com.", {});
    lab.server("192.0.2.63").script = [](const SentQuery& q) -> std::optional<Reply> {
        if (q.qname != "www.z5.com.")
            return std::nullopt;
        Reply r;
        r.rcode = dns::rcode::NXDOMAIN;
        return r;
    };
    for (int i = 0; i < 4; ++i) {
        lab.cache.clear({});
        auto r = lab.resolve("www.z5.com.", "A");
        CHECK(r.rcode == 0);
        CHECK(r.answer == lines{"www.z5.com. 300 A 192.0.2.65"});
    }
}

TEST_CASE("RFC 2181 5.4.1: the child's NS set replaces the referral's", "[resolve][hard]")
{
    Lab lab;
    lab.add("com.", {"z6.com. 172800 IN NS ns1.z6.com.", "ns1.z6.com. 172800 IN A 192.0.2.70"});
    lab.zone("192.0.2.70", "z6.com.",
             {std::string("z6.com.") + kSoa, "z6.com. 3600 IN NS ns1.z6.com.",
              "z6.com. 3600 IN NS ns2.z6.com.", "ns1.z6.com. 3600 IN A 192.0.2.70",
              "ns2.z6.com. 3600 IN A 192.0.2.71", "www.z6.com. 300 IN A 192.0.2.72"});
    lab.resolve("www.z6.com.", "A"); // the referral's NS set is cached
    REQUIRE(lab.cache.has("z6.com.", dns::type::NS));
    auto r = lab.resolve("z6.com.", "NS");
    CHECK_FALSE(r.from_cache); // referral data is no answer for a client
    CHECK(r.answer == lines{"z6.com. 3600 NS ns1.z6.com.", "z6.com. 3600 NS ns2.z6.com."});
    auto again = lab.resolve("z6.com.", "NS");
    CHECK(again.from_cache);
    CHECK(again.answer == r.answer);

    SECTION("glue of a later referral does not overwrite an authoritative answer")
    {
        auto a = lab.resolve("ns1.z6.com.", "A");
        CHECK(a.answer == lines{"ns1.z6.com. 3600 A 192.0.2.70"});
        lab.add("com.", {"ns1.z6.com. 172800 IN A 192.0.2.99"});
        lab.cache.erase("z6.com.", dns::type::NS);
        lab.resolve("other.z6.com.", "A"); // a new referral with the new glue
        auto b = lab.resolve("ns1.z6.com.", "A");
        CHECK(b.from_cache);
        CHECK(b.answer == lines{"ns1.z6.com. 3600 A 192.0.2.70"});
    }
}

TEST_CASE("a domain moved to new servers is followed once the old delegation expires",
          "[resolve][hard]")
{
    Lab lab;
    lab.config.minimize = false;
    lab.add("com.", {"z7.com. 10 IN NS ns.z7.com.", "ns.z7.com. 10 IN A 192.0.2.80"});
    // The old servers keep the zone, and say so with long TTLs.
    lab.zone("192.0.2.80", "z7.com.",
             {"z7.com. 86400 IN SOA ns.z7.com. h.z7.com. 1 7200 3600 1209600 300",
              "z7.com. 86400 IN NS ns.z7.com.", "ns.z7.com. 86400 IN A 192.0.2.80"});
    lab.server("192.0.2.80").script = [](const SentQuery& q) -> std::optional<Reply> {
        if (q.qname != "www.z7.com.")
            return std::nullopt;
        Reply r;
        r.aa = true;
        r.answer = {"www.z7.com. 20 IN A 192.0.2.81"};
        r.authority = {"z7.com. 86400 IN NS ns.z7.com."};
        r.additional = {"ns.z7.com. 86400 IN A 192.0.2.80"};
        return r;
    };
    auto before = lab.resolve("www.z7.com.", "A");
    CHECK(before.answer == lines{"www.z7.com. 20 A 192.0.2.81"});
    auto ns = lab.resolve("z7.com.", "NS"); // the old servers' own NS set, 86400
    CHECK(ns.answer == lines{"z7.com. 86400 NS ns.z7.com."});
    // The sale: the parent delegates to the new servers.
    lab.zones["com."].clear();
    lab.add("com.", {std::string("com.") + kSoa, "com. 172800 IN NS a.gtld-servers.net.",
                     "z7.com. 10 IN NS ns2.z7.com.", "ns2.z7.com. 10 IN A 192.0.2.85"});
    lab.zone("192.0.2.85", "z7.com.", {});
    lab.zones["z7.com."].clear();
    lab.add("z7.com.", {std::string("z7.com.") + kSoa, "z7.com. 3600 IN NS ns2.z7.com.",
                        "ns2.z7.com. 3600 IN A 192.0.2.85", "www.z7.com. 300 IN A 192.0.2.86"});
    lab.server("192.0.2.80").script = nullptr;
    lab.server("192.0.2.80").zones.clear(); // REFUSED from now on
    lab.wall_s += 30;
    auto after = lab.resolve("www.z7.com.", "A");
    CHECK(after.answer == lines{"www.z7.com. 300 A 192.0.2.86"});
}

TEST_CASE("name servers that need each other's addresses end fast", "[resolve][hard]")
{
    Lab lab;
    lab.add("com.", {"z11a.com. 172800 IN NS ns.z11b.com.",
                     "z11b.com. 172800 IN NS ns.z11a.com."});
    auto r = lab.resolve("www.z11a.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede == ede::NO_REACHABLE_AUTHORITY);
    CHECK(r.queries <= 12);
}

TEST_CASE("a CNAME loop across zones ends fast with SERVFAIL", "[resolve][hard]")
{
    Lab lab;
    add_hosting(lab);
    lab.add("com.", {"z12a.com. 172800 IN NS ns.hosting.net.",
                     "z12b.com. 172800 IN NS ns.hosting.net."});
    lab.zone("192.0.2.30", "z12a.com.",
             {std::string("z12a.com.") + kSoa, "a.z12a.com. 300 IN CNAME b.z12b.com."});
    lab.zone("192.0.2.30", "z12b.com.",
             {std::string("z12b.com.") + kSoa, "b.z12b.com. 300 IN CNAME a.z12a.com."});
    auto r = lab.resolve("a.z12a.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.ede_text == "CNAME loop");
    // As Knot Resolver: the records that loop come with the SERVFAIL.
    CHECK(r.answer == lines{"a.z12a.com. 300 CNAME b.z12b.com.", "b.z12b.com. 300 CNAME a.z12a.com."});
    CHECK(r.queries <= 10);
    lab.clear_sent();
    auto again = lab.resolve("a.z12a.com.", "A"); // from the cached CNAMEs
    CHECK(again.rcode == dns::rcode::SERVFAIL);
    CHECK(lab.queries.size() <= 2);
}

TEST_CASE("CNAME and DNAME chains across zones are served from the cache", "[resolve][hard]")
{
    Lab lab;
    add_hosting(lab);
    lab.add("com.", {"z10a.com. 172800 IN NS ns.hosting.net.",
                     "z10b.com. 172800 IN NS ns.hosting.net.",
                     "z10c.com. 172800 IN NS ns.hosting.net."});
    lab.zone("192.0.2.30", "z10a.com.",
             {std::string("z10a.com.") + kSoa, "c.z10a.com. 300 IN CNAME c.z10b.com.",
              "old.z10a.com. 300 IN DNAME z10b.com."});
    lab.zone("192.0.2.30", "z10b.com.",
             {std::string("z10b.com.") + kSoa, "c.z10b.com. 300 IN CNAME c.z10c.com.",
              "x.z10b.com. 300 IN A 192.0.2.101"});
    lab.zone("192.0.2.30", "z10c.com.",
             {std::string("z10c.com.") + kSoa, "c.z10c.com. 300 IN A 192.0.2.100"});
    for (const char* name : {"c.z10a.com.", "x.old.z10a.com."}) {
        auto r = lab.resolve(name, "A");
        CHECK(r.rcode == 0);
        lab.clear_sent();
        auto again = lab.resolve(name, "A");
        CHECK(again.from_cache);
        CHECK(again.answer == r.answer);
        CHECK(lab.queries.empty());
    }
}

TEST_CASE("a DNAME into its own subtree: SERVFAIL with the records that loop", "[resolve][hard]")
{
    Lab lab;
    lab.add("example.com.", {"d.example.com. 300 IN DNAME x.d.example.com."});
    auto r = lab.resolve("a.d.example.com.", "A");
    CHECK(r.rcode == dns::rcode::SERVFAIL);
    CHECK(r.answer == lines{"d.example.com. 300 DNAME x.d.example.com.",
                            "a.d.example.com. 300 CNAME a.x.d.example.com."});
    CHECK(r.ede_text == "DNAME loop");
    CHECK(r.queries <= 4);
}
