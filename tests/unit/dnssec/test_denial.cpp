// NSEC and NSEC3 denial proofs (src/dnssec/denial.cpp, nsec.cpp,
// nsec3.cpp) over the example zones of RFC 4035 Appendix A and RFC 5155
// Appendix A.
#include <random>
#include <string>
#include <vector>

#include "sign_helpers.hpp"

using namespace kresd;
using namespace kresd::dnssec;
using namespace kresd::dnssec::test;

namespace {

// RFC 4035 Appendix A (b.example is an unsigned delegation, a.example a signed one).
const std::vector<dns::Record>& nsec_zone() {
    static const auto chain = nsec_chain({{"example.", "NS SOA MX RRSIG NSEC DNSKEY"},
                                          {"a.example.", "NS DS RRSIG NSEC"},
                                          {"ai.example.", "A HINFO AAAA RRSIG NSEC"},
                                          {"b.example.", "NS RRSIG NSEC"},
                                          {"ns1.example.", "A RRSIG NSEC"},
                                          {"ns2.example.", "A RRSIG NSEC"},
                                          {"*.w.example.", "MX RRSIG NSEC"},
                                          {"x.w.example.", "MX RRSIG NSEC"},
                                          {"x.y.w.example.", "MX RRSIG NSEC"},
                                          {"xx.example.", "A HINFO AAAA RRSIG NSEC"}});
    return chain;
}

std::vector<dns::Record> nsecs(const std::vector<std::string>& owners) {
    return pick(nsec_zone(), owners);
}

const dns::Name& ex() {
    static const dns::Name z = name("example.");
    return z;
}

uint16_t T(const char* type) {
    return static_cast<uint16_t>(ldns_get_rr_type_by_name(type));
}

// RFC 5155 Appendix A (names and types; c.example is an unsigned delegation
// inside an opt-out span, so it has no NSEC3).
NameTypes nsec3_names() {
    return {{"example.", "NS SOA MX RRSIG DNSKEY NSEC3PARAM"},
            {"a.example.", "NS DS RRSIG"},
            {"ai.example.", "A HINFO AAAA RRSIG"},
            {"ns1.example.", "A RRSIG"},
            {"ns2.example.", "A RRSIG"},
            {"w.example.", ""},
            {"*.w.example.", "MX RRSIG"},
            {"x.w.example.", "MX RRSIG"},
            {"y.w.example.", ""},
            {"x.y.w.example.", "MX RRSIG"},
            {"xx.example.", "A HINFO AAAA RRSIG"}};
}

const std::vector<dns::Record>& nsec3_zone(int flags = 0) {
    static const auto plain = nsec3_chain("example.", nsec3_names(), {12, "aabbccdd", 0});
    static const auto optout = nsec3_chain("example.", nsec3_names(), {12, "aabbccdd", 1});
    return flags != 0 ? optout : plain;
}

// The NSEC3 record of the RFC 5155 zone that matches or covers each name:
// the last one whose owner hash is not above H(name), else the last one
// (it wraps around).
std::vector<dns::Record> nsec3_for(const std::vector<std::string>& names, int flags = 0) {
    std::vector<dns::Record> out;
    for (const auto& n : names) {
        const std::string h = hash_by_ldns(n, 12, "aabbccdd");
        const dns::Record* best = &nsec3_zone(flags).back();
        for (const auto& r : nsec3_zone(flags)) {
            const std::string owner = dns::name_to_text(r.owner.view());
            if (owner.substr(0, owner.find('.')) <= h) best = &r;
        }
        out.push_back(*best);
    }
    return out;
}

} // namespace

// ---- NSEC ----

