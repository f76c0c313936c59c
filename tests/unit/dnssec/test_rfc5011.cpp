// RFC 5011 key states and Knot Resolver's key file (src/dnssec/rfc5011.cpp),
// with a simulated clock: every observation passes its own `now`, and the
// DNSKEY RRsets are signed for that time.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "dnssec/rfc5011.hpp"
#include "sign_helpers.hpp"

using namespace kresd;
using namespace kresd::dnssec;
using namespace kresd::dnssec::test;

namespace {

constexpr uint64_t kT0 = 1700000000; // simulated wall clock
constexpr uint64_t kHold = 30 * 86400;
constexpr uint32_t kTtl = 172800;

// A fresh ECDSA key of the root (fresh: revoking changes the ldns key).
TestKey root_key(uint16_t flags = 257) {
    TestKey k = make_key(".", LDNS_SIGN_ECDSAP256SHA256, flags);
    k.dnskey.ttl = kTtl;
    return k;
}

// The same key with the REVOKE bit: from now on `k`'s ldns key signs as revoked.
TestKey revoke(const TestKey& k) {
    TestKey r = k;
    ldns_key_set_flags(r.key.get(), ldns_key_flags(r.key.get()) | LDNS_KEY_REVOKE_KEY);
    const dns::ldns::Rr rr(ldns_key2rr(r.key.get()));
    REQUIRE(rr);
    ldns_rr_set_ttl(rr.get(), kTtl);
    r.tag = ldns_calc_keytag(rr.get());
    ldns_key_set_keytag(r.key.get(), r.tag);
    r.dnskey = from_ldns(rr.get());
    return r;
}

// The DNSKEY RRset of `keys` with an RRSIG by each of `signers`, valid at `t`
// for `valid_for` seconds.
std::vector<dns::Record> answer(const std::vector<const TestKey*>& keys,
                                const std::vector<const TestKey*>& signers, uint64_t t,
                                uint32_t valid_for = 10 * 86400) {
    std::vector<dns::Record> rrs;
    for (const TestKey* k : keys)
        rrs.push_back(k->dnskey);
    std::vector<dns::Record> out = rrs;
    for (const TestKey* s : signers)
        out.push_back(
            sign(rrs, *s, static_cast<uint32_t>(t - 3600), static_cast<uint32_t>(t + valid_for)));
    return out;
}

// "owner TTL IN DNSKEY rdata", as ldns writes it (with its own comment
// after the record, ";{id = ...}", that names no state).
std::string key_line(const TestKey& k) {
    std::string t = dns::ldns::take_text(ldns_rr2str(to_ldns(k.dnskey).get()));
    while (!t.empty() && t.back() == '\n')
        t.pop_back();
    return t;
}

// The same without the comment.
std::string plain_line(const TestKey& k) {
    std::string t = key_line(k);
    t = t.substr(0, t.find(';'));
    while (!t.empty() && t.back() == ' ')
        t.pop_back();
    return t;
}

// "257 3 13 base64" of a key.
std::string rdata_text(const TestKey& k) {
    const std::string t = plain_line(k);
    return t.substr(t.find("DNSKEY") + 7);
}

// A key set read from plain zone-file text (every key Valid).
KeySet keyset_of(const std::string& text) {
    KeySet ks;
    const auto err = KeySet::parse(text, "test.keys", ks);
    INFO(text);
    REQUIRE_FALSE(err);
    return ks;
}

const ManagedKey* find(const KeySet& ks, const TestKey& k) {
    for (const ManagedKey& m : ks.keys())
        if (m.rr.type == dns::type::DNSKEY && m.rr.rdata.size() >= 4 &&
            std::equal(m.rr.rdata.begin() + 2, m.rr.rdata.end(), k.dnskey.rdata.begin() + 2,
                       k.dnskey.rdata.end()))
            return &m;
    return nullptr;
}

KeyState state_of(const KeySet& ks, const TestKey& k) {
    const ManagedKey* m = find(ks, k);
    return m ? m->state : KeyState::start;
}

bool trusts(const KeySet& ks, const TestKey& k) {
    for (const auto& rr : ks.trusted_keys())
        if (rr.type == dns::type::DNSKEY && rr.rdata == k.dnskey.rdata) return true;
    return false;
}

struct TempDir {
    std::filesystem::path dir;
    TempDir() {
        dir = std::filesystem::temp_directory_path() /
              ("kresd-rfc5011-" + std::to_string(::getpid()) + "-" +
               std::to_string(reinterpret_cast<uintptr_t>(this)));
        std::filesystem::create_directories(dir);
    }
    ~TempDir() { std::filesystem::remove_all(dir); }
    std::string path(const std::string& name) const { return (dir / name).string(); }
};

} // namespace

