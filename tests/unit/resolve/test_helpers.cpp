// Address helpers, root hints, the query writer and the reply reader.
#include "catch.hpp"
#include "dns/query_writer.hpp"
#include "lab.hpp"
#include "resolve/message.hpp"
#include "resolve/names.hpp"

using namespace kresd;
using namespace kresd::resolve;
using namespace kresd::resolve::test;

TEST_CASE("parse_address and address_to_string", "[resolve]")
{
    CHECK(address_to_string(*parse_address("192.0.2.1")) == "192.0.2.1@53");
    CHECK(address_to_string(*parse_address("192.0.2.1@5353")) == "192.0.2.1@5353");
    CHECK(address_to_string(*parse_address("192.0.2.1#853")) == "192.0.2.1@853");
    CHECK(address_to_string(*parse_address("2001:db8::1")) == "2001:db8::1@53");
    CHECK(address_to_string(*parse_address("2001:db8::1@53000")) == "2001:db8::1@53000");
    CHECK_FALSE(parse_address("192.0.2.256"));
    CHECK_FALSE(parse_address("192.0.2.1@0"));
    CHECK_FALSE(parse_address("192.0.2.1@65536"));
    CHECK_FALSE(parse_address("192.0.2.1@"));
    CHECK_FALSE(parse_address("192.0.2.1@x"));
    CHECK_FALSE(parse_address("example.com"));
    CHECK_FALSE(parse_address(""));
    CHECK(same_address(*parse_address("192.0.2.1"), *parse_address("192.0.2.1@53")));
    CHECK_FALSE(same_address(*parse_address("192.0.2.1"), *parse_address("192.0.2.1@54")));
    CHECK_FALSE(same_address(*parse_address("192.0.2.1"), *parse_address("192.0.2.2")));
    CHECK_FALSE(same_address(*parse_address("::1"), *parse_address("127.0.0.1")));
}

TEST_CASE("is_local_address", "[resolve]")
{
    for (const char* local : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255",
                              "192.168.1.1", "169.254.0.5", "0.0.0.0", "100.64.0.1",
                              "224.0.0.1", "255.255.255.255", "::", "::1", "fe80::1",
                              "fd00::1", "fc00::5", "ff02::1", "::ffff:10.0.0.1"}) {
        INFO(local);
        CHECK(is_local_address(*parse_address(local)));
    }
    for (const char* global : {"192.0.2.1", "8.8.8.8", "172.32.0.1", "100.128.0.1",
                               "198.41.0.4", "2001:db8::1", "2001:503:ba3e::2:30",
                               "::ffff:192.0.2.1"}) {
        INFO(global);
        CHECK_FALSE(is_local_address(*parse_address(global)));
    }
}

TEST_CASE("default root hints: IANA's 13 servers, IPv4 and IPv6", "[resolve]")
{
    const auto hints = default_root_hints();
    REQUIRE(hints.size() == 13);
    CHECK(names::text(hints[0].first) == "a.root-servers.net.");
    CHECK(names::text(hints[12].first) == "m.root-servers.net.");
    for (const auto& [name, addrs] : hints) {
        REQUIRE(addrs.size() == 2);
        CHECK(addrs[0].family() == AF_INET);
        CHECK(addrs[1].family() == AF_INET6);
        CHECK_FALSE(is_local_address(addrs[0]));
    }
    CHECK(address_to_string(hints[0].second[0]) == "198.41.0.4@53");
    CHECK(address_to_string(hints[1].second[0]) == "170.247.170.2@53");
    // A Resolver without configured hints uses them.
    Resolver r({}, nullptr, {}, [] { return 1u; });
    CHECK(r.config().root_hints.size() == 13);
}

TEST_CASE("IPv6 only: v4 addresses are not asked", "[resolve]")
{
    Lab lab;
    lab.config.ipv4 = false;
    lab.config.root_hints = {{name_of("a.root-servers.net."),
                              {addr("198.41.0.4"), addr("2001:db8::53")}}};
    lab.servers["2001:db8::53"] = lab.servers["198.41.0.4"];
    lab.resolve("www.example.com.", "A");
    REQUIRE_FALSE(lab.queries.empty());
    CHECK(lab.queries[0].server == "2001:db8::53");
    for (const auto& q : lab.queries)
        CHECK(q.server.find(':') != std::string::npos);
}

