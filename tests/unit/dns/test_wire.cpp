// Unit tests for src/dns/wire: parse_query and its checks. The response
// builder and the name helpers are in test_wire_builder.cpp and
// test_wire_names.cpp; the packet helpers in wire_packet.hpp.
#include "catch.hpp"
#include "wire_packet.hpp"

#include <memory>

using namespace kresd::dns;
using kresd::dns::test::Packet;
using kresd::dns::test::parse_exact;

namespace {

// A plain query: id 0x1234, RD set, "ExAmple.COM. A IN".
Packet plain_query()
{
    Packet p;
    p.header(0x1234, Packet::kRd, 1, 0, 0, 0).name("ExAmple.COM").u16(type::A).u16(klass::IN);
    return p;
}

// With an OPT record: udp 4096, DO, and the given options.
Packet edns_query(std::vector<uint8_t> options = {}, uint8_t version = 0, bool do_bit = true)
{
    Packet p;
    p.header(0xBEEF, Packet::kRd | Packet::kCd, 1, 0, 0, 1)
        .name("www.example.org")
        .u16(type::AAAA)
        .u16(klass::IN)
        .opt(4096, 0, version, do_bit, options);
    return p;
}

} // namespace

// ---- well-formed queries ----

TEST_CASE("parse_query: plain query without EDNS", "[dns][wire]")
{
    const Packet p = plain_query();
    Query q;
    REQUIRE(parse_exact(p.b, q) == ParseStatus::ok);
    CHECK(q.id == 0x1234);
    CHECK(q.opcode == opcode::QUERY);
    CHECK(q.rd);
    CHECK_FALSE(q.cd);
    CHECK_FALSE(q.ad);
    CHECK(name_to_text(q.qname.view()) == "ExAmple.COM.");
    CHECK(name_to_text(q.qname_lower.view()) == "example.com.");
    CHECK(q.qname.len == 13);
    CHECK(q.qtype == type::A);
    CHECK(q.qclass == klass::IN);
    CHECK(q.question_end == p.b.size());
    CHECK_FALSE(q.edns.present);
    CHECK_FALSE(q.edns.nsid);
}

TEST_CASE("parse_query: flags AD and CD are read", "[dns][wire]")
{
    Packet p;
    p.header(7, Packet::kAd | Packet::kCd, 1, 0, 0, 0).name(".").u16(type::NS).u16(klass::IN);
    Query q;
    REQUIRE(parse_exact(p.b, q) == ParseStatus::ok);
    CHECK_FALSE(q.rd);
    CHECK(q.ad);
    CHECK(q.cd);
    CHECK(q.qname.len == 1);
    CHECK(name_to_text(q.qname.view()) == ".");
}

TEST_CASE("parse_query: EDNS without options", "[dns][wire]")
{
    const Packet p = edns_query();
    Query q;
    REQUIRE(parse_exact(p.b, q) == ParseStatus::ok);
    CHECK(q.id == 0xBEEF);
    CHECK(q.rd);
    CHECK(q.cd);
    CHECK(q.qtype == type::AAAA);
    CHECK(q.question_end == 12 + 17 + 4);
    CHECK(q.edns.present);
    CHECK(q.edns.udp_size == 4096);
    CHECK(q.edns.version == 0);
    CHECK(q.edns.do_bit);
    CHECK_FALSE(q.edns.nsid);
    CHECK(q.edns.ext_rcode_hi == 0);
}

TEST_CASE("parse_query: EDNS with DO clear and a small udp size", "[dns][wire]")
{
    Packet p;
    p.header(1, 0, 1, 0, 0, 1).name("a").u16(type::A).u16(klass::IN).opt(100, 0, 0, false, {});
    Query q;
    REQUIRE(parse_exact(p.b, q) == ParseStatus::ok);
    CHECK(q.edns.present);
    CHECK_FALSE(q.edns.do_bit);
    CHECK(q.edns.udp_size == 100); // raw, as sent
}

