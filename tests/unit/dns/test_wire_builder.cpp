// Unit tests for ResponseBuilder (src/dns/wire).
#include "catch.hpp"
#include "wire_packet.hpp"

#include <algorithm>
#include <array>
#include <vector>

using namespace kresd::dns;
using kresd::dns::test::Packet;
using kresd::dns::test::parse_exact;

namespace {

// A response read back field by field, independently of the code under test.
struct Rr {
    std::vector<uint8_t> owner; // raw bytes as written (maybe a pointer)
    uint16_t type = 0, klass = 0;
    uint32_t ttl = 0;
    std::vector<uint8_t> rdata;
};

struct Response {
    uint16_t id = 0, flags = 0, qd = 0, an = 0, ns = 0, ar = 0;
    std::vector<uint8_t> qname;
    uint16_t qtype = 0, qclass = 0;
    std::vector<Rr> rrs; // all sections, in order
};

uint16_t rd16(const std::vector<uint8_t>& b, size_t& pos)
{
    REQUIRE(pos + 2 <= b.size());
    const auto v = static_cast<uint16_t>(b[pos] << 8 | b[pos + 1]);
    pos += 2;
    return v;
}

std::vector<uint8_t> rd_owner(const std::vector<uint8_t>& b, size_t& pos)
{
    std::vector<uint8_t> out;
    for (;;) {
        REQUIRE(pos < b.size());
        const uint8_t len = b[pos];
        if ((len & 0xC0) == 0xC0) {
            REQUIRE(pos + 2 <= b.size());
            out.insert(out.end(), b.begin() + static_cast<long>(pos),
                       b.begin() + static_cast<long>(pos + 2));
            pos += 2;
            return out;
        }
        REQUIRE(len <= 63);
        REQUIRE(pos + 1 + len <= b.size());
        out.insert(out.end(), b.begin() + static_cast<long>(pos),
                   b.begin() + static_cast<long>(pos + 1 + len));
        pos += 1 + len;
        if (len == 0)
            return out;
    }
}

Response read_response(const std::vector<uint8_t>& b)
{
    Response r;
    size_t pos = 0;
    r.id = rd16(b, pos);
    r.flags = rd16(b, pos);
    r.qd = rd16(b, pos);
    r.an = rd16(b, pos);
    r.ns = rd16(b, pos);
    r.ar = rd16(b, pos);
    REQUIRE(r.qd <= 1);
    if (r.qd == 1) {
        r.qname = rd_owner(b, pos);
        r.qtype = rd16(b, pos);
        r.qclass = rd16(b, pos);
    }
    for (int i = 0; i < r.an + r.ns + r.ar; ++i) {
        Rr rr;
        rr.owner = rd_owner(b, pos);
        rr.type = rd16(b, pos);
        rr.klass = rd16(b, pos);
        rr.ttl = uint32_t{rd16(b, pos)} << 16;
        rr.ttl |= rd16(b, pos);
        const uint16_t len = rd16(b, pos);
        REQUIRE(pos + len <= b.size());
        rr.rdata.assign(b.begin() + static_cast<long>(pos),
                        b.begin() + static_cast<long>(pos + len));
        pos += len;
        r.rrs.push_back(rr);
    }
    REQUIRE(pos == b.size());
    return r;
}

std::vector<uint8_t> wire_of(std::string_view text)
{
    Name n;
    REQUIRE(name_from_text(text, n));
    return {n.wire.begin(), n.wire.begin() + n.len};
}

Query parsed(const Packet& p)
{
    Query q;
    const ParseStatus st = parse_exact(p.b, q);
    REQUIRE((st == ParseStatus::ok || st == ParseStatus::badvers));
    return q;
}

Query plain(uint16_t flags = Packet::kRd)
{
    Packet p;
    p.header(0xABCD, flags, 1, 0, 0, 0).name("WwW.Example.com").u16(type::A).u16(klass::IN);
    return parsed(p);
}

Query with_edns(bool do_bit, std::vector<uint8_t> options = {}, uint8_t version = 0)
{
    Packet p;
    p.header(0x0102, Packet::kRd | Packet::kCd, 1, 0, 0, 1)
        .name("example.org")
        .u16(type::TXT)
        .u16(klass::IN)
        .opt(4096, 0, version, do_bit, options);
    return parsed(p);
}

const std::array<uint8_t, 4> kAddr = {192, 0, 2, 1};

std::vector<uint8_t> finished(ResponseBuilder& rb, std::array<uint8_t, 4096>& buf,
                              uint16_t udp = kDefaultEdnsSize)
{
    const size_t n = rb.finish(udp);
    return {buf.begin(), buf.begin() + static_cast<long>(n)};
}

} // namespace