TEST_CASE("write_query builds a well-formed query", "[resolve]")
{
    const dns::Name n = name_of("Example.COM.");
    dns::QueryFlags f;
    f.id = 0xBEEF;
    f.rd = true;
    f.edns = true;
    f.edns_size = 1232;
    const auto wire = dns::write_query(n.view(), dns::type::AAAA, dns::klass::IN, f);
    dns::Query q;
    REQUIRE(dns::parse_query(wire, q) == dns::ParseStatus::ok);
    CHECK(q.id == 0xBEEF);
    CHECK(q.rd);
    CHECK(q.qtype == dns::type::AAAA);
    CHECK(dns::name_to_text(q.qname.view()) == "Example.COM.");
    CHECK(q.edns.present);
    CHECK(q.edns.udp_size == 1232);
    CHECK_FALSE(q.edns.do_bit);

    f.edns = false;
    f.rd = false;
    const auto plain = dns::write_query(n.view(), dns::type::A, dns::klass::IN, f);
    REQUIRE(dns::parse_query(plain, q) == dns::ParseStatus::ok);
    CHECK_FALSE(q.rd);
    CHECK_FALSE(q.edns.present);
    CHECK(plain.size() == size_t{12} + n.len + 4);

    const uint8_t bad[] = {3, 'a', 'b'};
    CHECK(dns::write_query(bad, dns::type::A, dns::klass::IN, f).empty());
}

TEST_CASE("parse_message reads replies and refuses broken ones", "[resolve]")
{
    Lab lab;
    Outgoing out;
    out.to = addr("192.0.2.10");
    const dns::Name n = name_of("example.com.");
    out.wire = dns::write_query(n.view(), dns::type::NS, dns::klass::IN, {0x1234});
    auto reply = lab.respond(out);
    REQUIRE(reply);
    auto m = parse_message(*reply);
    REQUIRE(m);
    CHECK(m->id == 0x1234);
    CHECK(m->qr);
    CHECK_FALSE(m->aa);
    REQUIRE(m->has_question);
    CHECK(names::text(m->qname) == "example.com.");
    CHECK(m->authority.size() == 2);
    CHECK(m->additional.size() == 2);
    dns::Name target;
    REQUIRE(rdata_name(m->authority[0], target));
    CHECK(names::text(target) == "ns1.example.com.");
    CHECK(address_to_string(*address_from_rdata(m->additional[0].type,
                                                 m->additional[0].rdata)) == "192.0.2.20@53");
    // Every truncation of a valid reply is either refused or read safely.
    for (size_t len = 0; len < reply->size(); ++len) {
        std::vector<uint8_t> cut(reply->begin(), reply->begin() + static_cast<long>(len));
        auto partial = parse_message(cut);
        if (partial)
            CHECK(partial->authority.size() + partial->additional.size() < 4);
    }
    CHECK_FALSE(parse_message({}));
}

TEST_CASE("soa_minimum", "[resolve]")
{
    Lab lab;
    Outgoing out;
    out.to = addr("192.0.2.20");
    const dns::Name n = name_of("nope.example.com.");
    out.wire = dns::write_query(n.view(), dns::type::A, dns::klass::IN, {1});
    auto m = parse_message(*lab.respond(out));
    REQUIRE(m);
    REQUIRE(m->authority.size() == 1);
    CHECK(soa_minimum(m->authority[0].rdata) == 300u);
    const std::vector<uint8_t> shortened(m->authority[0].rdata.begin(),
                                         m->authority[0].rdata.end() - 1);
    CHECK_FALSE(soa_minimum(shortened));
}

TEST_CASE("names helpers", "[resolve]")
{
    CHECK(names::text(names::parent(name_of("a.b.c."))) == "b.c.");
    CHECK(names::text(names::parent(name_of("."))) == ".");
    CHECK(names::text(names::suffix(name_of("a.b.c."), 2)) == "b.c.");
    CHECK(names::text(names::suffix(name_of("a.b.c."), 5)) == "a.b.c.");
    CHECK(names::labels(name_of(".")) == 0);
    CHECK(names::below(name_of("a.B.c."), name_of("b.C.")));
    CHECK_FALSE(names::below(name_of("b.c."), name_of("b.c.")));
    CHECK(names::equal(name_of("WWW.x."), name_of("www.X.")));
    CHECK(names::text(*names::substitute(name_of("www.old.example."), name_of("old.example."),
                                         name_of("new.example.net."))) ==
          "www.new.example.net.");
    std::string long_target;
    for (int i = 0; i < 4; ++i)
        long_target += std::string(60, 'x') + ".";
    CHECK_FALSE(names::substitute(name_of("aaaaaaaaaaaa.old."), name_of("old."),
                                  name_of(long_target)));
}