TEST_CASE("parse_query: EDNS with NSID and other options", "[dns][wire]")
{
    SECTION("NSID alone") {
        Query q;
        REQUIRE(parse_exact(edns_query({0, 3, 0, 0}).b, q) == ParseStatus::ok);
        CHECK(q.edns.nsid);
    }
    SECTION("cookie, then NSID, then padding") {
        std::vector<uint8_t> opts = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, // client cookie
                                     0, 3,  0, 0,                         // NSID
                                     0, 12, 0, 3, 0, 0, 0};               // padding
        Query q;
        REQUIRE(parse_exact(edns_query(opts).b, q) == ParseStatus::ok);
        CHECK(q.edns.nsid);
    }
    SECTION("cookie only") {
        Query q;
        REQUIRE(parse_exact(edns_query({0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}).b, q) ==
                ParseStatus::ok);
        CHECK_FALSE(q.edns.nsid);
    }
    SECTION("a non-empty NSID is accepted") {
        Query q;
        REQUIRE(parse_exact(edns_query({0, 3, 0, 2, 'h', 'i'}).b, q) == ParseStatus::ok);
        CHECK(q.edns.nsid);
    }
}

TEST_CASE("parse_query: extended rcode bits of the query OPT are reported", "[dns][wire]")
{
    Packet p;
    p.header(1, 0, 1, 0, 0, 1).name("a").u16(type::A).u16(klass::IN).opt(1232, 0x12, 0, false,
                                                                          {});
    Query q;
    REQUIRE(parse_exact(p.b, q) == ParseStatus::ok);
    CHECK(q.edns.ext_rcode_hi == 0x12);
}

TEST_CASE("parse_query: authority records are skipped", "[dns][wire]")
{
    Packet p;
    p.header(9, 0, 1, 0, 2, 1).name("example.com").u16(type::SOA).u16(klass::IN);
    const size_t question_end = p.b.size();
    // An NS record owned by the qname (compressed), and one with a new name
    // that itself ends in a pointer to the qname.
    p.bytes({0xC0, 0x0C}).u16(type::NS).u16(klass::IN).u32(3600).u16(4).bytes({1, 'x', 0xC0,
                                                                             0x0C});
    p.bytes({2, 'n', 's', 0xC0, 0x0C}).u16(type::A).u16(klass::IN).u32(60).u16(4).bytes(
        {192, 0, 2, 1});
    p.opt(1232, 0, 0, false, {});
    Query q;
    REQUIRE(parse_exact(p.b, q) == ParseStatus::ok);
    CHECK(q.question_end == question_end);
    CHECK(q.edns.present);
}

TEST_CASE("parse_query: non-OPT additional records are skipped", "[dns][wire]")
{
    Packet p;
    p.header(9, 0, 1, 0, 0, 2).name("example.com").u16(type::A).u16(klass::IN);
    p.opt(1232, 0, 0, true, {0, 3, 0, 0});
    // A TSIG-looking record after the OPT (type 250, class ANY).
    p.name("key.example").u16(250).u16(klass::ANY).u32(0).u16(3).bytes({1, 2, 3});
    Query q;
    REQUIRE(parse_exact(p.b, q) == ParseStatus::ok);
    CHECK(q.edns.present);
    CHECK(q.edns.nsid);
}

TEST_CASE("parse_query: names at the limits", "[dns][wire]")
{
    SECTION("a 63-byte label is fine") {
        Packet p;
        p.header(1, 0, 1, 0, 0, 0).raw_label(63).u8(0).u16(type::A).u16(klass::IN);
        Query q;
        REQUIRE(parse_exact(p.b, q) == ParseStatus::ok);
        CHECK(q.qname.len == 65);
    }
    SECTION("a 255-byte name is fine") {
        Packet p;
        p.header(1, 0, 1, 0, 0, 0).long_name(255).u16(type::A).u16(klass::IN);
        Query q;
        REQUIRE(parse_exact(p.b, q) == ParseStatus::ok);
        CHECK(q.qname.len == 255);
        CHECK(name_labels(q.qname.view()) == 4);
    }
    SECTION("compression with 60 hops is fine") {
        Packet p = Packet::pointer_chain(60);
        Query q;
        CHECK(parse_exact(p.b, q) == ParseStatus::ok);
    }
}