TEST_CASE("ResponseBuilder: header and question", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    ResponseBuilder rb(buf, 512);
    const Query q = plain(Packet::kRd | Packet::kCd | Packet::kAd);
    REQUIRE(rb.begin(q, rcode::NXDOMAIN));
    const Response r = read_response(finished(rb, buf));
    CHECK(r.id == 0xABCD);
    CHECK((r.flags & Packet::kQr) != 0);
    CHECK((r.flags >> 11 & 0xF) == opcode::QUERY);
    CHECK((r.flags & Packet::kRd) != 0);
    CHECK((r.flags & Packet::kRa) != 0);
    CHECK((r.flags & Packet::kCd) != 0);
    CHECK((r.flags & Packet::kAa) == 0);
    CHECK((r.flags & Packet::kTc) == 0);
    CHECK((r.flags & Packet::kAd) == 0);
    CHECK((r.flags & 0xF) == rcode::NXDOMAIN);
    CHECK(r.qd == 1);
    CHECK(r.an == 0);
    CHECK(r.ar == 0); // no EDNS in the query, so no OPT
    CHECK(r.qname == wire_of("WwW.Example.com")); // case as received
    CHECK(r.qtype == type::A);
    CHECK(r.qclass == klass::IN);
}

TEST_CASE("ResponseBuilder: RD clear is copied, AA and TC can be set", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    ResponseBuilder rb(buf, 512);
    REQUIRE(rb.begin(plain(0), rcode::NOERROR));
    rb.set_aa(true);
    rb.set_tc(true);
    rb.set_tc(false);
    const Response r = read_response(finished(rb, buf));
    CHECK((r.flags & Packet::kRd) == 0);
    CHECK((r.flags & Packet::kCd) == 0);
    CHECK((r.flags & Packet::kAa) != 0);
    CHECK((r.flags & Packet::kTc) == 0);
    CHECK((r.flags & Packet::kRa) != 0);
}

TEST_CASE("ResponseBuilder: owner equal to the qname is compressed", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    ResponseBuilder rb(buf, 512);
    REQUIRE(rb.begin(plain(), rcode::NOERROR));
    const auto cname_target = wire_of("web.example.com");
    REQUIRE(rb.add_rr(Section::answer, wire_of("www.EXAMPLE.com."), type::CNAME, klass::IN, 300,
                      cname_target));
    REQUIRE(rb.add_rr(Section::answer, cname_target, type::A, klass::IN, 60, kAddr));
    REQUIRE(rb.add_rr(Section::authority, wire_of("example.com"), type::NS, klass::IN, 3600,
                      wire_of("ns.example.com")));
    const std::vector<uint8_t> msg = finished(rb, buf);
    const Response r = read_response(msg);
    CHECK(r.an == 2);
    CHECK(r.ns == 1);
    CHECK(r.ar == 0);
    REQUIRE(r.rrs.size() == 3);
    CHECK(r.rrs[0].owner == std::vector<uint8_t>{0xC0, 0x0C});
    CHECK(r.rrs[0].type == type::CNAME);
    CHECK(r.rrs[0].ttl == 300);
    CHECK(r.rrs[0].rdata == cname_target);
    CHECK(r.rrs[1].owner == cname_target);
    CHECK(r.rrs[1].type == type::A);
    CHECK(r.rrs[1].klass == klass::IN);
    CHECK(r.rrs[1].ttl == 60);
    CHECK(r.rrs[1].rdata == std::vector<uint8_t>(kAddr.begin(), kAddr.end()));
    CHECK(r.rrs[2].owner == wire_of("example.com"));
    // Size: 12 + question 21 + (2+10+17) + (17+10+4) + (13+10+16)
    CHECK(msg.size() == 12 + 21 + 29 + 31 + 39);
    CHECK(rb.size() == msg.size());
}

