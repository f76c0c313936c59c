// Key data, DS digests and RRSIG fields (src/dnssec/keys.cpp), checked
// against ldns's own computations; and the cost of one verification.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "sign_helpers.hpp"

using namespace kresd;
using namespace kresd::dnssec;
using namespace kresd::dnssec::test;

TEST_CASE("supported algorithms and digests follow RFC 8624", "[dnssec]") {
    for (int alg : {5, 7, 8, 10, 13, 14, 15, 16})
        CHECK(algorithm_supported(static_cast<uint8_t>(alg)));
    for (int alg : {0, 1, 3, 6, 12, 17, 253, 255})
        CHECK_FALSE(algorithm_supported(static_cast<uint8_t>(alg)));
    CHECK(digest_supported(1));
    CHECK(digest_supported(2));
    CHECK(digest_supported(4));
    CHECK_FALSE(digest_supported(3)); // GOST
    CHECK_FALSE(digest_supported(0));
    CHECK(std::string(to_text(Security::secure)) == "secure");
    CHECK(std::string(to_text(Security::bogus)) == "bogus");
}

TEST_CASE("key tag, flags and algorithm of a DNSKEY agree with ldns", "[dnssec]") {
    const TestKey k = make_key("example.", LDNS_SIGN_ECDSAP256SHA256, 257);
    CHECK(key_tag(k.dnskey.rdata) == k.tag);
    CHECK(dnskey_flags(k.dnskey.rdata) == 257);
    CHECK(dnskey_algorithm(k.dnskey.rdata) == 13);
    // RFC 4034 Appendix B / the root KSK-2017 DNSKEY.
    const auto root = rec(". 172800 IN DNSKEY 257 3 8 "
                          "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq"
                          "7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnI"
                          "DdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb"
                          "9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTId"
                          "sIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qih"
                          "ylGa8subX2Nn6UwNR1AkUTV74bU=");
    CHECK(key_tag(root.rdata) == 20326);
    CHECK(dnskey_flags(root.rdata) == 257);
    CHECK(key_tag({}) == 0);
    CHECK(dnskey_flags(std::vector<uint8_t>{1, 2}) == 0);
}

TEST_CASE("make_ds and ds_matches agree with ldns's DS for digests 1, 2 and 4", "[dnssec]") {
    const TestKey k = make_key("Example.", LDNS_SIGN_ED25519, 257);
    const auto key_rr = to_ldns(k.dnskey);
    for (auto [digest, hash] :
         {std::pair{1, LDNS_SHA1}, std::pair{2, LDNS_SHA256}, std::pair{4, LDNS_SHA384}}) {
        INFO(digest);
        const dns::ldns::Rr ds(ldns_key_rr2ds(key_rr.get(), hash));
        REQUIRE(ds);
        const auto want = from_ldns(ds.get());
        const auto made = make_ds(name("example."), k.dnskey.rdata, static_cast<uint8_t>(digest));
        CHECK(made == want.rdata);
        CHECK(ds_matches(name("EXAMPLE."), want.rdata, k.dnskey.rdata));
        auto bad = want.rdata;
        bad.back() ^= 1;
        CHECK_FALSE(ds_matches(name("example."), bad, k.dnskey.rdata));
        CHECK_FALSE(ds_matches(name("other."), want.rdata, k.dnskey.rdata));
    }
    CHECK(make_ds(name("example."), k.dnskey.rdata, 3).empty());
    CHECK_FALSE(ds_matches(name("example."), std::vector<uint8_t>{1, 2, 3}, k.dnskey.rdata));
}

TEST_CASE("parse_rrsig reads the fields and refuses truncated rdata", "[dnssec]") {
    const auto sig = rec("www.example. 3600 IN RRSIG A 8 2 3600 20300101000000 20200101000000 "
                         "4711 Example. AQIDBAUGBwgJ");
    const auto info = parse_rrsig(sig.rdata);
    REQUIRE(info);
    CHECK(info->type_covered == dns::type::A);
    CHECK(info->algorithm == 8);
    CHECK(info->labels == 2);
    CHECK(info->original_ttl == 3600);
    CHECK(info->key_tag == 4711);
    CHECK(info->inception == 1577836800u);
    CHECK(info->expiration == 1893456000u);
    CHECK(dns::name_to_text(info->signer.view()) == "Example.");
    for (size_t cut = 0; cut < sig.rdata.size() - 9; ++cut) {
        const std::span<const uint8_t> part(sig.rdata.data(), cut);
        CHECK_FALSE(parse_rrsig(part));
    }
    auto pointer = sig.rdata;
    pointer[18] = 0xC0; // a compression pointer where the signer starts
    CHECK_FALSE(parse_rrsig(pointer));
}

TEST_CASE("canonical_compare follows RFC 4034 6.1", "[dnssec]") {
    // The example list of RFC 4034 6.1, in order (name_from_text has no
    // escapes: \001.z.example. and \200.z.example. are made by hand below).
    const std::vector<std::string> plain = {
        "example.",        "a.example.", "yljkjljk.a.example.", "Z.a.example.",
        "zABC.a.EXAMPLE.", "z.example.", "*.z.example."};
    for (size_t i = 0; i < plain.size(); ++i)
        for (size_t j = 0; j < plain.size(); ++j) {
            INFO(plain[i] << " vs " << plain[j]);
            const int c = canonical_compare(name(plain[i]), name(plain[j]));
            CHECK((c < 0) == (i < j));
            CHECK((c == 0) == (i == j));
        }
    dns::Name low = name("a.z.example.");
    low.wire[1] = 1; // \001.z.example.
    dns::Name high = name("a.z.example.");
    high.wire[1] = 0x80; // \200.z.example.
    CHECK(canonical_compare(name("z.example."), low) < 0);
    CHECK(canonical_compare(low, name("*.z.example.")) < 0);
    CHECK(canonical_compare(name("*.z.example."), high) < 0);
}

TEST_CASE("one signature verification costs (alg 8 2048-bit, 13, 15, ...)",
          "[.][bench][dnssec-bench]") {
    const std::vector<std::pair<ldns_signing_algorithm, const char*>> algs = {
        {LDNS_SIGN_RSASHA256, "8 RSASHA256 2048"},   {LDNS_SIGN_RSASHA512, "10 RSASHA512 2048"},
        {LDNS_SIGN_ECDSAP256SHA256, "13 ECDSAP256"}, {LDNS_SIGN_ECDSAP384SHA384, "14 ECDSAP384"},
        {LDNS_SIGN_ED25519, "15 ED25519"},           {LDNS_SIGN_ED448, "16 ED448"}};
    const std::vector<dns::Record> rrs = {rec("www.example. 3600 IN A 192.0.2.1"),
                                          rec("www.example. 3600 IN A 192.0.2.2")};
    for (const auto& [alg, label] : algs) {
        const TestKey& k = cached_key("example.", alg);
        const std::vector<dns::Record> sigs = {sign_now(rrs, k)};
        const std::vector<dns::Record> keys = {k.dnskey};
        const auto set = ref(rrs, sigs);
        constexpr int kRounds = 2000;
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < kRounds; ++i) {
            Budget b;
            REQUIRE(verify_rrset(set, name("example."), keys, now_s(), b).j.ok());
        }
        const std::chrono::duration<double, std::micro> took =
            std::chrono::steady_clock::now() - start;
        std::printf("alg %-18s %8.1f us per verify_rrset\n", label, took.count() / kRounds);
    }
}