// ---- drop ----

TEST_CASE("parse_query: short packets and responses are dropped", "[dns][wire]")
{
    Query q;
    CHECK(parse_exact({}, q) == ParseStatus::drop);
    CHECK(parse_exact(std::vector<uint8_t>(11, 0), q) == ParseStatus::drop);

    Packet p = plain_query();
    p.b[2] |= 0x80; // QR=1
    CHECK(parse_exact(p.b, q) == ParseStatus::drop);

    // QR=1 wins even over a bad opcode or bad counts.
    Packet r;
    r.header(5, Packet::kQr | (4 << 11), 0, 3, 0, 0);
    CHECK(parse_exact(r.b, q) == ParseStatus::drop);
}

// ---- notimp ----

TEST_CASE("parse_query: opcodes other than QUERY get notimp", "[dns][wire]")
{
    for (uint16_t op : {1, 2, 4, 5, 6, 15}) {
        CAPTURE(op);
        Packet p;
        p.header(0x4242, static_cast<uint16_t>(op << 11) | Packet::kRd | Packet::kCd, 1, 0, 0, 0)
            .name("example.com")
            .u16(type::SOA)
            .u16(klass::IN);
        Query q;
        REQUIRE(parse_exact(p.b, q) == ParseStatus::notimp);
        CHECK(q.id == 0x4242);
        CHECK(q.opcode == op);
        CHECK(q.rd);
        CHECK(q.cd);
    }
    SECTION("even with counts a QUERY may not have (DSO: all zero; UPDATE)") {
        Packet dso;
        dso.header(3, 6 << 11, 0, 0, 0, 0);
        Query q;
        CHECK(parse_exact(dso.b, q) == ParseStatus::notimp);
        CHECK(q.opcode == 6);
        Packet update;
        update.header(3, 5 << 11, 1, 2, 0, 0).name("example.com").u16(type::SOA).u16(klass::IN);
        CHECK(parse_exact(update.b, q) == ParseStatus::notimp);
        CHECK(q.opcode == 5);
    }
}

// ---- badvers ----

TEST_CASE("parse_query: EDNS version 1 gets badvers with the question filled", "[dns][wire]")
{
    Query q;
    REQUIRE(parse_exact(edns_query({}, 1, true).b, q) == ParseStatus::badvers);
    CHECK(q.id == 0xBEEF);
    CHECK(q.rd);
    CHECK(q.cd);
    CHECK(name_to_text(q.qname.view()) == "www.example.org.");
    CHECK(name_to_text(q.qname_lower.view()) == "www.example.org.");
    CHECK(q.qtype == type::AAAA);
    CHECK(q.qclass == klass::IN);
    CHECK(q.edns.present);
    CHECK(q.edns.version == 1);
    CHECK(q.edns.do_bit);
    CHECK(q.edns.udp_size == 4096);

    SECTION("options of another version are not parsed") {
        REQUIRE(parse_exact(edns_query({0xFF}, 7, false).b, q) == ParseStatus::badvers);
        CHECK(q.edns.version == 7);
        CHECK_FALSE(q.edns.do_bit);
    }
    SECTION("but the message must still be well-formed") {
        Packet p = edns_query({}, 1, true);
        p.u8(0);
        CHECK(parse_exact(p.b, q) == ParseStatus::formerr);
        Packet two = edns_query({}, 1, true);
        two.set16(10, 2);
        two.opt(1232, 0, 0, false, {});
        CHECK(parse_exact(two.b, q) == ParseStatus::formerr);
    }
}

// ---- formerr ----

namespace {

// Checks formerr and that the header fields were still filled in.
void require_formerr(const Packet& p, uint16_t id = 0x1234)
{
    Query q;
    REQUIRE(parse_exact(p.b, q) == ParseStatus::formerr);
    CHECK(q.id == id);
    CHECK(q.opcode == opcode::QUERY);
    CHECK(q.rd);
}

} // namespace