TEST_CASE("ResponseBuilder: sections only go forward", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    ResponseBuilder rb(buf, 512);
    REQUIRE(rb.begin(plain(), rcode::NOERROR));
    REQUIRE(rb.add_rr(Section::additional, wire_of("a"), type::A, klass::IN, 1, kAddr));
    const size_t before = rb.size();
    CHECK_FALSE(rb.add_rr(Section::answer, wire_of("a"), type::A, klass::IN, 1, kAddr));
    CHECK_FALSE(rb.add_rr(Section::authority, wire_of("a"), type::A, klass::IN, 1, kAddr));
    CHECK(rb.add_rr(Section::additional, wire_of("b"), type::A, klass::IN, 1, kAddr));
    CHECK(rb.size() > before);
    const Response r = read_response(finished(rb, buf));
    CHECK(r.an == 0);
    CHECK(r.ns == 0);
    CHECK(r.ar == 2);
}

TEST_CASE("ResponseBuilder: refuses malformed owners and use out of order",
          "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    ResponseBuilder rb(buf, 512);
    CHECK_FALSE(rb.add_rr(Section::answer, wire_of("a"), type::A, klass::IN, 1, kAddr));
    CHECK(rb.finish() == 0);
    REQUIRE(rb.begin(plain(), rcode::NOERROR));
    const std::vector<uint8_t> bad = {3, 'c', 'o'};
    CHECK_FALSE(rb.add_rr(Section::answer, bad, type::A, klass::IN, 1, kAddr));
    CHECK_FALSE(rb.add_rr(Section::answer, {}, type::A, klass::IN, 1, kAddr));
    const size_t n = rb.finish();
    CHECK(rb.finish() == n); // idempotent
    CHECK_FALSE(rb.add_rr(Section::answer, wire_of("a"), type::A, klass::IN, 1, kAddr));
    CHECK(rb.size() == n);
}

TEST_CASE("ResponseBuilder: OPT echoes DO and carries options", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    ResponseBuilder rb(buf, 4096);
    const Query q = with_edns(true, {0, 3, 0, 0});
    REQUIRE(q.edns.nsid);
    REQUIRE(rb.begin(q, rcode::NOERROR, 4 + 6));
    const std::array<uint8_t, 6> id = {'r', 'e', 's', '-', '0', '1'};
    REQUIRE(rb.add_option(edns_opt::NSID, id));
    CHECK_FALSE(rb.add_option(edns_opt::PADDING, {})); // nothing left reserved
    REQUIRE(rb.add_rr(Section::answer, wire_of("example.org"), type::TXT, klass::IN, 5,
                      std::vector<uint8_t>{2, 'h', 'i'}));
    const Response r = read_response(finished(rb, buf, 1400));
    CHECK(r.an == 1);
    CHECK(r.ar == 1);
    CHECK((r.flags & Packet::kCd) != 0);
    REQUIRE(r.rrs.size() == 2);
    const Rr& opt = r.rrs[1];
    CHECK(opt.owner == std::vector<uint8_t>{0});
    CHECK(opt.type == type::OPT);
    CHECK(opt.klass == 1400);
    CHECK(opt.ttl == 0x8000); // ext rcode 0, version 0, DO
    CHECK(opt.rdata ==
          std::vector<uint8_t>{0, 3, 0, 6, 'r', 'e', 's', '-', '0', '1'});
}

TEST_CASE("ResponseBuilder: OPT without DO, and the udp size floor", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    ResponseBuilder rb(buf, 4096);
    REQUIRE(rb.begin(with_edns(false), rcode::NOERROR));
    CHECK_FALSE(rb.add_option(edns_opt::NSID, {})); // nothing reserved
    const Response r = read_response(finished(rb, buf, 100));
    REQUIRE(r.rrs.size() == 1);
    CHECK(r.rrs[0].type == type::OPT);
    CHECK(r.rrs[0].ttl == 0);
    CHECK(r.rrs[0].klass == kMinUdpSize);
    CHECK(r.rrs[0].rdata.empty());

    ResponseBuilder rb2(buf, 4096);
    REQUIRE(rb2.begin(with_edns(false), rcode::NOERROR));
    const Response r2 = read_response(finished(rb2, buf));
    REQUIRE(r2.rrs.size() == 1);
    CHECK(r2.rrs[0].klass == kDefaultEdnsSize);
}

