// RRset signatures and DNSKEY sets (src/dnssec/verify.cpp), with keys and
// RRSIGs made by ldns.
#include <string>
#include <vector>

#include "sign_helpers.hpp"

using namespace kresd;
using namespace kresd::dnssec;
using namespace kresd::dnssec::test;

namespace {

const std::vector<dns::Record>& www() {
    static const std::vector<dns::Record> rrs = {rec("www.example. 3600 IN A 192.0.2.1"),
                                                 rec("www.example. 3600 IN A 192.0.2.2")};
    return rrs;
}

Verified check(const std::vector<dns::Record>& rrs, const std::vector<dns::Record>& sigs,
               const std::vector<dns::Record>& keys, uint64_t now = now_s()) {
    Budget b;
    return verify_rrset(ref(rrs, sigs), name("example."), keys, now, b);
}

const TestKey& ksk8() {
    return cached_key("example.", LDNS_SIGN_RSASHA256);
}

} // namespace

TEST_CASE("a valid signature verifies for every supported algorithm", "[dnssec]") {
    const std::vector<std::pair<ldns_signing_algorithm, int>> algs = {
        {LDNS_SIGN_RSASHA1, 5},          {LDNS_SIGN_RSASHA1_NSEC3, 7},
        {LDNS_SIGN_RSASHA256, 8},        {LDNS_SIGN_RSASHA512, 10},
        {LDNS_SIGN_ECDSAP256SHA256, 13}, {LDNS_SIGN_ECDSAP384SHA384, 14},
        {LDNS_SIGN_ED25519, 15},         {LDNS_SIGN_ED448, 16}};
    for (const auto& [alg, number] : algs) {
        INFO("algorithm " << number);
        const TestKey& k = cached_key("example.", alg);
        CHECK(dnskey_algorithm(k.dnskey.rdata) == number);
        const auto v = check(www(), {sign_now(www(), k)}, {k.dnskey});
        CHECK(v.j.ok());
        CHECK(v.j.why == "signature verified");
        CHECK(v.ttl == 3600);
        CHECK_FALSE(v.wildcard);
        CHECK(v.labels == 2);
        // The same signature over other data fails.
        auto other = www();
        other[1] = rec("www.example. 3600 IN A 192.0.2.3");
        const auto bad = check(other, {sign_now(www(), k)}, {k.dnskey});
        CHECK(bad.j.status == Security::bogus);
        CHECK(bad.j.ede == ede::DNSSEC_BOGUS);
    }
}

TEST_CASE("validity period: expired, not yet valid, the skew, the TTL cap", "[dnssec]") {
    const TestKey& k = ksk8();
    const auto now = static_cast<uint32_t>(now_s());
    SECTION("expired") {
        const auto v = check(www(), {sign(www(), k, now - 86400, now - 1000)}, {k.dnskey});
        CHECK(v.j.status == Security::bogus);
        CHECK(v.j.ede == ede::SIGNATURE_EXPIRED);
        CHECK(v.j.why == "RRSIG expired");
    }
    SECTION("expired but within the skew: valid, TTL 0") {
        const auto v = check(www(), {sign(www(), k, now - 86400, now - 100)}, {k.dnskey});
        CHECK(v.j.ok());
        CHECK(v.ttl == 0);
    }
    SECTION("not yet valid") {
        const auto v = check(www(), {sign(www(), k, now + 1000, now + 86400)}, {k.dnskey});
        CHECK(v.j.ede == ede::SIGNATURE_NOT_YET_VALID);
    }
    SECTION("inception within the skew: valid") {
        CHECK(check(www(), {sign(www(), k, now + 100, now + 86400)}, {k.dnskey}).j.ok());
    }
    SECTION("TTL capped by what is left of the signature") {
        const auto v = check(www(), {sign(www(), k, now - 10, now + 100)}, {k.dnskey}, now);
        CHECK(v.j.ok());
        CHECK(v.ttl == 100);
    }
    SECTION("TTL capped by the records' TTL and the original TTL") {
        auto rrs = www();
        const auto sig = sign(rrs, k, now - 10, now + 86400); // original TTL 3600
        rrs[0].ttl = 60;
        // The signed data uses the original TTL, so a lower received TTL verifies.
        const auto v = check(rrs, {sig}, {k.dnskey});
        CHECK(v.j.ok());
        CHECK(v.ttl == 60);
        rrs[0].ttl = rrs[1].ttl = 86400;
        CHECK(check(rrs, {sig}, {k.dnskey}).ttl == 3600);
    }
    SECTION("serial arithmetic across the 32-bit wrap (RFC 1982)") {
        const uint64_t later = (uint64_t{1} << 32) + 1000; // the year 2106 + 1000 s
        const auto v = check(www(), {sign(www(), k, 0xFFFFFF00u, 5000)}, {k.dnskey}, later);
        CHECK(v.j.ok());
        CHECK(v.ttl == 3600);
        CHECK(check(www(), {sign(www(), k, 0xFFFFFF00u, 5000)}, {k.dnskey}, later + 5000).j.ede ==
              ede::SIGNATURE_EXPIRED);
    }
    SECTION("several failures: expired wins over not yet valid; one good is enough") {
        const auto expired = sign(www(), k, now - 86400, now - 1000);
        const auto future = sign(www(), k, now + 1000, now + 86400);
        CHECK(check(www(), {future, expired}, {k.dnskey}).j.ede == ede::SIGNATURE_EXPIRED);
        CHECK(check(www(), {expired, future, sign_now(www(), k)}, {k.dnskey}).j.ok());
    }
}

