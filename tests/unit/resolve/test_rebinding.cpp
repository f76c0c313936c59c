// DNS rebinding protection in the core (resolve/rebinding.hpp): the address
// list, the answer a refused request gets, and that nothing of a refused
// reply is used or cached.
#include <arpa/inet.h>

#include "catch.hpp"
#include "lab.hpp"
#include "dns/ldns.hpp"
#include "resolve/rebinding.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

namespace {

bool blocked(const char* text)
{
    uint8_t buf[16];
    if (inet_pton(AF_INET, text, buf) == 1)
        return rebinding_blocked(dns::type::A, {buf, 4});
    REQUIRE(inet_pton(AF_INET6, text, buf) == 1);
    return rebinding_blocked(dns::type::AAAA, {buf, 16});
}

RequestOptions with_rebinding(bool allow_local = false)
{
    RequestOptions o;
    o.rebinding = true;
    o.allow_local = allow_local;
    return o;
}

// The additional section's records, "owner TTL TYPE rdata" (Result has
// only answer and authority).
lines additional(const Result& r)
{
    lines out;
    auto pkt = dns::ldns::parse(r.wire);
    REQUIRE(pkt);
    const ldns_rr_list* add = ldns_pkt_additional(pkt->get());
    for (size_t i = 0; i < ldns_rr_list_rr_count(add); ++i) {
        char* s = ldns_rr2str(ldns_rr_list_rr(add, i));
        std::string line(s);
        free(s);
        while (!line.empty() && line.back() == '\n')
            line.pop_back();
        out.push_back(line);
    }
    return out;
}

} // namespace

TEST_CASE("rebinding: Knot Resolver 5.6's list of addresses", "[resolve][rebinding]")
{
    for (const char* a : {"0.0.0.0", "0.255.1.2", "10.0.0.1", "10.255.255.255", "100.64.0.1",
                          "100.127.255.255", "127.0.0.1", "127.1.2.3", "169.254.0.1",
                          "172.16.0.1", "172.31.255.255", "192.168.0.1", "::", "::1",
                          "::ffff:10.1.2.3", "::ffff:127.0.0.1", "::ffff:192.168.1.1",
                          "::ffff:100.64.0.1", "fc00::1", "fdff::1", "fe80::1", "febf::1"}) {
        INFO(a);
        CHECK(blocked(a));
    }
    for (const char* a : {"1.0.0.0", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
                          "126.255.255.255", "128.0.0.0", "169.253.0.1", "172.15.255.255",
                          "172.32.0.0", "192.167.0.1", "192.0.2.1", "198.18.0.1", "224.0.0.1",
                          "::2", "::1:0", "::ffff:192.0.2.1", "::10.0.0.1", "64:ff9b::a00:1",
                          "2001:db8::1", "fec0::1", "fe00::1", "fbff::1"}) {
        INFO(a);
        CHECK_FALSE(blocked(a));
    }
    // Only A and AAAA, of their proper sizes.
    const uint8_t ten[4] = {10, 0, 0, 1};
    CHECK_FALSE(rebinding_blocked(dns::type::TXT, ten));
    CHECK_FALSE(rebinding_blocked(dns::type::AAAA, ten));
}