TEST_CASE("rfc5011: a new key is AddPend for the hold-down, then Valid", "[rfc5011]") {
    const TestKey a = root_key(), b = root_key(), z = root_key(256);
    KeySet ks = keyset_of(key_line(a));
    REQUIRE(ks.keys().size() == 1);
    CHECK(state_of(ks, a) == KeyState::valid);

    Observation o = ks.observe(answer({&a, &b, &z}, {&a}, kT0), kT0);
    REQUIRE(o.ok);
    CHECK(o.changed);
    CHECK_FALSE(o.trust_changed);
    CHECK(state_of(ks, b) == KeyState::add_pend);
    CHECK(find(ks, b)->timer == kT0 + kHold);
    CHECK(find(ks, z) == nullptr); // not a SEP key: not tracked
    CHECK_FALSE(trusts(ks, b));

    // Seen at every refresh, not trusted a second before the hold-down ends.
    for (uint64_t t = kT0 + 86400; t < kT0 + kHold; t += 86400) {
        o = ks.observe(answer({&a, &b, &z}, {&a}, t), t);
        REQUIRE(o.ok);
        CHECK_FALSE(o.changed);
    }
    o = ks.observe(answer({&a, &b, &z}, {&a}, kT0 + kHold - 1), kT0 + kHold - 1);
    CHECK(state_of(ks, b) == KeyState::add_pend);
    CHECK_FALSE(trusts(ks, b));

    o = ks.observe(answer({&a, &b, &z}, {&a}, kT0 + kHold), kT0 + kHold);
    REQUIRE(o.ok);
    CHECK(o.changed);
    CHECK(o.trust_changed);
    CHECK(state_of(ks, b) == KeyState::valid);
    CHECK(find(ks, b)->timer == 0);
    CHECK(trusts(ks, a));
    CHECK(trusts(ks, b));

    // The new key alone now validates the set.
    o = ks.observe(answer({&a, &b, &z}, {&b}, kT0 + kHold + 10), kT0 + kHold + 10);
    CHECK(o.ok);
}

TEST_CASE("rfc5011: a key that disappears during the hold-down is forgotten", "[rfc5011]") {
    const TestKey a = root_key(), b = root_key();
    KeySet ks = keyset_of(key_line(a));
    REQUIRE(ks.observe(answer({&a, &b}, {&a}, kT0), kT0).ok);
    CHECK(state_of(ks, b) == KeyState::add_pend);

    const uint64_t t1 = kT0 + 10 * 86400;
    Observation o = ks.observe(answer({&a}, {&a}, t1), t1);
    REQUIRE(o.ok);
    CHECK(o.changed);
    CHECK(find(ks, b) == nullptr);

    // Back again: a new hold-down from now.
    const uint64_t t2 = t1 + 86400;
    REQUIRE(ks.observe(answer({&a, &b}, {&a}, t2), t2).ok);
    CHECK(state_of(ks, b) == KeyState::add_pend);
    CHECK(find(ks, b)->timer == t2 + kHold);
    ks.observe(answer({&a, &b}, {&a}, kT0 + kHold), kT0 + kHold);
    CHECK(state_of(ks, b) == KeyState::add_pend);
}