TEST_CASE("parse_query: formerr on bad counts", "[dns][wire]")
{
    SECTION("QDCOUNT 0") {
        Packet p;
        p.header(0x1234, Packet::kRd, 0, 0, 0, 0);
        require_formerr(p);
    }
    SECTION("QDCOUNT 2") {
        Packet p = plain_query();
        p.set16(4, 2);
        p.name("example.net").u16(type::A).u16(klass::IN);
        require_formerr(p);
    }
    SECTION("ANCOUNT 1") {
        Packet p = plain_query();
        p.set16(6, 1);
        p.bytes({0xC0, 0x0C}).u16(type::A).u16(klass::IN).u32(1).u16(4).bytes({1, 2, 3, 4});
        require_formerr(p);
    }
    SECTION("ANCOUNT 1 with nothing after the question") {
        Packet p = plain_query();
        p.set16(6, 1);
        require_formerr(p);
    }
    SECTION("NSCOUNT larger than the records present") {
        Packet p = plain_query();
        p.set16(8, 1);
        require_formerr(p);
    }
    SECTION("ARCOUNT larger than the records present") {
        Packet p = plain_query();
        p.set16(10, 2);
        p.opt(1232, 0, 0, false, {});
        require_formerr(p);
    }
}

TEST_CASE("parse_query: formerr on bad OPT records", "[dns][wire]")
{
    SECTION("OPT owner not the root") {
        Packet p = plain_query();
        p.set16(10, 1);
        p.name("example.com").u16(type::OPT).u16(1232).u32(0).u16(0);
        require_formerr(p);
    }
    SECTION("OPT owner compressed to a non-root name") {
        Packet p = plain_query();
        p.set16(10, 1);
        p.bytes({0xC0, 0x0C}).u16(type::OPT).u16(1232).u32(0).u16(0);
        require_formerr(p);
    }
    SECTION("two OPT records") {
        Packet p = plain_query();
        p.set16(10, 2);
        p.opt(1232, 0, 0, false, {}).opt(1232, 0, 0, false, {});
        require_formerr(p);
    }
    SECTION("OPT in the authority section") {
        Packet p = plain_query();
        p.set16(8, 1);
        p.opt(1232, 0, 0, false, {});
        require_formerr(p);
    }
    SECTION("option length runs past the RDATA") {
        Packet p = plain_query();
        p.set16(10, 1);
        p.opt(1232, 0, 0, false, {0, 3, 0, 5, 1, 2});
        require_formerr(p);
    }
    SECTION("option header cut short") {
        Packet p = plain_query();
        p.set16(10, 1);
        p.opt(1232, 0, 0, false, {0, 3, 0});
        require_formerr(p);
    }
    SECTION("second option cut short") {
        Packet p = plain_query();
        p.set16(10, 1);
        p.opt(1232, 0, 0, false, {0, 3, 0, 0, 0, 10, 0, 8, 1, 2, 3});
        require_formerr(p);
    }
    SECTION("RDLENGTH runs past the message") {
        Packet p = plain_query();
        p.set16(10, 1);
        p.u8(0).u16(type::OPT).u16(1232).u32(0).u16(10).bytes({0, 3, 0, 0});
        require_formerr(p);
    }
}

TEST_CASE("parse_query: formerr on trailing bytes", "[dns][wire]")
{
    for (size_t extra : {1, 2, 11, 300}) {
        CAPTURE(extra);
        Packet p = plain_query();
        p.b.resize(p.b.size() + extra, 0);
        require_formerr(p);
        Packet e = edns_query();
        e.b.resize(e.b.size() + extra, 0);
        require_formerr(e, 0xBEEF);
    }
}