TEST_CASE("NSEC NXDOMAIN: the name and the wildcard at the closest encloser", "[dnssec]") {
    // RFC 4035 B.2: ml.example.
    const auto proof = nsecs({"b.example.", "example."});
    const auto j = prove_nxdomain(name("ml.example."), ex(), proof);
    CHECK(j.ok());
    CHECK(j.why == "NXDOMAIN proven by NSEC");
    // Without the NSEC that covers *.example.
    const auto no_wild = prove_nxdomain(name("ml.example."), ex(), nsecs({"b.example."}));
    CHECK(no_wild.status == Security::bogus);
    CHECK(no_wild.ede == ede::NSEC_MISSING);
    // Without the one that covers the name.
    CHECK(prove_nxdomain(name("ml.example."), ex(), nsecs({"example."})).ede == ede::NSEC_MISSING);
    // A wildcard exists at the closest encloser: no NXDOMAIN.
    CHECK_FALSE(prove_nxdomain(name("a.z.w.example."), ex(), nsec_zone()).ok());
    // The name itself has an NSEC.
    CHECK_FALSE(prove_nxdomain(name("ns1.example."), ex(), nsec_zone()).ok());
    // An empty non-terminal exists: w.example.
    CHECK_FALSE(prove_nxdomain(name("w.example."), ex(), nsec_zone()).ok());
    // Deeper closest encloser: a.ai.example. (ce ai.example., *.ai.example. covered).
    CHECK(prove_nxdomain(name("a.ai.example."), ex(), nsecs({"ai.example."})).ok());
}

TEST_CASE("NSEC: the last NSEC wraps to the apex", "[dnssec]") {
    const auto proof = nsecs({"xx.example.", "example."});
    CHECK(prove_nxdomain(name("zz.example."), ex(), proof).ok());
    CHECK(prove_nxdomain(name("a.zz.example."), ex(), proof).ok());
    CHECK_FALSE(prove_nxdomain(name("zz.example."), ex(), nsecs({"xx.example."})).ok());
}

TEST_CASE("NSEC NODATA: matching NSEC, empty non-terminal, wildcard", "[dnssec]") {
    SECTION("matching NSEC without the type") {
        CHECK(prove_nodata(name("ns1.example."), T("MX"), ex(), nsecs({"ns1.example."})).ok());
        CHECK(prove_nodata(name("NS1.Example."), T("MX"), ex(), nsecs({"ns1.example."})).ok());
        const auto has = prove_nodata(name("ns1.example."), T("A"), ex(), nsecs({"ns1.example."}));
        CHECK(has.status == Security::bogus);
        CHECK(has.why == "NSEC shows the type exists");
        CHECK_FALSE(
            prove_nodata(name("ns1.example."), T("MX"), ex(), nsecs({"ns2.example."})).ok());
    }
    SECTION("a CNAME at the name is not NODATA") {
        const std::vector<dns::Record> proof = {
            rec("c.example. 3600 IN NSEC d.example. CNAME RRSIG NSEC")};
        CHECK(prove_nodata(name("c.example."), T("A"), ex(), proof).why == "NSEC shows a CNAME");
    }
    SECTION("empty non-terminals") {
        // y.w.example. lies between x.w.example. and x.y.w.example.
        CHECK(prove_nodata(name("y.w.example."), T("A"), ex(), nsecs({"x.w.example."})).ok());
        // w.example. between ns2.example. and *.w.example.
        const auto j = prove_nodata(name("w.example."), T("A"), ex(), nsecs({"ns2.example."}));
        CHECK(j.ok());
        CHECK(j.why == "empty non-terminal proven by NSEC");
    }
    SECTION("wildcard NODATA (RFC 4035 B.7)") {
        const auto proof = nsecs({"x.y.w.example.", "*.w.example."});
        const auto j = prove_nodata(name("a.z.w.example."), T("AAAA"), ex(), proof);
        CHECK(j.ok());
        CHECK(j.why == "wildcard NODATA proven by NSEC");
        CHECK_FALSE(prove_nodata(name("a.z.w.example."), T("MX"), ex(), proof).ok());
        CHECK_FALSE(
            prove_nodata(name("a.z.w.example."), T("AAAA"), ex(), nsecs({"x.y.w.example."})).ok());
    }
}