TEST_CASE("rfc5011: a self-signed revocation removes trust at once", "[rfc5011]") {
    const TestKey a = root_key(), b = root_key();
    KeySet ks = keyset_of(key_line(a) + "\n" + key_line(b) + "\n");
    REQUIRE(trusts(ks, a));
    REQUIRE(trusts(ks, b));

    const TestKey a_rev = revoke(a);
    CHECK(a_rev.tag != a.tag);
    Observation o = ks.observe(answer({&a_rev, &b}, {&a_rev, &b}, kT0), kT0);
    REQUIRE(o.ok);
    CHECK(o.changed);
    CHECK(o.trust_changed);
    CHECK(state_of(ks, a) == KeyState::revoked);
    CHECK(find(ks, a)->timer == kT0 + kHold);
    CHECK_FALSE(trusts(ks, a));
    CHECK(trusts(ks, b));
    CHECK(ks.trusted_keys().size() == 1);

    // Still Revoked (never trusted) until the remove hold-down ends, even
    // when the key is no longer published.
    const uint64_t t1 = kT0 + kHold - 1;
    ks.observe(answer({&b}, {&b}, t1), t1);
    CHECK(state_of(ks, a) == KeyState::revoked);

    SECTION("then Removed, forgotten with keep_removed 0") {
        o = ks.observe(answer({&b}, {&b}, kT0 + kHold), kT0 + kHold);
        CHECK(o.changed);
        CHECK(find(ks, a) == nullptr);
        CHECK(ks.keys().size() == 1);
    }
    SECTION("then Removed and kept with keep_removed 1") {
        Rfc5011Params p;
        p.keep_removed = 1;
        o = ks.observe(answer({&a_rev, &b}, {&a_rev, &b}, kT0 + kHold), kT0 + kHold, p);
        CHECK(state_of(ks, a) == KeyState::removed);
        CHECK_FALSE(trusts(ks, a));
        // Published again without the bit: a removed key is never trusted again.
        const uint64_t t2 = kT0 + kHold + 86400;
        ks.observe(answer({&a_rev, &b}, {&b}, t2), t2, p);
        CHECK(state_of(ks, a) == KeyState::removed);
    }
}

TEST_CASE("rfc5011: a REVOKE bit without a self-signature is not a revocation", "[rfc5011]") {
    const TestKey a = root_key(), b = root_key();
    KeySet ks = keyset_of(key_line(a) + "\n" + key_line(b) + "\n");
    const TestKey a_rev = revoke(a);
    // Signed by b only: the revoked a counts as not published.
    Observation o = ks.observe(answer({&a_rev, &b}, {&b}, kT0), kT0);
    REQUIRE(o.ok);
    CHECK(state_of(ks, a) == KeyState::missing);
    CHECK(trusts(ks, a)); // Missing keys stay trusted (RFC 5011 4.2)
}

TEST_CASE("rfc5011: an answer not signed by a trusted key changes nothing", "[rfc5011]") {
    const TestKey a = root_key(), b = root_key(), c = root_key();
    KeySet ks = keyset_of(key_line(a));
    const KeySet before = ks;
    Observation o = ks.observe(answer({&a, &b, &c}, {&b}, kT0), kT0);
    CHECK_FALSE(o.ok);
    CHECK_FALSE(o.changed);
    CHECK(ks == before);
    // Nor one without RRSIGs, nor with an expired one.
    o = ks.observe(answer({&a, &b}, {}, kT0), kT0);
    CHECK_FALSE(o.ok);
    o = ks.observe(answer({&a, &b}, {&a}, kT0 - 20 * 86400, 86400), kT0);
    CHECK_FALSE(o.ok);
    CHECK(ks == before);
}

TEST_CASE("rfc5011: Missing keys stay trusted, go after 4 hold-downs, come back", "[rfc5011]") {
    const TestKey a = root_key(), b = root_key();
    KeySet ks = keyset_of(key_line(a) + "\n" + key_line(b) + "\n");

    Observation o = ks.observe(answer({&b}, {&b}, kT0), kT0);
    REQUIRE(o.ok);
    CHECK(o.changed);
    CHECK_FALSE(o.trust_changed);
    CHECK(state_of(ks, a) == KeyState::missing);
    CHECK(find(ks, a)->timer == kT0 + 4 * kHold);
    CHECK(trusts(ks, a));

    SECTION("back before the end: Valid again") {
        const uint64_t t = kT0 + kHold;
        ks.observe(answer({&a, &b}, {&b}, t), t);
        CHECK(state_of(ks, a) == KeyState::valid);
        CHECK(find(ks, a)->timer == 0);
    }
    SECTION("missing for 4 hold-downs: forgotten") {
        uint64_t t = kT0 + 4 * kHold - 1;
        ks.observe(answer({&b}, {&b}, t), t);
        CHECK(state_of(ks, a) == KeyState::missing);
        t = kT0 + 4 * kHold;
        o = ks.observe(answer({&b}, {&b}, t), t);
        CHECK(o.trust_changed);
        CHECK(find(ks, a) == nullptr);
        CHECK(ks.trusted_keys().size() == 1);
    }
}