TEST_CASE("rebinding: a private address ends the request REFUSED, nothing cached",
          "[resolve][rebinding]")
{
    Lab lab;
    lab.add("example.com.", {"priv.example.com. 300 IN A 10.0.0.1",
                             "pub.example.com. 300 IN A 198.51.100.1",
                             "alias.example.com. 300 IN CNAME priv.example.com.",
                             "mapped.example.com. 300 IN AAAA ::ffff:192.168.0.1"});
    auto r = lab.resolve("priv.example.com.", "A", with_rebinding());
    CHECK(r.rcode == dns::rcode::REFUSED);
    CHECK_FALSE(r.aa);
    CHECK(r.answer.empty());
    CHECK(r.authority.empty());
    REQUIRE(r.ede);
    CHECK(*r.ede == 18);
    CHECK(r.ede_text == "EIM4");
    CHECK(additional(r) ==
          lines{"explanation.invalid.\t10800\tIN\tTXT\t\"blocked by DNS rebinding protection\""});
    CHECK_FALSE(lab.cache.has("priv.example.com.", dns::type::A));

    // Along a CNAME chain, and for AAAA.
    CHECK(lab.resolve("alias.example.com.", "A", with_rebinding()).rcode == dns::rcode::REFUSED);
    CHECK_FALSE(lab.cache.has("alias.example.com.", dns::type::CNAME));
    CHECK(lab.resolve("mapped.example.com.", "AAAA", with_rebinding()).rcode ==
          dns::rcode::REFUSED);

    // Public addresses pass; off with ALLOW_LOCAL or without the flag.
    auto ok = lab.resolve("pub.example.com.", "A", with_rebinding());
    CHECK(ok.rcode == dns::rcode::NOERROR);
    CHECK(ok.answer == lines{"pub.example.com. 300 A 198.51.100.1"});
    auto local = lab.resolve("priv.example.com.", "A", with_rebinding(true));
    CHECK(local.rcode == dns::rcode::NOERROR);
    CHECK(local.answer == lines{"priv.example.com. 300 A 10.0.0.1"});
    lab.clear_sent();
    auto plain = lab.resolve("alias.example.com.", "A");
    CHECK(plain.rcode == dns::rcode::NOERROR);
    CHECK_FALSE(plain.from_cache); // the refused CNAME was not kept
}

TEST_CASE("rebinding: any section counts, a refused reply is not used at all",
          "[resolve][rebinding]")
{
    Lab lab;
    lab.server("192.0.2.20").script = [](const SentQuery& q) -> std::optional<Reply> {
        if (q.qname != "mail.example.com.")
            return std::nullopt;
        Reply r;
        r.aa = true;
        r.answer = {"mail.example.com. 300 IN MX 10 mx.example.com."};
        r.additional = {"mx.example.com. 300 IN A 192.168.1.25"};
        return r;
    };
    auto r = lab.resolve("mail.example.com.", "MX", with_rebinding());
    CHECK(r.rcode == dns::rcode::REFUSED);
    CHECK_FALSE(lab.cache.has("mail.example.com.", dns::type::MX));
}

TEST_CASE("rebinding: a name server address lookup fails alone", "[resolve][rebinding]")
{
    // other.com. has two name servers out of bailiwick; the first one's
    // address is private: that lookup fails, the second server answers.
    Lab lab;
    lab.add("com.", {"other.com. 172800 IN NS ns.bad.net.", "other.com. 172800 IN NS ns.good.net."});
    lab.add("net.", {"bad.net. 172800 IN NS a.gtld-servers.net.",
                     "good.net. 172800 IN NS a.gtld-servers.net."});
    lab.zone("192.0.2.10", "bad.net.",
             {"bad.net. 3600 IN SOA a.gtld-servers.net. h.bad.net. 1 2 3 4 300",
              "ns.bad.net. 3600 IN A 10.1.1.1"});
    lab.zone("192.0.2.10", "good.net.",
             {"good.net. 3600 IN SOA a.gtld-servers.net. h.good.net. 1 2 3 4 300",
              "ns.good.net. 3600 IN A 192.0.2.40"});
    lab.zone("192.0.2.40", "other.com.",
             {"other.com. 3600 IN SOA ns.good.net. h.other.com. 1 2 3 4 300",
              "www.other.com. 300 IN A 198.51.100.9"});
    auto r = lab.resolve("www.other.com.", "A", with_rebinding());
    CHECK(r.rcode == dns::rcode::NOERROR);
    CHECK(r.answer == lines{"www.other.com. 300 A 198.51.100.9"});
    CHECK_FALSE(lab.cache.has("ns.bad.net.", dns::type::A));
    CHECK(lab.cache.has("ns.good.net.", dns::type::A));
}
