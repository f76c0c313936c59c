// policy.REROUTE's rewrite of an answer (reroute_answer), and the answer of
// policy.ANSWER (write_answer with kind answer).
#include <arpa/inet.h>

#include <cstring>
#include <vector>

#include "catch.hpp"
#include "policy/policy.hpp"

using namespace kresd;

namespace {

dns::Query make_query(const char* name, uint16_t type) {
    dns::Query q;
    REQUIRE(dns::name_from_text(name, q.qname));
    q.qname_lower = q.qname;
    dns::name_lower(q.qname_lower);
    q.qtype = type;
    q.qclass = dns::klass::IN;
    q.id = 0x1234;
    q.rd = true;
    q.edns.present = true;
    q.edns.udp_size = 1232;
    return q;
}

policy::Reroute::Prefix prefix(const char* subnet, unsigned bits, const char* target,
                               bool exact = false) {
    policy::Reroute::Prefix p;
    p.v6 = std::strchr(target, ':') != nullptr;
    REQUIRE(inet_pton(p.v6 ? AF_INET6 : AF_INET, target, p.target.data()) == 1);
    REQUIRE(inet_pton(std::strchr(subnet, ':') ? AF_INET6 : AF_INET, subnet, p.subnet.data()) == 1);
    p.bits = bits;
    p.exact = exact;
    return p;
}

std::vector<uint8_t> v4(const char* text) {
    std::vector<uint8_t> a(4);
    REQUIRE(inet_pton(AF_INET, text, a.data()) == 1);
    return a;
}

struct Answer {
    std::vector<uint8_t> buf = std::vector<uint8_t>(1232);
    dns::ResponseBuilder b{buf, buf.size()};
    std::vector<std::vector<uint8_t>> rdata(dns::Section s = dns::Section::answer) const {
        std::vector<std::vector<uint8_t>> out;
        b.for_each_rr([&](const dns::ResponseBuilder::WrittenRr& rr) {
            if (rr.section == s) out.emplace_back(rr.rdata.begin(), rr.rdata.end());
        });
        return out;
    }
};

} // namespace

TEST_CASE("reroute: the subnet's bits from the target, the rest kept", "[policy][reroute]") {
    const auto q = make_query("www.example.", dns::type::A);
    Answer a;
    REQUIRE(a.b.begin(q, dns::rcode::NOERROR, 64));
    const auto owner = a.b.question_name();
    REQUIRE(a.b.add_rr(dns::Section::answer, owner, dns::type::A, 1, 60, v4("192.0.2.55")));
    REQUIRE(a.b.add_rr(dns::Section::answer, owner, dns::type::A, 1, 60, v4("198.51.100.9")));
    REQUIRE(a.b.add_rr(dns::Section::answer, owner, dns::type::A, 1, 60, v4("203.0.113.200")));
    REQUIRE(a.b.add_rr(dns::Section::authority, owner, dns::type::A, 1, 60, v4("192.0.2.1")));
    a.b.set_ad(true);
    policy::Reroute r;
    r.prefixes.push_back(prefix("192.0.2.0", 24, "127.0.0.0"));
    r.prefixes.push_back(prefix("198.51.100.0", 24, "10.0.0.1", true));
    r.prefixes.push_back(prefix("203.0.113.128", 25, "10.1.2.0")); // 200 = 128 + 72
    CHECK(policy::reroute_answer(r, a.b));
    CHECK(a.rdata() ==
          std::vector<std::vector<uint8_t>>{v4("127.0.0.55"), v4("10.0.0.1"), v4("10.1.2.72")});
    CHECK(a.rdata(dns::Section::authority).empty()); // only the answer section stays
    CHECK_FALSE(a.b.ad());
}