TEST_CASE("which keys may verify: tag, zone bit, revoked", "[dnssec]") {
    const TestKey& k = ksk8();
    const auto sig = sign_now(www(), k);
    SECTION("no key with the RRSIG's tag: DNSKEY missing") {
        const TestKey& other = cached_key("example.", LDNS_SIGN_ECDSAP256SHA256);
        const auto v = check(www(), {sig}, {other.dnskey});
        CHECK(v.j.ede == ede::DNSKEY_MISSING);
    }
    SECTION("a key without the zone bit is not used") {
        const TestKey& nonzone = cached_key("example.", LDNS_SIGN_ED25519, 0);
        const auto v = check(www(), {sign_now(www(), nonzone)}, {nonzone.dnskey});
        CHECK(v.j.ede == ede::DNSKEY_MISSING);
    }
    SECTION("a revoked key does not sign data, but signs the DNSKEY RRset (RFC 5011)") {
        const TestKey& revoked = cached_key("example.", LDNS_SIGN_ED25519, 257 | 0x80);
        CHECK(check(www(), {sign_now(www(), revoked)}, {revoked.dnskey}).j.ede ==
              ede::DNSKEY_MISSING);
        const std::vector<dns::Record> keys = {revoked.dnskey};
        CHECK(check(keys, {sign_now(keys, revoked)}, keys).j.ok());
    }
    SECTION("the signer must be the zone") {
        const TestKey& foreign = cached_key("other.", LDNS_SIGN_ED25519);
        const auto v = check(www(), {sign_now(www(), foreign)}, {foreign.dnskey});
        CHECK(v.j.status == Security::bogus);
        CHECK(v.j.why == "RRSIG signer is not the zone");
    }
    SECTION("the signer must be an ancestor of the owner") {
        const TestKey& foreign = cached_key("other.", LDNS_SIGN_ED25519);
        Budget b;
        const auto v = verify_rrset(ref(www(), {sign_now(www(), foreign)}), name("other."),
                                    std::vector{foreign.dnskey}, now_s(), b);
        CHECK(v.j.why == "RRSIG signer is not an ancestor of the owner");
    }
}

