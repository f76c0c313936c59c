// ResponseBuilder: reading back and changing the records written so far
// (for_each_rr, rewrite_rdata, remove_rrs), as the answer modules do.
#include "catch.hpp"

#include <string>
#include <vector>

#include "dns/ldns.hpp"
#include "dns/wire.hpp"

using namespace kresd::dns;

namespace {

Name name(const char* text)
{
    Name n;
    REQUIRE(name_from_text(text, n));
    return n;
}

Query query(const char* qname, uint16_t qtype)
{
    Query q;
    q.id = 7;
    q.rd = true;
    q.qname = name(qname);
    q.qname_lower = q.qname;
    name_lower(q.qname_lower);
    q.qtype = qtype;
    q.qclass = klass::IN;
    q.edns.present = true;
    q.edns.udp_size = 1232;
    return q;
}

struct Seen {
    Section section;
    std::string owner;
    uint16_t type;
    uint32_t ttl;
    std::vector<uint8_t> rdata;
};

std::vector<Seen> seen(const ResponseBuilder& b)
{
    std::vector<Seen> out;
    b.for_each_rr([&](const ResponseBuilder::WrittenRr& rr) {
        out.push_back({rr.section, name_to_text(rr.owner), rr.type, rr.ttl,
                       {rr.rdata.begin(), rr.rdata.end()}});
    });
    return out;
}

} // namespace

TEST_CASE("ResponseBuilder: records written so far can be read back and changed", "[dns]")
{
    std::vector<uint8_t> buf(1024);
    ResponseBuilder b(buf, buf.size());
    const auto q = query("WWW.Example.", type::A);
    REQUIRE(b.begin(q, rcode::NOERROR, 16));
    CHECK(seen(b).empty());
    const auto www = name("www.example.");
    const auto other = name("other.example.");
    const std::vector<uint8_t> a1 = {192, 0, 2, 1}, a2 = {192, 0, 2, 2}, ns = {0};
    REQUIRE(b.add_rr(Section::answer, www.view(), type::A, klass::IN, 300, a1));     // pointer
    REQUIRE(b.add_rr(Section::answer, other.view(), type::A, klass::IN, 60, a2));    // in full
    REQUIRE(b.add_rr(Section::authority, name("example.").view(), type::NS, klass::IN, 900, ns));
    REQUIRE(b.add_rr(Section::additional, other.view(), type::TXT, klass::IN, 5, {}));
    b.set_ad(true);
    CHECK(b.ad());

    auto s = seen(b);
    REQUIRE(s.size() == 4);
    CHECK(s[0].owner == "WWW.Example."); // the question's name, as written there
    CHECK(s[0].section == Section::answer);
    CHECK(s[0].rdata == a1);
    CHECK(s[1].owner == "other.example.");
    CHECK(s[1].ttl == 60);
    CHECK(s[2].section == Section::authority);
    CHECK(s[2].type == type::NS);
    CHECK(s[3].section == Section::additional);
    CHECK(s[3].rdata.empty());

    // Same-length RDATA only.
    const std::vector<uint8_t> ten = {10, 0, 0, 1};
    b.for_each_rr([&](const ResponseBuilder::WrittenRr& rr) {
        if (rr.type == type::A && rr.ttl == 60) {
            CHECK_FALSE(b.rewrite_rdata(rr, std::vector<uint8_t>{1, 2}));
            CHECK(b.rewrite_rdata(rr, ten));
        }
    });
    CHECK(seen(b)[1].rdata == ten);

    // Removing records from the middle keeps the rest and the counts right.
    CHECK(b.remove_rrs([](const ResponseBuilder::WrittenRr& rr) {
              return rr.section == Section::authority || rr.ttl == 300;
          }) == 2);
    CHECK(b.count(Section::answer) == 1);
    CHECK(b.count(Section::authority) == 0);
    CHECK(b.count(Section::additional) == 1);
    REQUIRE(b.add_rr(Section::additional, www.view(), type::A, klass::IN, 1, a1));
    buf.resize(b.finish());
    auto pkt = ldns::parse(buf);
    REQUIRE(pkt);
    CHECK(ldns_rr_list_rr_count(ldns_pkt_answer(pkt->get())) == 1);
    CHECK(ldns_rr_list_rr_count(ldns_pkt_authority(pkt->get())) == 0);
    CHECK(ldns_rr_list_rr_count(ldns_pkt_additional(pkt->get())) == 2);
    CHECK(ldns_pkt_ad(pkt->get()));
}

TEST_CASE("ResponseBuilder: nothing to read before begin() or after a header-only start",
          "[dns]")
{
    std::vector<uint8_t> buf(512);
    ResponseBuilder b(buf, buf.size());
    CHECK(seen(b).empty());
    CHECK_FALSE(b.ad());
    Query q;
    q.id = 1;
    REQUIRE(b.begin_header_only(q, rcode::FORMERR));
    CHECK(seen(b).empty());
    CHECK(b.remove_rrs([](const ResponseBuilder::WrittenRr&) { return true; }) == 0);
}