TEST_CASE("parse_query: formerr on bad names", "[dns][wire]")
{
    SECTION("label of 64 bytes") {
        Packet p;
        p.header(0x1234, Packet::kRd, 1, 0, 0, 0).raw_label(64).u8(0).u16(type::A).u16(1);
        require_formerr(p);
    }
    SECTION("name of 256 bytes") {
        Packet p;
        p.header(0x1234, Packet::kRd, 1, 0, 0, 0).long_name(256).u16(type::A).u16(1);
        require_formerr(p);
    }
    SECTION("name over 255 bytes only once decompressed") {
        // The question is 250 bytes; an authority owner adds 10 to it.
        Packet p;
        p.header(0x1234, Packet::kRd, 1, 0, 1, 0).long_name(250).u16(type::A).u16(1);
        p.raw_label(9).bytes({0xC0, 0x0C}).u16(type::A).u16(1).u32(0).u16(0);
        require_formerr(p);
        // ... while adding only 5 is fine.
        Packet ok;
        ok.header(0x1234, Packet::kRd, 1, 0, 1, 0).long_name(250).u16(type::A).u16(1);
        ok.raw_label(4).bytes({0xC0, 0x0C}).u16(type::A).u16(1).u32(0).u16(0);
        Query q;
        CHECK(parse_exact(ok.b, q) == ParseStatus::ok);
    }
    SECTION("label types 0x40 and 0x80") {
        for (uint8_t t : {0x41, 0x80, 0xBF}) {
            Packet p;
            p.header(0x1234, Packet::kRd, 1, 0, 0, 0).u8(t).u8(0).u8(0).u16(type::A).u16(1);
            require_formerr(p);
        }
    }
    SECTION("question without its type and class") {
        Packet p;
        p.header(0x1234, Packet::kRd, 1, 0, 0, 0).name("example.com").u16(type::A);
        require_formerr(p);
    }
    SECTION("name without a root label") {
        Packet p;
        p.header(0x1234, Packet::kRd, 1, 0, 0, 0).bytes({3, 'c', 'o', 'm'});
        require_formerr(p);
    }
}

TEST_CASE("parse_query: formerr on bad compression pointers", "[dns][wire]")
{
    SECTION("pointer in the question (nothing earlier to point to)") {
        Packet p;
        p.header(0x1234, Packet::kRd, 1, 0, 0, 0).bytes({0xC0, 0x0C}).u16(type::A).u16(1);
        require_formerr(p);
    }
    SECTION("pointer into the header") {
        Packet p = plain_query();
        p.set16(8, 1);
        p.bytes({0xC0, 0x02}).u16(type::A).u16(1).u32(0).u16(0);
        require_formerr(p);
    }
    SECTION("pointer to itself") {
        Packet p = plain_query();
        p.set16(8, 1);
        const auto self = static_cast<uint16_t>(0xC000 | p.b.size());
        p.u16(self).u16(type::A).u16(1).u32(0).u16(0);
        require_formerr(p);
    }
    SECTION("pointer forward") {
        Packet p = plain_query();
        p.set16(8, 2);
        const size_t here = p.b.size();
        // First owner points at the second record's owner ("x.com.").
        p.u16(static_cast<uint16_t>(0xC000 | (here + 12))).u16(type::A).u16(1).u32(0).u16(0);
        REQUIRE(p.b.size() == here + 12);
        p.name("x.com").u16(type::A).u16(1).u32(0).u16(0);
        require_formerr(p);
    }
    SECTION("loop through labels: label, then a pointer back to it") {
        Packet p = plain_query();
        p.set16(8, 1);
        const size_t here = p.b.size();
        p.bytes({1, 'a'}).u16(static_cast<uint16_t>(0xC000 | here)).u16(type::A).u16(1).u32(0)
            .u16(0);
        require_formerr(p);
    }
    SECTION("two pointers pointing at each other") {
        Packet p = plain_query();
        p.set16(8, 2);
        const size_t first = p.b.size();
        const size_t second = first + 12;
        p.u16(static_cast<uint16_t>(0xC000 | second)).u16(type::A).u16(1).u32(0).u16(0);
        p.u16(static_cast<uint16_t>(0xC000 | first)).u16(type::A).u16(1).u32(0).u16(0);
        require_formerr(p);
    }
    SECTION("pointer back into the name being read") {
        // Owner: label "\0" at `here`, then a pointer to `here + 1` (which
        // holds a 0, a root label). The target is before the pointer, but
        // inside this very name: not a prior occurrence (RFC 1035 4.1.4).
        Packet p = plain_query();
        p.set16(8, 1);
        const size_t here = p.b.size();
        p.bytes({1, 0}).u16(static_cast<uint16_t>(0xC000 | (here + 1))).u16(type::A).u16(1)
            .u32(0).u16(0);
        require_formerr(p);
    }
    SECTION("a pointer cut in half at the end") {
        Packet p = plain_query();
        p.set16(8, 1);
        p.u8(0xC0);
        require_formerr(p);
    }
    SECTION("too many hops, even backwards") {
        Packet p = Packet::pointer_chain(70);
        require_formerr(p);
    }
}