TEST_CASE("RRSIG shape: missing, other type, labels, tampered", "[dnssec]") {
    const TestKey& k = ksk8();
    SECTION("no RRSIG: RRSIGs missing") {
        const auto v = check(www(), {}, {k.dnskey});
        CHECK(v.j.status == Security::bogus);
        CHECK(v.j.ede == ede::RRSIGS_MISSING);
    }
    SECTION("an RRSIG over another type is ignored") {
        const std::vector<dns::Record> txt = {rec("www.example. 3600 IN TXT \"x\"")};
        CHECK(check(www(), {sign_now(txt, k)}, {k.dnskey}).j.ede == ede::RRSIGS_MISSING);
        // ...and one relabelled to cover A fails.
        auto forged = sign_now(txt, k);
        forged.rdata[0] = 0;
        forged.rdata[1] = 1;
        CHECK(check(www(), {forged}, {k.dnskey}).j.ede == ede::DNSSEC_BOGUS);
    }
    SECTION("labels above the owner's count") {
        auto sig = sign_now(www(), k);
        sig.rdata[3] = 3;
        const auto v = check(www(), {sig}, {k.dnskey});
        CHECK(v.j.status == Security::bogus);
        CHECK(v.j.why == "RRSIG labels exceed the owner's");
    }
    SECTION("tampered rdata or signature") {
        auto rrs = www();
        const auto sig = sign_now(rrs, k);
        rrs[0].rdata[3] ^= 1;
        CHECK(check(rrs, {sig}, {k.dnskey}).j.ede == ede::DNSSEC_BOGUS);
        auto bad = sign_now(www(), k);
        bad.rdata.back() ^= 1;
        CHECK(check(www(), {bad}, {k.dnskey}).j.why == "signature does not verify");
    }
    SECTION("truncated RRSIGs and keys never crash") {
        const auto sig = sign_now(www(), k);
        for (size_t cut = 0; cut < sig.rdata.size(); cut += 7) {
            auto s = sig;
            s.rdata.resize(cut);
            CHECK(check(www(), {s}, {k.dnskey}).j.status == Security::bogus);
        }
        auto key = k.dnskey;
        key.rdata.resize(40);
        CHECK(check(www(), {sig}, {key}).j.status == Security::bogus);
    }
    SECTION("a record with malformed rdata for its type") {
        std::vector<dns::Record> ns = {rec("example. 3600 IN NS ns1.example.")};
        const auto sig = sign_now(ns, k);
        ns[0].rdata.pop_back(); // the name loses its root label
        CHECK(check(ns, {sig}, {k.dnskey}).j.status == Security::bogus);
    }
}

TEST_CASE("canonical form: case in owners and rdata names, order, duplicates", "[dnssec]") {
    const TestKey& k = cached_key("example.", LDNS_SIGN_ECDSAP256SHA256);
    const std::vector<dns::Record> signed_set = {rec("www.example. 3600 IN MX 10 mail.example."),
                                                 rec("www.example. 3600 IN MX 20 backup.example.")};
    const auto sig = sign_now(signed_set, k);
    SECTION("owner case") {
        const std::vector<dns::Record> rrs = {rec("WwW.ExAmPlE. 3600 IN MX 10 mail.example."),
                                              rec("WwW.ExAmPlE. 3600 IN MX 20 backup.example.")};
        CHECK(check(rrs, {sig}, {k.dnskey}).j.ok());
    }
    SECTION("names in MX rdata are compared lower-cased") {
        const std::vector<dns::Record> rrs = {rec("www.example. 3600 IN MX 20 BACKUP.example."),
                                              rec("www.example. 3600 IN MX 10 Mail.Example.")};
        CHECK(check(rrs, {sig}, {k.dnskey}).j.ok());
    }
    SECTION("duplicates are removed") {
        auto rrs = signed_set;
        rrs.push_back(signed_set[0]);
        CHECK(check(rrs, {sig}, {k.dnskey}).j.ok());
    }
    SECTION("an upper-case signer name") {
        auto up = sig;
        for (size_t i = 18; i < 18 + 9; ++i)
            if (up.rdata[i] >= 'a' && up.rdata[i] <= 'z')
                up.rdata[i] = static_cast<uint8_t>(up.rdata[i] - 32);
        CHECK(check(signed_set, {up}, {k.dnskey}).j.ok());
    }
    SECTION("names in NSEC rdata keep their case (RFC 6840 5.1)") {
        const std::vector<dns::Record> nsec = {rec("a.example. 3600 IN NSEC B.example. A NSEC")};
        const auto s = sign_now(nsec, k);
        CHECK(check(nsec, {s}, {k.dnskey}).j.ok());
        CHECK_FALSE(
            check({rec("a.example. 3600 IN NSEC b.example. A NSEC")}, {s}, {k.dnskey}).j.ok());
    }
    SECTION("SOA and SRV rdata names") {
        const std::vector<dns::Record> soa = {
            rec("example. 3600 IN SOA ns1.example. hostmaster.example. 1 2 3 4 5")};
        const auto s = sign_now(soa, k);
        CHECK(check({rec("example. 3600 IN SOA NS1.example. HostMaster.example. 1 2 3 4 5")}, {s},
                    {k.dnskey})
                  .j.ok());
        const std::vector<dns::Record> srv = {rec("_x._tcp.example. 3600 IN SRV 1 2 3 t.example.")};
        CHECK(check({rec("_x._tcp.example. 3600 IN SRV 1 2 3 T.EXAMPLE.")}, {sign_now(srv, k)},
                    {k.dnskey})
                  .j.ok());
    }
}