TEST_CASE("reroute: other subnets, families and sections are left alone", "[policy][reroute]") {
    const auto q = make_query("www.example.", dns::type::A);
    Answer a;
    REQUIRE(a.b.begin(q, dns::rcode::NOERROR, 64));
    const auto owner = a.b.question_name();
    REQUIRE(a.b.add_rr(dns::Section::answer, owner, dns::type::A, 1, 60, v4("192.0.3.1")));
    REQUIRE(a.b.add_rr(dns::Section::additional, owner, dns::type::A, 1, 60, v4("192.0.2.1")));
    policy::Reroute r;
    r.prefixes.push_back(prefix("192.0.2.0", 24, "127.0.0.0"));
    r.prefixes.push_back(prefix("::", 0, "2001:db8::")); // AAAA only
    CHECK_FALSE(policy::reroute_answer(r, a.b));
    CHECK(a.rdata() == std::vector<std::vector<uint8_t>>{v4("192.0.3.1")});
    CHECK(a.rdata(dns::Section::additional).size() == 1);
}

TEST_CASE("answer: the type's records, NODATA with the SOA at TTL 1, EDE 4", "[policy][reroute]") {
    policy::Action act;
    act.kind = policy::ActionKind::answer;
    auto d = std::make_shared<policy::AnswerData>();
    policy::AnswerData::Set s;
    s.type = dns::type::A;
    s.ttl = 300;
    s.rdata = {v4("192.0.2.7"), v4("192.0.2.8")};
    d->sets.push_back(s);
    d->nodata = true;
    act.answer = d;

    Answer a;
    auto q = make_query("Portal.Example.", dns::type::A);
    REQUIRE(a.b.begin(q, dns::rcode::NOERROR, 64));
    REQUIRE(policy::write_answer(act.kind, &act, q, a.b));
    CHECK(a.b.rcode() == dns::rcode::NOERROR);
    CHECK(a.rdata() == std::vector<std::vector<uint8_t>>{v4("192.0.2.7"), v4("192.0.2.8")});
    uint32_t ttl = 0;
    a.b.for_each_rr([&](const dns::ResponseBuilder::WrittenRr& rr) { ttl = rr.ttl; });
    CHECK(ttl == 300);
    CHECK((a.buf[2] & 0x04) != 0); // AA

    Answer n;
    q = make_query("portal.example.", dns::type::MX);
    REQUIRE(n.b.begin(q, dns::rcode::NOERROR, 64));
    REQUIRE(policy::write_answer(act.kind, &act, q, n.b));
    CHECK(n.rdata().empty());
    REQUIRE(n.rdata(dns::Section::authority).size() == 1);
    n.b.for_each_rr([&](const dns::ResponseBuilder::WrittenRr& rr) {
        CHECK(rr.type == dns::type::SOA);
        CHECK(rr.ttl == 1);
    });
    const size_t len = n.b.finish(1232);
    // the EDE option, 4 'Forged Answer' "5DO5", ends the message
    const std::vector<uint8_t> tail(n.buf.begin() + static_cast<long>(len) - 10,
                                    n.buf.begin() + static_cast<long>(len));
    CHECK(tail == std::vector<uint8_t>{0, 15, 0, 6, 0, 4, '5', 'D', 'O', '5'});
}

TEST_CASE("answer: without nodata, other types let the next rule decide", "[policy][reroute]") {
    policy::Policy p;
    policy::Rule r;
    r.filter = policy::FilterKind::all;
    r.action.kind = policy::ActionKind::answer;
    auto d = std::make_shared<policy::AnswerData>();
    policy::AnswerData::Set s;
    s.type = dns::type::A;
    s.rdata = {v4("192.0.2.7")};
    d->sets.push_back(s);
    r.action.answer = d;
    p.add(r);
    policy::Rule refuse;
    refuse.action.kind = policy::ActionKind::refuse;
    p.add(refuse);
    const resolve::RequestOptions opts{};
    CHECK(p.evaluate(make_query("x.example.", dns::type::A), opts).final ==
          policy::ActionKind::answer);
    CHECK(p.evaluate(make_query("x.example.", dns::type::AAAA), opts).final ==
          policy::ActionKind::refuse);
}