TEST_CASE("NSEC at a delegation point proves no DS, and nothing else", "[dnssec]") {
    SECTION("no DS at an unsigned delegation: insecure") {
        const auto j = prove_no_ds(name("b.example."), ex(), nsecs({"b.example."}));
        CHECK(j.status == Security::insecure);
        CHECK(prove_nodata(name("b.example."), T("DS"), ex(), nsecs({"b.example."})).ok());
    }
    SECTION("a signed delegation has DS: bogus") {
        CHECK(prove_no_ds(name("a.example."), ex(), nsecs({"a.example."})).status ==
              Security::bogus);
        CHECK(prove_no_ds(name("c.example."), ex(), nsecs({"b.example."})).ede ==
              ede::NSEC_MISSING);
    }
    SECTION("the parent's NSEC does not deny other types at the cut") {
        CHECK_FALSE(prove_nodata(name("b.example."), T("A"), ex(), nsecs({"b.example."})).ok());
    }
    SECTION("nor anything below the cut (ancestor delegation)") {
        // foo.b.example. sorts between b.example. and ns1.example.
        CHECK_FALSE(
            prove_nxdomain(name("foo.b.example."), ex(), nsecs({"b.example.", "example."})).ok());
        CHECK_FALSE(prove_nodata(name("foo.b.example."), T("A"), ex(), nsecs({"b.example."})).ok());
        CHECK_FALSE(prove_wildcard(name("foo.b.example."), 1, ex(), nsecs({"b.example."})).ok());
    }
    SECTION("a child's apex NSEC cannot deny its DS") {
        const std::vector<dns::Record> child = {
            rec("b.example. 3600 IN NSEC c.b.example. NS SOA RRSIG NSEC DNSKEY")};
        CHECK_FALSE(prove_nodata(name("b.example."), T("DS"), ex(), child).ok());
        CHECK(prove_no_ds(name("b.example."), ex(), child).status == Security::bogus);
    }
}

TEST_CASE("NSEC proof of a wildcard expansion", "[dnssec]") {
    // RFC 4035 B.6: a.z.w.example. MX from *.w.example. (labels 2).
    CHECK(prove_wildcard(name("a.z.w.example."), 2, ex(), nsecs({"x.y.w.example."})).ok());
    CHECK_FALSE(prove_wildcard(name("a.z.w.example."), 2, ex(), nsecs({"x.w.example."})).ok());
    // x.w.example. exists: it is no expansion of *.w.example.
    CHECK_FALSE(prove_wildcard(name("x.w.example."), 2, ex(), nsec_zone()).ok());
    // Labels that do not fit.
    CHECK_FALSE(prove_wildcard(name("a.z.w.example."), 4, ex(), nsec_zone()).ok());
}

TEST_CASE("NSEC: malformed rdata proves nothing and never crashes", "[dnssec]") {
    auto proof = nsecs({"b.example.", "example."});
    for (auto& r : proof) {
        const auto full = r.rdata;
        for (size_t cut = 0; cut <= full.size(); ++cut) {
            r.rdata.assign(full.begin(), full.begin() + cut);
            (void)prove_nxdomain(name("ml.example."), ex(), proof);
            (void)prove_nodata(name("b.example."), T("DS"), ex(), proof);
        }
        r.rdata = full;
    }
    auto bad = nsecs({"ns1.example."});
    bad[0].rdata.push_back(0); // a window without its length
    CHECK_FALSE(prove_nodata(name("ns1.example."), T("MX"), ex(), bad).ok());
    bad = nsecs({"ns1.example."});
    bad[0].rdata[name("ns2.example.").len + 1] = 40; // window length > 32
    CHECK_FALSE(prove_nodata(name("ns1.example."), T("MX"), ex(), bad).ok());
    CHECK(prove_nxdomain(name("ml.example."), ex(), {}).ede == ede::NSEC_MISSING);
    CHECK_FALSE(prove_nxdomain(name("ml.other."), ex(), nsec_zone()).ok());
}

// ---- NSEC3 ----