TEST_CASE("ResponseBuilder: add_option without EDNS is refused", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    ResponseBuilder rb(buf, 4096);
    REQUIRE(rb.begin(plain(), rcode::NOERROR, 100));
    CHECK_FALSE(rb.add_option(edns_opt::NSID, {}));
    const Response r = read_response(finished(rb, buf));
    CHECK(r.ar == 0);
}

TEST_CASE("ResponseBuilder: extended rcode is split between header and OPT",
          "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    ResponseBuilder rb(buf, 512);
    const Query q = with_edns(true, {}, 1);
    REQUIRE(q.edns.version == 1);
    REQUIRE(rb.begin(q, rcode::NOERROR));
    rb.set_rcode(rcode::BADVERS);
    const Response r = read_response(finished(rb, buf));
    CHECK((r.flags & 0xF) == 0);
    REQUIRE(r.rrs.size() == 1);
    CHECK(r.rrs[0].type == type::OPT);
    CHECK(r.rrs[0].ttl >> 24 == 1);       // BADVERS = 16 = 1 << 4
    CHECK((r.rrs[0].ttl >> 16 & 0xFF) == 0); // we speak version 0
    CHECK((r.rrs[0].ttl & 0x8000) != 0);

    SECTION("a 12-bit value with both parts") {
        ResponseBuilder rb2(buf, 512);
        REQUIRE(rb2.begin(q, rcode::NOERROR));
        rb2.set_rcode(0x0AB3);
        const Response r2 = read_response(finished(rb2, buf));
        CHECK((r2.flags & 0xF) == 3);
        CHECK(r2.rrs.at(0).ttl >> 24 == 0xAB);
    }
    SECTION("set back to a plain rcode") {
        ResponseBuilder rb3(buf, 512);
        REQUIRE(rb3.begin(q, rcode::NOERROR));
        rb3.set_rcode(rcode::BADVERS);
        rb3.set_rcode(rcode::REFUSED);
        const Response r3 = read_response(finished(rb3, buf));
        CHECK((r3.flags & 0xF) == rcode::REFUSED);
        CHECK(r3.rrs.at(0).ttl >> 24 == 0);
    }
}

TEST_CASE("ResponseBuilder: the limit is honoured and add_rr refuses", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    const Query q = plain();
    // Header 12 + question 21 = 33; each compressed A record is 16 bytes.
    ResponseBuilder rb(buf, 33 + 16 * 3 + 15);
    REQUIRE(rb.begin(q, rcode::NOERROR));
    int added = 0;
    while (rb.add_rr(Section::answer, q.qname.view(), type::A, klass::IN, 1, kAddr))
        ++added;
    CHECK(added == 3);
    const size_t before = rb.size();
    CHECK_FALSE(rb.add_rr(Section::additional, wire_of("a"), type::A, klass::IN, 1, kAddr));
    CHECK(rb.size() == before); // nothing written
    CHECK(buf[before] == 0);
    rb.set_tc(true);
    const std::vector<uint8_t> msg = finished(rb, buf);
    CHECK(msg.size() == 33 + 16 * 3);
    const Response r = read_response(msg);
    CHECK((r.flags & Packet::kTc) != 0);
    CHECK(r.an == 3);

    SECTION("a record that fits exactly is accepted") {
        ResponseBuilder exact(buf, 33 + 16);
        REQUIRE(exact.begin(q, rcode::NOERROR));
        CHECK(exact.add_rr(Section::answer, q.qname.view(), type::A, klass::IN, 1, kAddr));
        CHECK(exact.finish() == 33 + 16);
    }
}

TEST_CASE("ResponseBuilder: a truncated answer keeps its OPT", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    const Query q = with_edns(true, {0, 3, 0, 0});
    const size_t limit = 512;
    ResponseBuilder rb(buf, limit);
    REQUIRE(rb.begin(q, rcode::NOERROR, 4 + 8));
    const std::vector<uint8_t> txt(200, 'x');
    int added = 0;
    while (rb.add_rr(Section::answer, q.qname.view(), type::TXT, klass::IN, 1, txt))
        ++added;
    CHECK(added == 2);
    rb.set_tc(true);
    const std::array<uint8_t, 8> id = {1, 2, 3, 4, 5, 6, 7, 8};
    REQUIRE(rb.add_option(edns_opt::NSID, id));
    const std::vector<uint8_t> msg = finished(rb, buf);
    CHECK(msg.size() <= limit);
    const Response r = read_response(msg);
    CHECK((r.flags & Packet::kTc) != 0);
    CHECK(r.an == 2);
    CHECK(r.ar == 1);
    CHECK(r.rrs.back().type == type::OPT);
    CHECK(r.rrs.back().rdata.size() == 12);
}

