// Unit tests for the cache value layout (src/cache/codec).
#include "cache/codec.hpp"
#include "cache_helpers.hpp"
#include "catch.hpp"

using namespace kresd::cache;
using namespace kresd::cache::test;
using keys::Kind;

namespace {

std::vector<uint8_t> sample_rrset() {
    const auto a = bytes({192, 0, 2, 1}), b = bytes({192, 0, 2, 2}), empty = bytes({});
    std::vector<uint8_t> out;
    const codec::Header h{Kind::rrset, 4, 1700000000ull + 300, 300, 1};
    REQUIRE(codec::encode_rrset(h, {sp(a), sp(b), sp(empty)}, out));
    return out;
}

std::vector<uint8_t> sample_negative(Kind kind) {
    std::vector<uint8_t> out;
    const auto owner = wire("example.com");
    const auto rd = soa_rdata(900);
    const codec::Header h{kind, 0, 1234567, 900, uint16_t(kind == Kind::nodata ? 28 : 0)};
    REQUIRE(codec::encode_negative(h, sp(owner), sp(rd), out));
    return out;
}

// Re-seals a value after a test edited its body, so only structure is tested.
void reseal(std::vector<uint8_t>& v) {
    const uint32_t sum = codec::checksum(std::span<const uint8_t>(v.data(), v.size() - 4));
    for (int i = 0; i < 4; ++i)
        v[v.size() - 4 + i] = static_cast<uint8_t>(sum >> (8 * i));
}

} // namespace

TEST_CASE("codec: RRset round trip", "[cache][codec]") {
    const auto v = sample_rrset();
    codec::Decoded d;
    REQUIRE(codec::decode(v, d));
    CHECK(d.h.kind == Kind::rrset);
    CHECK(d.h.rank == 4);
    CHECK(d.h.expire == 1700000300ull);
    CHECK(d.h.ttl == 300);
    CHECK(d.h.type == 1);
    REQUIRE(d.rdata_count == 3);
    codec::RdataIter it(d);
    std::vector<std::vector<uint8_t>> got;
    for (std::span<const uint8_t> rd; it.next(rd);)
        got.emplace_back(rd.begin(), rd.end());
    CHECK(got == std::vector<std::vector<uint8_t>>{bytes({192, 0, 2, 1}), bytes({192, 0, 2, 2}),
                                                   bytes({})});
}

TEST_CASE("codec: negative round trips", "[cache][codec]") {
    for (Kind kind : {Kind::nxdomain, Kind::nodata}) {
        const auto v = sample_negative(kind);
        codec::Decoded d;
        REQUIRE(codec::decode(v, d));
        CHECK(d.h.kind == kind);
        CHECK(d.h.expire == 1234567);
        CHECK(d.h.ttl == 900);
        CHECK(d.h.type == (kind == Kind::nodata ? 28 : 0));
        CHECK(std::vector<uint8_t>(d.soa_owner.begin(), d.soa_owner.end()) == wire("example.com"));
        CHECK(std::vector<uint8_t>(d.soa_rdata.begin(), d.soa_rdata.end()) == soa_rdata(900));
    }
    // An empty SOA is representable too.
    std::vector<uint8_t> out;
    REQUIRE(codec::encode_negative({Kind::nodata, 0, 5, 5, 1}, {}, {}, out));
    codec::Decoded d;
    REQUIRE(codec::decode(out, d));
    CHECK(d.soa_owner.empty());
    CHECK(d.soa_rdata.empty());
}

TEST_CASE("codec: what cannot be encoded", "[cache][codec]") {
    std::vector<uint8_t> out;
    CHECK_FALSE(codec::encode_rrset({Kind::rrset, 1, 0, 0, 1}, {}, out));
    const std::vector<uint8_t> huge(70000, 1);
    CHECK_FALSE(codec::encode_rrset({Kind::rrset, 1, 0, 0, 1}, {sp(huge)}, out));
    const auto bad_owner = bytes({3, 'a', 'b'});
    CHECK_FALSE(codec::encode_negative({Kind::nodata, 0, 0, 0, 1}, sp(bad_owner), {}, out));
    CHECK_FALSE(codec::encode_negative({Kind::rrset, 0, 0, 0, 1}, {}, {}, out));
}

TEST_CASE("codec: every truncation decodes as a miss", "[cache][codec]") {
    for (const auto& v :
         {sample_rrset(), sample_negative(Kind::nxdomain), sample_negative(Kind::nodata)}) {
        codec::Decoded d;
        REQUIRE(codec::decode(v, d));
        for (size_t n = 0; n < v.size(); ++n) {
            CAPTURE(n);
            CHECK_FALSE(codec::decode(std::span<const uint8_t>(v.data(), n), d));
        }
        // Structurally truncated values with a valid checksum fail too.
        for (size_t n = 4; n < v.size(); ++n) {
            std::vector<uint8_t> cut(v.begin(), v.begin() + static_cast<long>(n));
            reseal(cut);
            CAPTURE(n);
            CHECK_FALSE(codec::decode(cut, d));
        }
        // A trailing extra byte is corrupt as well.
        auto longer = v;
        longer.insert(longer.end() - 4, 0);
        reseal(longer);
        CHECK_FALSE(codec::decode(longer, d));
    }
}