TEST_CASE("a wildcard expansion is flagged with the RRSIG's labels", "[dnssec]") {
    const TestKey& k = cached_key("example.", LDNS_SIGN_ED25519);
    const std::vector<dns::Record> wild = {rec("*.w.example. 3600 IN MX 1 ai.example.")};
    const auto sig = sign_now(wild, k);
    REQUIRE(parse_rrsig(sig.rdata)->labels == 2);
    // The wildcard RRset itself is not an expansion.
    const auto self = check(wild, {sig}, {k.dnskey});
    CHECK(self.j.ok());
    CHECK_FALSE(self.wildcard);
    const std::vector<dns::Record> expanded = {rec("a.z.w.example. 3600 IN MX 1 ai.example.")};
    const auto v = check(expanded, {sig}, {k.dnskey});
    CHECK(v.j.ok());
    CHECK(v.wildcard);
    CHECK(v.labels == 2);
    // Expanded from another wildcard than the one signed: fails.
    const std::vector<dns::Record> elsewhere = {rec("a.example. 3600 IN MX 1 ai.example.")};
    CHECK(check(elsewhere, {sig}, {k.dnskey}).j.status == Security::bogus);
}

TEST_CASE("the validation budget bounds signature checks (KeyTrap)", "[dnssec]") {
    const TestKey& k = ksk8();
    const auto good = sign_now(www(), k);
    auto bad = good;
    bad.rdata.back() ^= 1;
    Budget b{0};
    auto v = verify_rrset(ref(www(), {good}), name("example."), std::vector{k.dnskey}, now_s(), b);
    CHECK(v.j.status == Security::bogus);
    CHECK(v.j.why == "validation budget exhausted");
    Budget one{1};
    v = verify_rrset(ref(www(), {bad, good}), name("example."), std::vector{k.dnskey}, now_s(),
                     one);
    CHECK(v.j.why == "validation budget exhausted");
    CHECK(one.left == 0);
    Budget two{2};
    CHECK(
        verify_rrset(ref(www(), {bad, good}), name("example."), std::vector{k.dnskey}, now_s(), two)
            .j.ok());
    // Many keys with the same tag (colliding) each take one unit.
    const std::vector<dns::Record> keys(10, k.dnskey); // ten attempts with the bad signature
    Budget five{5};
    CHECK(verify_rrset(ref(www(), {bad}), name("example."), keys, now_s(), five).j.why ==
          "validation budget exhausted");
}

TEST_CASE("signer_of names the signer of the RRSIG covering the set", "[dnssec]") {
    const TestKey& k = ksk8();
    const std::vector<dns::Record> txt = {rec("www.example. 3600 IN TXT \"x\"")};
    const std::vector<dns::Record> sigs = {sign_now(txt, k), sign_now(www(), k)};
    const auto s = signer_of(ref(www(), sigs));
    REQUIRE(s);
    CHECK(dns::name_to_text(s->view()) == "example.");
    CHECK_FALSE(signer_of(ref(www(), {})));
}