TEST_CASE("NSEC3 hashes: RFC 5155 Appendix A", "[dnssec]") {
    const auto params =
        rec("example. 0 IN NSEC3 1 0 12 aabbccdd 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A");
    CHECK(nsec3_hash(name("example."), params.rdata) == "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
    CHECK(nsec3_hash(name("EXAMPLE."), params.rdata) == "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
    CHECK(nsec3_hash(name("a.example."), params.rdata) == "35mthgpgcu1qg68fab165klnsnk3dpvl");
    CHECK(nsec3_hash(name("ai.example."), params.rdata) == "gjeqe526plbf1g8mklp59enfd789njgi");
    CHECK(nsec3_hash(name("ns1.example."), params.rdata) == "2t7b4g4vsa5smi47k61mv5bv1a22bojr");
    CHECK(nsec3_hash(name("ns2.example."), params.rdata) == "q04jkcevqvmu85r014c7dkba38o0ji5r");
    CHECK(nsec3_hash(name("w.example."), params.rdata) == "k8udemvp1j2f7eg6jebps17vp3n8i58h");
    CHECK(nsec3_hash(name("*.w.example."), params.rdata) == "r53bq7cc2uvmubfu5ocmm6pers9tk9en");
    CHECK(nsec3_hash(name("x.w.example."), params.rdata) == "b4um86eghhds6nea196smvmlo4ors995");
    CHECK(nsec3_hash(name("y.w.example."), params.rdata) == "ji6neoaepv8b5o6k4ev33abha8ht9fgc");
    CHECK(nsec3_hash(name("x.y.w.example."), params.rdata) == "2vptu5timamqttgl4luu9kg21e0aor3s");
    CHECK(nsec3_hash(name("xx.example."), params.rdata) == "t644ebqk9bibcna874givr6joj62mlhv");
    // Agrees with ldns for other parameters.
    const auto none = rec("example. 0 IN NSEC3 1 0 0 - 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A");
    CHECK(nsec3_hash(name("www.example."), none.rdata) == hash_by_ldns("www.example.", 0, ""));
    // Malformed rdata or an unknown hash algorithm.
    CHECK(nsec3_hash(name("example."), std::vector<uint8_t>{1, 0, 0}).empty());
    auto alg2 = params.rdata;
    alg2[0] = 2;
    CHECK(nsec3_hash(name("example."), alg2).empty());
}

TEST_CASE("NSEC3 NXDOMAIN: closest encloser, next closer, wildcard", "[dnssec]") {
    // RFC 5155 B.1: a.c.x.w.example.: ce x.w.example., next closer
    // c.x.w.example., wildcard *.x.w.example.
    const auto proof = nsec3_for({"x.w.example.", "c.x.w.example.", "*.x.w.example."});
    const auto j = prove_nxdomain(name("a.c.x.w.example."), ex(), proof);
    CHECK(j.ok());
    CHECK(j.why == "NXDOMAIN proven by NSEC3");
    CHECK(prove_nxdomain(name("a.c.x.w.example."), ex(), nsec3_zone()).ok());
    SECTION("each part is needed") {
        CHECK(prove_nxdomain(name("a.c.x.w.example."), ex(),
                             nsec3_for({"c.x.w.example.", "*.x.w.example."}))
                  .ede == ede::NSEC_MISSING);
        // Without the closest encloser's record, a shorter encloser (w.example.)
        // is found whose next closer x.w.example. exists: not covered.
        CHECK_FALSE(prove_nxdomain(name("a.c.x.w.example."), ex(),
                                   nsec3_for({"x.w.example.", "c.x.w.example."}))
                        .ok());
        CHECK_FALSE(prove_nxdomain(name("a.c.x.w.example."), ex(),
                                   nsec3_for({"x.w.example.", "*.x.w.example."}))
                        .ok());
    }
    SECTION("a name that exists, a wildcard that exists") {
        CHECK_FALSE(prove_nxdomain(name("x.w.example."), ex(), nsec3_zone()).ok());
        CHECK_FALSE(prove_nxdomain(name("a.z.w.example."), ex(), nsec3_zone()).ok());
    }
    SECTION("an opt-out span over the next closer: insecure") {
        const auto j = prove_nxdomain(name("a.c.x.w.example."), ex(), nsec3_zone(1));
        CHECK(j.status == Security::insecure);
    }
    SECTION("the closest encloser may not be a delegation") {
        CHECK_FALSE(prove_nxdomain(name("b.a.example."), ex(), nsec3_zone()).ok());
    }
}

TEST_CASE("NSEC3 NODATA, empty non-terminal, wildcard NODATA", "[dnssec]") {
    // RFC 5155 B.2: ns1.example. MX.
    CHECK(prove_nodata(name("ns1.example."), T("MX"), ex(), nsec3_for({"ns1.example."})).ok());
    CHECK(prove_nodata(name("ns1.example."), T("A"), ex(), nsec3_for({"ns1.example."})).status ==
          Security::bogus);
    // B.2.1: the empty non-terminal y.w.example. has its own NSEC3.
    CHECK(prove_nodata(name("y.w.example."), T("A"), ex(), nsec3_for({"y.w.example."})).ok());
    // B.5: a.z.w.example. AAAA from *.w.example.
    const auto wild = nsec3_for({"w.example.", "z.w.example.", "*.w.example."});
    const auto j = prove_nodata(name("a.z.w.example."), T("AAAA"), ex(), wild);
    CHECK(j.ok());
    CHECK(j.why == "wildcard NODATA proven by NSEC3");
    CHECK_FALSE(prove_nodata(name("a.z.w.example."), T("MX"), ex(), wild).ok());
    // A name that does not exist and no wildcard: no NODATA.
    CHECK_FALSE(prove_nodata(name("zz.example."), T("A"), ex(), nsec3_zone()).ok());
    // The parent's NSEC3 at a delegation denies only DS.
    CHECK_FALSE(prove_nodata(name("a.example."), T("A"), ex(), nsec3_for({"a.example."})).ok());
}

TEST_CASE("NSEC3 DS denial: at the delegation, and in an opt-out span", "[dnssec]") {
    // a.example. has DS: no proof of its absence.
    CHECK(prove_no_ds(name("a.example."), ex(), nsec3_for({"a.example."})).status ==
          Security::bogus);
    // RFC 5155 B.3: c.example. (unsigned, no NSEC3 of its own) in an opt-out span.
    const auto optout = nsec3_for({"example.", "c.example."}, 1);
    const auto j = prove_no_ds(name("c.example."), ex(), optout);
    CHECK(j.status == Security::insecure);
    CHECK(prove_nodata(name("c.example."), T("DS"), ex(), optout).status == Security::insecure);
    // The same span without opt-out denies the delegation itself.
    CHECK(prove_no_ds(name("c.example."), ex(), nsec3_for({"example.", "c.example."})).status ==
          Security::bogus);
    // An unsigned delegation with its own NSEC3 (NS, no DS).
    NameTypes names = nsec3_names();
    names.push_back({"c.example.", "NS"});
    const auto chain = nsec3_chain("example.", names);
    CHECK(prove_no_ds(name("c.example."), ex(), chain).status == Security::insecure);
}

TEST_CASE("NSEC3 proof of a wildcard expansion", "[dnssec]") {
    // RFC 5155 B.4: a.z.w.example. from *.w.example.: z.w.example. covered.
    CHECK(prove_wildcard(name("a.z.w.example."), 2, ex(), nsec3_for({"z.w.example."})).ok());
    CHECK_FALSE(prove_wildcard(name("a.z.w.example."), 2, ex(), nsec3_for({"w.example."})).ok());
    CHECK_FALSE(prove_wildcard(name("x.y.w.example."), 2, ex(), nsec3_zone()).ok());
}

TEST_CASE("NSEC3 limits: iterations, parameters, algorithms, malformed rdata", "[dnssec]") {
    SECTION("iterations over the limit: insecure") {
        const auto chain = nsec3_chain("example.", nsec3_names(), {151, "aabbccdd", 0});
        const auto j = prove_nxdomain(name("a.c.x.w.example."), ex(), chain);
        CHECK(j.status == Security::insecure);
        CHECK(j.why == "NSEC3 iterations over the limit");
        CHECK(j.ede == ede::UNSUPPORTED_NSEC3_ITERATIONS);
        Limits lim;
        lim.max_nsec3_iterations = 200;
        CHECK(prove_nxdomain(name("a.c.x.w.example."), ex(), chain, lim).ok());
        lim.max_nsec3_iterations = 10;
        CHECK(prove_nodata(name("ns1.example."), T("MX"), ex(), nsec3_zone(), lim).status ==
              Security::insecure);
    }
    SECTION("records of different parameters") {
        auto proof = nsec3_for({"x.w.example.", "c.x.w.example.", "*.x.w.example."});
        const auto other = nsec3_chain("example.", nsec3_names(), {12, "aabbccde", 0});
        proof.push_back(other.front());
        CHECK(prove_nxdomain(name("a.c.x.w.example."), ex(), proof).why ==
              "NSEC3 parameters differ");
    }
    SECTION("unknown hash algorithm and flags are ignored") {
        auto proof = nsec3_for({"ns1.example."});
        proof[0].rdata[0] = 2;
        CHECK(prove_nodata(name("ns1.example."), T("MX"), ex(), proof).ede == ede::NSEC_MISSING);
        proof = nsec3_for({"ns1.example."});
        proof[0].rdata[1] = 0x80;
        CHECK_FALSE(prove_nodata(name("ns1.example."), T("MX"), ex(), proof).ok());
    }
    SECTION("NSEC3 owned outside the zone or not one label below it") {
        auto proof = nsec3_for({"ns1.example."});
        CHECK_FALSE(prove_nodata(name("ns1.example."), T("MX"), name("w.example."), proof).ok());
    }
    SECTION("truncated rdata never crashes") {
        auto proof = nsec3_for({"x.w.example.", "c.x.w.example.", "*.x.w.example."});
        for (auto& r : proof) {
            const auto full = r.rdata;
            for (size_t cut = 0; cut < full.size(); ++cut) {
                r.rdata.assign(full.begin(), full.begin() + cut);
                (void)prove_nxdomain(name("a.c.x.w.example."), ex(), proof);
                (void)prove_nodata(name("x.w.example."), T("A"), ex(), proof);
            }
            r.rdata = full;
        }
        auto bad = nsec3_for({"ns1.example."});
        bad[0].rdata[4] = 200; // salt length beyond the end
        CHECK_FALSE(prove_nodata(name("ns1.example."), T("MX"), ex(), bad).ok());
    }
}

TEST_CASE("random corruption of NSEC and NSEC3 records never crashes", "[dnssec]") {
    std::mt19937 rng(20240601);
    auto corrupt = [&](std::vector<dns::Record> proof) {
        for (auto& r : proof) {
            if (r.rdata.empty()) continue;
            const size_t flips = 1 + rng() % 4;
            for (size_t i = 0; i < flips; ++i)
                r.rdata[rng() % r.rdata.size()] = static_cast<uint8_t>(rng());
            if (rng() % 3 == 0) r.rdata.resize(rng() % (r.rdata.size() + 1));
        }
        return proof;
    };
    Limits lim;
    lim.max_nsec3_iterations = 20; // keeps corrupted iteration counts cheap
    for (int round = 0; round < 300; ++round) {
        const auto n = corrupt(nsec_zone());
        (void)prove_nxdomain(name("ml.example."), ex(), n);
        (void)prove_nodata(name("a.z.w.example."), T("AAAA"), ex(), n);
        (void)prove_no_ds(name("b.example."), ex(), n);
        (void)prove_wildcard(name("a.z.w.example."), 2, ex(), n);
        const auto n3 = corrupt(nsec3_zone());
        (void)prove_nxdomain(name("a.c.x.w.example."), ex(), n3, lim);
        (void)prove_nodata(name("a.z.w.example."), T("AAAA"), ex(), n3, lim);
        (void)prove_no_ds(name("c.example."), ex(), n3, lim);
        (void)prove_wildcard(name("a.z.w.example."), 2, ex(), n3, lim);
    }
    SUCCEED("no crash");
}