TEST_CASE("codec: every flipped bit is detected", "[cache][codec]") {
    const auto v = sample_rrset();
    codec::Decoded d;
    for (size_t i = 0; i < v.size(); ++i)
        for (int bit = 0; bit < 8; ++bit) {
            auto bad = v;
            bad[i] ^= static_cast<uint8_t>(1u << bit);
            CAPTURE(i, bit);
            CHECK_FALSE(codec::decode(bad, d));
        }
}

TEST_CASE("codec: corrupt fields behind a valid checksum", "[cache][codec]") {
    codec::Decoded d;
    auto edit = [&](std::vector<uint8_t> v, size_t at, uint8_t value) {
        v[at] = value;
        reseal(v);
        return codec::decode(v, d);
    };
    const auto r = sample_rrset();
    CHECK_FALSE(edit(r, 0, codec::kVersion + 1)); // unknown version
    CHECK_FALSE(edit(r, 0, 1));    // the first format (FNV-1a checksum)
    CHECK_FALSE(edit(r, 0, 2));    // the second (no security, RRSIGs or proofs)
    CHECK_FALSE(edit(r, 1, 'Q'));  // unknown kind
    CHECK_FALSE(edit(r, 2, 0));    // rank 0
    CHECK_FALSE(edit(r, 2, 5));    // rank out of range
    CHECK_FALSE(edit(r, 3, 4));    // security beyond bogus (3)
    CHECK_FALSE(edit(r, 18, 0));   // zero rdatas
    CHECK_FALSE(edit(r, 18, 4));   // more rdatas than there are
    CHECK_FALSE(edit(r, 18, 2));   // fewer: leftover bytes
    CHECK_FALSE(edit(r, 20, 200)); // rdata length past the end
    CHECK(edit(r, 2, 1));          // a valid rank passes

    const auto n = sample_negative(Kind::nxdomain);
    CHECK_FALSE(edit(n, 2, 1));    // negatives carry no rank
    CHECK_FALSE(edit(n, 16, 1));   // NXDOMAIN has type 0
    CHECK_FALSE(edit(n, 18, 200)); // owner length past the end
    CHECK_FALSE(edit(n, 19, 64));  // owner is not a wire name
}

TEST_CASE("codec: security, RRSIGs and proof records round trip", "[cache][codec]") {
    const auto a = bytes({192, 0, 2, 1}), sig = bytes({0, 1, 13, 2, 1, 2, 3});
    std::vector<uint8_t> out;
    codec::Header h{Kind::rrset, 4, 1700000300ull, 300, 1, 2};
    REQUIRE(codec::encode_rrset(h, {sp(a)}, out, {sp(sig), sp(sig)}));
    codec::Decoded d;
    REQUIRE(codec::decode(out, d));
    CHECK(d.h.security == 2);
    CHECK(d.rdata_count == 1);
    REQUIRE(d.sig_count == 2);
    codec::RdataIter it(d.sig_list, d.sig_count);
    std::span<const uint8_t> s;
    REQUIRE(it.next(s));
    CHECK(std::vector<uint8_t>(s.begin(), s.end()) == sig);
    // Every truncation of the longer value is still refused.
    for (size_t n = 0; n < out.size(); ++n)
        CHECK_FALSE(codec::decode(std::span<const uint8_t>(out.data(), n), d));

    kresd::dns::Record rr;
    const auto owner = wire("x.example");
    std::copy(owner.begin(), owner.end(), rr.owner.wire.begin());
    rr.owner.len = static_cast<uint8_t>(owner.size());
    rr.type = 50;
    rr.ttl = 77;
    rr.rdata = bytes({1, 0, 0, 0, 0});
    const auto soa_owner = wire("example");
    const auto soa = soa_rdata(60);
    REQUIRE(codec::encode_negative({Kind::nxdomain, 0, 5, 5, 0, 1}, sp(soa_owner), sp(soa), out,
                                   std::span<const kresd::dns::Record>(&rr, 1)));
    REQUIRE(codec::decode(out, d));
    CHECK(d.h.security == 1);
    REQUIRE(d.proof_count == 1);
    codec::ProofIter pit(d);
    kresd::dns::Record back;
    REQUIRE(pit.next(back));
    CHECK(back.type == 50);
    CHECK(back.ttl == 77);
    CHECK(back.rdata == rr.rdata);
    CHECK(back.owner.len == rr.owner.len);
    CHECK_FALSE(pit.next(back));
}