// ---- truncation ----

namespace {

std::vector<Packet> valid_samples()
{
    std::vector<Packet> out;
    out.push_back(plain_query());
    out.push_back(edns_query());
    out.push_back(edns_query({0, 3, 0, 0, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}));
    out.push_back(edns_query({}, 1, true)); // badvers
    Packet ns;
    ns.header(0x1234, Packet::kRd, 1, 0, 1, 1).name("example.com").u16(type::A).u16(1);
    ns.bytes({2, 'n', 's', 0xC0, 0x0C}).u16(type::NS).u16(1).u32(9).u16(2).bytes({0xC0, 0x0C});
    ns.opt(1232, 0, 0, true, {0, 3, 0, 0});
    out.push_back(ns);
    out.push_back(Packet::pointer_chain(20));
    return out;
}

} // namespace

TEST_CASE("parse_query: every truncation of a valid query is refused safely", "[dns][wire]")
{
    for (const Packet& full : valid_samples()) {
        Query q;
        const ParseStatus whole = parse_exact(full.b, q);
        REQUIRE((whole == ParseStatus::ok || whole == ParseStatus::badvers));
        for (size_t n = 0; n < full.b.size(); ++n) {
            CAPTURE(n, full.b.size());
            // parse_exact copies into a buffer of exactly n bytes, so the
            // address sanitizer catches any read past the end.
            const ParseStatus st =
                parse_exact(std::vector<uint8_t>(full.b.begin(), full.b.begin() + n), q);
            if (n < kHeaderSize) {
                CHECK(st == ParseStatus::drop);
            } else {
                CHECK(st == ParseStatus::formerr);
                CHECK(q.id == (full.b[0] << 8 | full.b[1]));
            }
        }
    }
}

TEST_CASE("parse_query: every single-byte change is handled", "[dns][wire]")
{
    // Not a correctness oracle, only "no crash, no out-of-bounds read, and the
    // result is one of the statuses"; the fuzzer goes further.
    for (const Packet& full : valid_samples()) {
        for (size_t i = 0; i < full.b.size(); ++i) {
            for (uint8_t v : {0x00, 0x01, 0x3F, 0x40, 0x80, 0xC0, 0xFF}) {
                std::vector<uint8_t> m = full.b;
                m[i] = v;
                Query q;
                const ParseStatus st = parse_exact(m, q);
                CHECK((st == ParseStatus::ok || st == ParseStatus::formerr ||
                       st == ParseStatus::notimp || st == ParseStatus::badvers ||
                       st == ParseStatus::drop));
                if (st == ParseStatus::ok || st == ParseStatus::badvers) {
                    CHECK(q.qname.len >= 1);
                    CHECK(name_labels(q.qname.view()) >= 0);
                    CHECK(q.question_end <= m.size());
                }
            }
        }
    }
}

TEST_CASE("parse_query: resets the output", "[dns][wire]")
{
    Query q;
    REQUIRE(parse_exact(edns_query({0, 3, 0, 0}).b, q) == ParseStatus::ok);
    REQUIRE(q.edns.nsid);
    REQUIRE(parse_exact(plain_query().b, q) == ParseStatus::ok);
    CHECK_FALSE(q.edns.present);
    CHECK_FALSE(q.edns.nsid);
    CHECK(parse_exact({}, q) == ParseStatus::drop);
    CHECK(q.qname.len == 0);
    CHECK(q.id == 0);
}