TEST_CASE("ResponseBuilder: the OPT room is reserved at begin", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    const Query q = with_edns(false);
    // 12 + question (13 + 4) = 29; OPT 11 + 4 reserved = 15.
    {
        ResponseBuilder rb(buf, 29 + 15);
        CHECK(rb.begin(q, rcode::NOERROR, 4));
        CHECK_FALSE(rb.add_rr(Section::answer, q.qname.view(), type::A, klass::IN, 1, kAddr));
        CHECK(rb.add_option(edns_opt::NSID, {}));
        CHECK(rb.finish() == 29 + 15);
    }
    {
        ResponseBuilder rb(buf, 29 + 14);
        CHECK_FALSE(rb.begin(q, rcode::NOERROR, 4));
        CHECK_FALSE(rb.add_rr(Section::answer, q.qname.view(), type::A, klass::IN, 1, kAddr));
        CHECK(rb.finish() == 0);
    }
    {
        // The question alone does not fit.
        ResponseBuilder rb(buf, 20);
        CHECK_FALSE(rb.begin(plain(), rcode::NOERROR));
    }
}

TEST_CASE("ResponseBuilder: limit versus buffer size", "[dns][wire][builder]")
{
    const Query q = plain();
    std::vector<uint8_t> small(40); // 33 for header and question, 7 spare
    ResponseBuilder rb(small, 65535);
    REQUIRE(rb.begin(q, rcode::NOERROR));
    CHECK_FALSE(rb.add_rr(Section::answer, q.qname.view(), type::A, klass::IN, 1, kAddr));
    CHECK(rb.add_rr(Section::answer, q.qname.view(), type::A, klass::IN, 1, {}) == false);
    std::vector<uint8_t> fits(33 + 12);
    ResponseBuilder rb2(fits, 1000);
    REQUIRE(rb2.begin(q, rcode::NOERROR));
    CHECK(rb2.add_rr(Section::answer, q.qname.view(), type::A, klass::IN, 1, {}));
    CHECK(rb2.finish() == fits.size());
}

TEST_CASE("ResponseBuilder: header only", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    buf.fill(0xEE);
    Packet p;
    p.header(0x7777, (4 << 11) | Packet::kRd | Packet::kCd, 1, 0, 0, 0);
    Query q;
    REQUIRE(parse_exact(p.b, q) == ParseStatus::notimp);
    ResponseBuilder rb(buf, 512);
    REQUIRE(rb.begin_header_only(q, rcode::NOTIMP));
    const Response r = read_response(finished(rb, buf));
    CHECK(r.id == 0x7777);
    CHECK((r.flags >> 11 & 0xF) == 4);
    CHECK((r.flags & Packet::kQr) != 0);
    CHECK((r.flags & Packet::kRd) != 0);
    CHECK((r.flags & 0xF) == rcode::NOTIMP);
    CHECK(r.qd + r.an + r.ns + r.ar == 0);

    SECTION("no OPT, even when the query had one") {
        Query e = with_edns(true);
        ResponseBuilder rb2(buf, 512);
        REQUIRE(rb2.begin_header_only(e, rcode::FORMERR));
        CHECK(rb2.finish() == kHeaderSize);
    }
    SECTION("a limit under 12 bytes") {
        ResponseBuilder rb3(buf, 11);
        CHECK_FALSE(rb3.begin_header_only(q, rcode::FORMERR));
        CHECK(rb3.finish() == 0);
    }
}

TEST_CASE("ResponseBuilder: reuse after begin", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    ResponseBuilder rb(buf, 4096);
    REQUIRE(rb.begin(with_edns(true), rcode::SERVFAIL, 8));
    REQUIRE(rb.add_rr(Section::answer, wire_of("x"), type::A, klass::IN, 1, kAddr));
    rb.set_rcode(rcode::BADVERS);
    rb.finish();
    REQUIRE(rb.begin(plain(), rcode::NOERROR));
    const Response r = read_response(finished(rb, buf));
    CHECK((r.flags & 0xF) == rcode::NOERROR);
    CHECK(r.an == 0);
    CHECK(r.ar == 0);
    CHECK(r.id == 0xABCD);
}