TEST_CASE("verify_dnskeys: DS and anchors, digests, algorithms", "[dnssec]") {
    const TestKey& ksk = cached_key("example.", LDNS_SIGN_RSASHA256, 257);
    const TestKey& zsk = cached_key("example.", LDNS_SIGN_ECDSAP256SHA256, 256);
    const std::vector<dns::Record> keys = {ksk.dnskey, zsk.dnskey};
    const std::vector<dns::Record> sigs = {sign_now(keys, ksk)};
    const auto set = ref(keys, sigs);
    const dns::Name zone = name("example.");
    auto ds_of = [&](const TestKey& k, uint8_t digest) {
        dns::Record ds = rec("example. 3600 IN DS 1 8 2 00");
        ds.rdata = make_ds(zone, k.dnskey.rdata, digest);
        return ds;
    };
    auto run = [&](const std::vector<dns::Record>& ds,
                   const std::vector<dns::Record>& anchors = {}) {
        Budget b;
        return verify_dnskeys(zone, set, ds, anchors, now_s(), b);
    };
    SECTION("a matching DS: secure") {
        CHECK(run({ds_of(ksk, 2)}).ok());
        CHECK(run({ds_of(ksk, 4)}).ok());
        CHECK(run({ds_of(ksk, 1)}).ok());
    }
    SECTION("a DS matching no key: bogus, DNSKEY missing") {
        const TestKey& stranger = cached_key("example.", LDNS_SIGN_ED448);
        const auto j = run({ds_of(stranger, 2)});
        CHECK(j.status == Security::bogus);
        CHECK(j.ede == ede::DNSKEY_MISSING);
    }
    SECTION("a DS of the ZSK, which did not sign the set: bogus") {
        CHECK(run({ds_of(zsk, 2)}).status == Security::bogus);
    }
    SECTION("digest 1 is ignored when the key has a digest 2 DS (RFC 4509 3)") {
        auto broken2 = ds_of(ksk, 2);
        broken2.rdata.back() ^= 1;
        CHECK(run({ds_of(ksk, 1), broken2}).status == Security::bogus);
        CHECK(run({ds_of(ksk, 1), ds_of(ksk, 2)}).ok());
    }
    SECTION("only unsupported algorithms: insecure, EDE 1") {
        auto ds = ds_of(ksk, 2);
        ds.rdata[2] = 3; // DSA
        const auto j = run({ds});
        CHECK(j.status == Security::insecure);
        CHECK(j.ede == ede::UNSUPPORTED_DNSKEY_ALG);
    }
    SECTION("only unsupported digests: insecure, EDE 2") {
        auto ds = ds_of(ksk, 2);
        ds.rdata[3] = 3; // GOST
        const auto j = run({ds});
        CHECK(j.status == Security::insecure);
        CHECK(j.ede == ede::UNSUPPORTED_DS_DIGEST);
    }
    SECTION("an unsupported DS beside a good one does not matter") {
        auto odd = ds_of(ksk, 2);
        odd.rdata[3] = 3;
        CHECK(run({odd, ds_of(ksk, 2)}).ok());
    }
    SECTION("a trust anchor in DNSKEY form: exact rdata") {
        CHECK(run({}, {ksk.dnskey}).ok());
        auto other = ksk.dnskey;
        other.rdata.back() ^= 1;
        CHECK(run({}, {other}).ede == ede::DNSKEY_MISSING);
    }
    SECTION("a revoked key matched by DS is not trusted") {
        const TestKey& revoked = cached_key("example.", LDNS_SIGN_ED25519, 257 | 0x80);
        const std::vector<dns::Record> rkeys = {revoked.dnskey};
        const std::vector<dns::Record> rsigs = {sign_now(rkeys, revoked)};
        dns::Record ds = ds_of(revoked, 2);
        Budget b;
        CHECK(verify_dnskeys(zone, ref(rkeys, rsigs), std::vector{ds}, {}, now_s(), b).ede ==
              ede::DNSKEY_MISSING);
    }
    SECTION("no DS and no anchor: bogus") {
        CHECK(run({}).status == Security::bogus);
    }
    SECTION("the DNSKEY signature expired") {
        const auto now = static_cast<uint32_t>(now_s());
        const std::vector<dns::Record> old = {sign(keys, ksk, now - 90000, now - 5000)};
        Budget b;
        CHECK(
            verify_dnskeys(zone, ref(keys, old), std::vector{ds_of(ksk, 2)}, {}, now_s(), b).ede ==
            ede::SIGNATURE_EXPIRED);
    }
}

TEST_CASE("a signature verified once is not checked again, and only the same bytes match",
          "[dnssec]") {
    const TestKey& k = ksk8();
    const auto good = sign_now(www(), k);
    VerifiedMemo memo;
    Budget one{1};
    REQUIRE(verify_rrset(ref(www(), {good}), name("example."), std::vector{k.dnskey}, now_s(), one,
                         {}, &memo)
                .j.ok());
    CHECK(one.left == 0);
    CHECK(memo.size() == 1);
    // The same RRset and RRSIG again: no budget needed.
    Budget none{0};
    const auto again = verify_rrset(ref(www(), {good}), name("example."), std::vector{k.dnskey},
                                    now_s(), none, {}, &memo);
    CHECK(again.j.ok());
    // Other data under the same signature is checked, and fails.
    std::vector<dns::Record> other = www();
    other.front().rdata.back() ^= 1;
    Budget more{1};
    CHECK(verify_rrset(ref(other, {good}), name("example."), std::vector{k.dnskey}, now_s(), more,
                       {}, &memo)
              .j.status == Security::bogus);
    CHECK(more.left == 0);
    // Past the signature's expiration the memo does not vouch for it.
    Budget late{0};
    CHECK_FALSE(verify_rrset(ref(www(), {good}), name("example."), std::vector{k.dnskey},
                             now_s() + 400 * 86400, late, {}, &memo)
                    .j.ok());
}