TEST_CASE("rfc5011: the last trusted key is never dropped", "[rfc5011]") {
    const TestKey a = root_key(), b = root_key();
    KeySet ks = keyset_of(key_line(a));

    SECTION("a zone that stops publishing its only key cannot take it away") {
        // Signed by b alone: nothing a trusted key signed, nothing changes.
        for (uint64_t t = kT0; t <= kT0 + 5 * kHold; t += kHold) {
            Observation o = ks.observe(answer({&b}, {&b}, t), t);
            CHECK_FALSE(o.ok);
        }
        CHECK(state_of(ks, a) == KeyState::valid);
        CHECK(trusts(ks, a));
    }
    SECTION("revoking the only key without a valid successor is not followed") {
        const TestKey a_rev = revoke(a);
        Observation o = ks.observe(answer({&a_rev, &b}, {&a_rev, &b}, kT0), kT0);
        CHECK_FALSE(o.ok); // no trusted key signs: the zone stays bogus, fail closed
        CHECK(state_of(ks, a) == KeyState::valid);
    }
    SECTION("a Missing key whose time ran out stays when it is the last") {
        // The state another instance wrote: a Missing for long, b pending.
        KeySet shared;
        const std::string text = plain_line(a) + " ; Missing:" + std::to_string(kT0 - 1) + "\n";
        REQUIRE_FALSE(KeySet::parse(text, "k", shared));
        REQUIRE(state_of(shared, a) == KeyState::missing);
        // a is published again: Valid, not dropped.
        Observation o = shared.observe(answer({&a, &b}, {&a}, kT0), kT0);
        REQUIRE(o.ok);
        CHECK(state_of(shared, a) == KeyState::valid);
    }
    SECTION("a non-SEP anchor is tracked as published, not Missing") {
        TestKey zsk = root_key(256);
        KeySet z = keyset_of(key_line(zsk));
        for (uint64_t t = kT0; t <= kT0 + 5 * kHold; t += kHold) {
            Observation o = z.observe(answer({&zsk}, {&zsk}, t), t);
            REQUIRE(o.ok);
            CHECK_FALSE(o.changed);
        }
        CHECK(state_of(z, zsk) == KeyState::valid);
    }
}

TEST_CASE("rfc5011: a DS anchor is replaced by the DNSKEY it names", "[rfc5011]") {
    const TestKey a = root_key();
    std::string hex;
    for (uint8_t c : make_ds(name("."), a.dnskey.rdata))
        hex += std::string(1, "0123456789ABCDEF"[c >> 4]) + "0123456789ABCDEF"[c & 15];
    const std::string ds = ". 172800 IN DS " + std::to_string(a.tag) + " 13 2 " + hex.substr(8);
    KeySet ks = keyset_of(ds + "\n");
    REQUIRE(ks.keys().size() == 1);
    CHECK(ks.keys()[0].rr.type == dns::type::DS);

    Observation o = ks.observe(answer({&a}, {&a}, kT0), kT0);
    REQUIRE(o.ok);
    CHECK(o.changed);
    CHECK(o.trust_changed);
    REQUIRE(ks.keys().size() == 1);
    CHECK(ks.keys()[0].rr.type == dns::type::DNSKEY);
    CHECK(ks.keys()[0].state == KeyState::valid);
    CHECK(trusts(ks, a));
}