TEST_CASE("ResponseBuilder: a response reads back as the query it answers",
          "[dns][wire][builder]")
{
    // Turn the response into a query again (QR off, no records): the
    // question must parse to the same thing.
    std::array<uint8_t, 4096> buf{};
    const Query q = plain();
    ResponseBuilder rb(buf, 512);
    REQUIRE(rb.begin(q, rcode::NOERROR));
    std::vector<uint8_t> msg = finished(rb, buf);
    msg[2] &= 0x7F;
    Query back;
    REQUIRE(parse_exact(msg, back) == ParseStatus::ok);
    CHECK(back.id == q.id);
    CHECK(back.qname.view().size() == q.qname.view().size());
    CHECK(std::equal(back.qname.wire.begin(), back.qname.wire.begin() + back.qname.len,
                     q.qname.wire.begin()));
    CHECK(back.qtype == q.qtype);
    CHECK(back.rd == q.rd);
}

TEST_CASE("ResponseBuilder: padding to a block, after the other options", "[dns][wire][builder]")
{
    std::array<uint8_t, 4096> buf{};
    const Query q = with_edns(false, {0, 3, 0, 0, 0, 12, 0, 0}); // NSID + PADDING
    REQUIRE(q.edns.nsid);
    REQUIRE(q.edns.padding);
    REQUIRE_FALSE(plain().edns.padding);

    ResponseBuilder rb(buf, 4096);
    REQUIRE(rb.begin(q, rcode::NOERROR, 4 + 2));
    REQUIRE(rb.add_option(edns_opt::NSID, std::array<uint8_t, 2>{'i', 'd'}));
    REQUIRE(rb.add_rr(Section::answer, wire_of("example.org"), type::A, klass::IN, 5,
                      std::vector<uint8_t>{192, 0, 2, 1}));
    rb.set_padding(468);
    const auto wire = finished(rb, buf, 1232);
    CHECK(wire.size() == 468);
    const Response r = read_response(wire);
    REQUIRE(r.rrs.size() == 2);
    const auto& rd = r.rrs[1].rdata;
    REQUIRE(rd.size() > 10);
    CHECK(std::vector<uint8_t>(rd.begin(), rd.begin() + 6) ==
          std::vector<uint8_t>{0, 3, 0, 2, 'i', 'd'});
    CHECK(rd[6] == 0);
    CHECK(rd[7] == 12); // PADDING last
    CHECK(size_t(rd[8]) * 256 + rd[9] == rd.size() - 10);
    CHECK(std::all_of(rd.begin() + 10, rd.end(), [](uint8_t b) { return b == 0; }));

    SECTION("a block the message does not fit in the limit: no padding")
    {
        ResponseBuilder small(buf, 300);
        REQUIRE(small.begin(q, rcode::NOERROR));
        small.set_padding(468);
        const Response s = read_response(finished(small, buf, 1232));
        REQUIRE(s.rrs.size() == 1);
        CHECK(s.rrs[0].rdata.empty());
    }
    SECTION("other block sizes; 0 and 1 pad nothing")
    {
        for (uint16_t block : {2, 64, 128, 500}) {
            ResponseBuilder b(buf, 4096);
            REQUIRE(b.begin(q, rcode::NOERROR));
            b.set_padding(block);
            CHECK(finished(b, buf, 1232).size() % block == 0);
        }
        for (uint16_t block : {0, 1}) {
            ResponseBuilder b(buf, 4096);
            REQUIRE(b.begin(q, rcode::NOERROR));
            b.set_padding(block);
            CHECK(read_response(finished(b, buf, 1232)).rrs.at(0).rdata.empty());
        }
    }
    SECTION("without EDNS there is nothing to pad")
    {
        ResponseBuilder b(buf, 4096);
        REQUIRE(b.begin(plain(), rcode::NOERROR));
        b.set_padding(468);
        CHECK(finished(b, buf, 1232).size() < 468);
    }
}