TEST_CASE("rfc5011: refresh and retry intervals (RFC 5011 2.3)", "[rfc5011]") {
    const TestKey a = root_key();
    KeySet ks = keyset_of(key_line(a));
    // Original TTL 2 days, signature valid 10 days: half the TTL.
    CHECK(ks.refresh_interval_s(answer({&a}, {&a}, kT0), kT0) == 86400);
    // Expiring in 4 hours: half of that.
    CHECK(ks.refresh_interval_s(answer({&a}, {&a}, kT0, 4 * 3600), kT0) == 2 * 3600);
    // Never below an hour...
    CHECK(ks.refresh_interval_s(answer({&a}, {&a}, kT0, 600), kT0) == 3600);
    TestKey short_ttl = a;
    short_ttl.dnskey.ttl = 600;
    auto ans = answer({&short_ttl}, {&a}, kT0);
    CHECK(ks.refresh_interval_s(ans, kT0) == 3600);
    // ... nor above 15 days.
    TestKey long_ttl = a;
    long_ttl.dnskey.ttl = 90 * 86400;
    CHECK(ks.refresh_interval_s(answer({&long_ttl}, {&a}, kT0, 60 * 86400), kT0) == 15 * 86400);
    // No RRSIG: the records' TTL stands in; nothing at all: the keys'.
    CHECK(ks.refresh_interval_s(answer({&a}, {}, kT0), kT0) == 86400);
    CHECK(ks.refresh_interval_s({}, kT0) == 86400);

    // Retry: a tenth of the TTL, between an hour and a day.
    CHECK(ks.retry_interval_s() == 17280);
    KeySet small = keyset_of(". 600 IN DNSKEY " + rdata_text(a));
    CHECK(small.retry_interval_s() == 3600);
    KeySet big = keyset_of(". 9000000 IN DNSKEY " + rdata_text(a));
    CHECK(big.retry_interval_s() == 86400);
}

TEST_CASE("rfc5011: the key file round trip keeps states and timers", "[rfc5011]") {
    const TestKey a = root_key(), b = root_key(), c = root_key(), d = root_key();
    KeySet ks = keyset_of(key_line(a) + "\n" + key_line(c) + "\n" + key_line(d) + "\n");
    Rfc5011Params p;
    p.keep_removed = 5;
    const TestKey c_rev = revoke(c);
    // b new, c revoked, d missing.
    REQUIRE(ks.observe(answer({&a, &b, &c_rev}, {&a, &c_rev}, kT0), kT0, p).ok);
    REQUIRE(state_of(ks, a) == KeyState::valid);
    REQUIRE(state_of(ks, b) == KeyState::add_pend);
    REQUIRE(state_of(ks, c) == KeyState::revoked);
    REQUIRE(state_of(ks, d) == KeyState::missing);

    const std::string text = ks.to_text();
    INFO(text);
    std::istringstream in(text);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);)
        lines.push_back(l);
    REQUIRE(lines.size() == 4);
    // Knot Resolver's layout: untrusted keys commented out, the state and
    // the timer after the record, the key tag for people.
    CHECK(lines[0].rfind(".", 0) == 0);
    CHECK(lines[0].find("\t172800\tDNSKEY\t257 3 13 ") != std::string::npos);
    CHECK(lines[0].find(" ; Valid: ; KeyTag:" + std::to_string(a.tag)) != std::string::npos);
    CHECK(lines[1].rfind("; .", 0) == 0); // c: Revoked
    CHECK(lines[1].find(" ; Revoked:" + std::to_string(kT0 + kHold) +
                        " ; KeyTag:" + std::to_string(c.tag)) != std::string::npos);
    CHECK(lines[2].rfind(".", 0) == 0); // d: Missing, still trusted
    CHECK(lines[2].find(" ; Missing:" + std::to_string(kT0 + 4 * kHold) + " ;") !=
          std::string::npos);
    CHECK(lines[3].rfind("; .", 0) == 0); // b: AddPend
    CHECK(lines[3].find(" ; AddPend:" + std::to_string(kT0 + kHold) + " ;") != std::string::npos);

    KeySet back;
    REQUIRE_FALSE(KeySet::parse(text, "k", back));
    CHECK(back.to_text() == text);
    CHECK(back == ks);
    CHECK(back.trusted_keys().size() == 2);

    TempDir dir;
    const std::string path = dir.path("root.keys");
    REQUIRE_FALSE(ks.write_file(path));
    KeySet from_file;
    REQUIRE_FALSE(KeySet::read_file(path, from_file));
    CHECK(from_file == ks);
    // Rewritten in place, nothing left beside it.
    REQUIRE_FALSE(back.write_file(path));
    size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.dir)) {
        (void)e;
        ++files;
    }
    CHECK(files == 1);
    // The states go on from the file as they would have from memory.
    const uint64_t t = kT0 + kHold;
    Observation o1 = ks.observe(answer({&a, &b, &c_rev}, {&a}, t), t, p);
    Observation o2 = from_file.observe(answer({&a, &b, &c_rev}, {&a}, t), t, p);
    CHECK(o1.changed);
    CHECK(ks == from_file);
    CHECK(state_of(from_file, b) == KeyState::valid);
    CHECK(state_of(from_file, c) == KeyState::removed);
    (void)o2;
}

TEST_CASE("rfc5011: a plain zone file is read as Valid keys", "[rfc5011]") {
    const TestKey a = root_key();
    const std::string rdata = rdata_text(a);
    const std::string text =
        "; the root's keys, as dns-root-data ships them\n"
        "$ORIGIN .\n"
        "$TTL 172800\n"
        "\n"
        "@ IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
        ". IN DNSKEY ( 257 3 13\n"
        "   " +
        rdata.substr(9) +
        " ) ; a comment that names no state\n"
        "; . 3600 IN DS 1 8 2 AABB ; just a comment\n"
        ";. IN DS 2 8 2 AABB ; Valid: (not \"; \": a comment)\n";
    KeySet ks;
    const auto err = KeySet::parse(text, "root.key", ks);
    INFO(text);
    REQUIRE_FALSE(err);
    REQUIRE(ks.keys().size() == 2);
    CHECK(ks.keys()[0].rr.type == dns::type::DS);
    CHECK(ks.keys()[0].rr.ttl == 172800);
    CHECK(ks.keys()[0].state == KeyState::valid);
    CHECK(ks.keys()[1].rr.rdata == a.dnskey.rdata);
    CHECK(ks.keys()[1].state == KeyState::valid);
    CHECK(ks.trusted_keys().size() == 2);
    CHECK(dns::name_to_text(ks.zone().view()) == ".");

    // A line as Knot Resolver 5 writes it.
    KeySet kr;
    REQUIRE_FALSE(KeySet::parse(".                   \t172800\tDNSKEY\t" + rdata +
                                    " ; Valid: ; KeyTag:" + std::to_string(a.tag) + "\n; " +
                                    ".\t172800\tDNSKEY\t" + rdata.substr(0, rdata.size() - 4) +
                                    "AAA= ; AddPend:1700000123 ; KeyTag:1\n",
                                "root.keys", kr));
    REQUIRE(kr.keys().size() == 2);
    CHECK(kr.keys()[0].state == KeyState::valid);
    CHECK(kr.keys()[1].state == KeyState::add_pend);
    CHECK(kr.keys()[1].timer == 1700000123);
    CHECK(kr.trusted_keys().size() == 1);
}

TEST_CASE("rfc5011: malformed files are refused with PATH:LINE: why", "[rfc5011]") {
    KeySet ks;
    auto err = KeySet::parse("; fine\n. IN DS 20326 8 2 nothex\n", "/k/root.keys", ks);
    REQUIRE(err);
    CHECK(err->rfind("/k/root.keys:2: ", 0) == 0);

    err = KeySet::parse(". IN A 192.0.2.1\n", "f", ks);
    REQUIRE(err);
    CHECK(*err == "f:1: not a DS or DNSKEY record");

    const std::string ds =
        "IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
    err = KeySet::parse(". " + ds + "\nexample. " + ds, "f", ks);
    REQUIRE(err);
    CHECK(*err == "f:3: do not mix . and example. anchors in one file");

    err = KeySet::parse("; nothing\n\n", "f", ks);
    REQUIRE(err);
    CHECK(err->find("f:2: no DS or DNSKEY records") == 0);

    err = KeySet::read_file("/nonexistent/dir/root.keys", ks);
    REQUIRE(err);
    CHECK(err->rfind("/nonexistent/dir/root.keys:0: cannot open: ", 0) == 0);

    // Nothing changed on error.
    KeySet good = keyset_of(". " + ds);
    const KeySet copy = good;
    CHECK(KeySet::parse("garbage here\n", "f", good));
    CHECK(good == copy);

    // A write that cannot happen leaves nothing behind and says where.
    err = good.write_file("/nonexistent/dir/root.keys");
    REQUIRE(err);
    CHECK(err->rfind("/nonexistent/dir/root.keys: ", 0) == 0);
}
