// Unit tests for the Cache contract (src/cache/cache.hpp) on one process.
#include "cache/cache.hpp"
#include "cache/codec.hpp"
#include "cache/keys.hpp"
#include "cache/store.hpp"
#include "cache_helpers.hpp"
#include "catch.hpp"

#include <filesystem>
#include <fstream>

using namespace kresd::cache;
using namespace kresd::cache::test;

namespace {

bool put_a(Cache& c, std::string_view name, uint32_t ttl, Rank rank, uint64_t now,
           uint8_t last = 1) {
    const auto rd = bytes({192, 0, 2, last});
    return c.put_rrset(wire(name), A, ttl, {sp(rd)}, rank, now);
}

uint8_t a_last(const RRset& rr) {
    return rr.rdatas.at(0).at(3);
}

} // namespace

TEST_CASE("cache: open creates the files; errors name the directory", "[cache]") {
    TempDir tmp;
    const auto dir = tmp.sub("c");
    auto c = Cache::open(dir, 4 * MiB);
    CHECK(c->dir() == dir);
    CHECK(std::filesystem::exists(dir + "/data.mdb"));
    CHECK(std::filesystem::exists(dir + "/lock.mdb"));
    const auto perms = std::filesystem::status(dir + "/data.mdb").permissions();
    CHECK((perms & std::filesystem::perms::others_all) == std::filesystem::perms::none);
    CHECK(c->map_size() == 4 * MiB);
    CHECK(c->count() == 0);

    const auto file = tmp.sub("plain");
    { std::ofstream(file) << "x"; }
    try {
        Cache::open(file, MiB);
        FAIL("opened a plain file");
    } catch (const CacheError& e) {
        CHECK_THAT(e.what(), Catch::Contains(file));
    }
    try {
        Cache::open(tmp.sub("no/such/parent"), MiB);
        FAIL("opened below a missing directory");
    } catch (const CacheError& e) {
        CHECK_THAT(e.what(), Catch::Contains("no/such/parent"));
    }
}

TEST_CASE("cache: put/get with TTL aging and expiry", "[cache]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    const auto a1 = bytes({192, 0, 2, 1}), a2 = bytes({192, 0, 2, 2});
    REQUIRE(c->put_rrset(wire("www.example.com"), A, 300, {sp(a1), sp(a2)}, Rank::auth_answer, T0));
    CHECK(c->count() == 1);

    auto rr = c->get_rrset(wire("WWW.Example.COM"), A, T0);
    REQUIRE(rr);
    CHECK(rr->type == A);
    CHECK(rr->ttl == 300);
    CHECK(rr->rank == Rank::auth_answer);
    CHECK(rr->rdatas == std::vector<std::vector<uint8_t>>{a1, a2});

    rr = c->get_rrset(wire("www.example.com"), A, T0 + 100);
    REQUIRE(rr);
    CHECK(rr->ttl == 200);
    rr = c->get_rrset(wire("www.example.com"), A, T0 + 299);
    REQUIRE(rr);
    CHECK(rr->ttl == 1);
    CHECK_FALSE(c->get_rrset(wire("www.example.com"), A, T0 + 300));
    CHECK_FALSE(c->get_rrset(wire("www.example.com"), A, T0 + 100000));
    // A clock that went back never yields more than the stored TTL.
    rr = c->get_rrset(wire("www.example.com"), A, T0 - 1000);
    REQUIRE(rr);
    CHECK(rr->ttl == 300);

    // Other types and names are misses.
    CHECK_FALSE(c->get_rrset(wire("www.example.com"), AAAA, T0));
    CHECK_FALSE(c->get_rrset(wire("example.com"), A, T0));
    // Malformed names are misses / not stored.
    CHECK_FALSE(c->get_rrset(bytes({3, 'w'}), A, T0));
    CHECK_FALSE(c->put_rrset(bytes({3, 'w'}), A, 300, {sp(a1)}, Rank::auth_answer, T0));
    CHECK_FALSE(c->put_rrset(wire("x.example"), A, 300, {}, Rank::auth_answer, T0));
    const std::vector<uint8_t> big(65535, 'x');
    CHECK_FALSE(c->put_rrset(wire("x.example"), A, 300, {sp(big), sp(big)}, Rank::auth_answer, T0));
    CHECK(c->put_rrset(wire("x.example"), A, 300, {sp(big)}, Rank::auth_answer, T0));
    CHECK(c->clear(wire("x.example")) == 1);

    const Stats s = c->stats();
    CHECK(s.inserts == 2);
    CHECK(s.hits == 4);
    CHECK(s.misses == 5);
    CHECK(s.entries == 1);
    CHECK(s.map_size == 4 * MiB);
    CHECK(s.used > 0);
}

TEST_CASE("cache: an expired entry is replaced whatever its rank", "[cache]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    REQUIRE(put_a(*c, "ns.example", 60, Rank::auth_answer, T0, 1));
    REQUIRE(put_a(*c, "ns.example", 60, Rank::glue, T0 + 60, 2));
    auto rr = c->get_rrset(wire("ns.example"), A, T0 + 61);
    REQUIRE(rr);
    CHECK(a_last(*rr) == 2);
    CHECK(rr->rank == Rank::glue);
}

TEST_CASE("cache: rank rule", "[cache]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    SECTION("glue cannot replace auth_answer") {
        REQUIRE(put_a(*c, "ns.example", 3600, Rank::auth_answer, T0, 1));
        CHECK_FALSE(put_a(*c, "ns.example", 3600, Rank::glue, T0 + 1, 2));
        CHECK_FALSE(put_a(*c, "ns.example", 3600, Rank::nonauth, T0 + 1, 2));
        CHECK_FALSE(put_a(*c, "ns.example", 3600, Rank::auth_authority, T0 + 1, 2));
        auto rr = c->get_rrset(wire("ns.example"), A, T0 + 2);
        REQUIRE(rr);
        CHECK(a_last(*rr) == 1);
        CHECK(rr->rank == Rank::auth_answer);
        CHECK(c->stats().inserts == 1);
    }
    SECTION("auth_answer replaces glue") {
        REQUIRE(put_a(*c, "ns.example", 3600, Rank::glue, T0, 1));
        REQUIRE(put_a(*c, "ns.example", 600, Rank::auth_answer, T0 + 1, 2));
        auto rr = c->get_rrset(wire("ns.example"), A, T0 + 1);
        REQUIRE(rr);
        CHECK(a_last(*rr) == 2);
        CHECK(rr->ttl == 600);
        CHECK(rr->rank == Rank::auth_answer);
    }
    SECTION("equal rank replaces") {
        REQUIRE(put_a(*c, "ns.example", 3600, Rank::nonauth, T0, 1));
        REQUIRE(put_a(*c, "ns.example", 100, Rank::nonauth, T0 + 1, 2));
        auto rr = c->get_rrset(wire("ns.example"), A, T0 + 1);
        REQUIRE(rr);
        CHECK(a_last(*rr) == 2);
        CHECK(rr->ttl == 100);
    }
    SECTION("an invalid rank is refused") {
        CHECK_FALSE(put_a(*c, "ns.example", 3600, static_cast<Rank>(0), T0));
        CHECK_FALSE(put_a(*c, "ns.example", 3600, static_cast<Rank>(9), T0));
    }
}

TEST_CASE("cache: negative entries", "[cache]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    const auto soa_owner = wire("Example.COM");
    const auto soa = soa_rdata(300);

    SECTION("NXDOMAIN covers every type of the name") {
        REQUIRE(c->put_negative(wire("nx.example.com"), A, true, sp(soa_owner), sp(soa), 3600, T0));
        for (uint16_t t : {A, AAAA, MX, NS}) {
            auto n = c->get_negative(wire("NX.example.com"), t, T0 + 10);
            REQUIRE(n);
            CHECK(n->nxdomain);
            CHECK(n->ttl == 290); // SOA MINIMUM 300 caps the 3600
            CHECK(n->soa_owner == wire("example.com"));
            CHECK(n->soa_rdata == soa);
        }
        CHECK_FALSE(c->get_negative(wire("nx.example.com"), A, T0 + 300));
        CHECK_FALSE(c->get_negative(wire("other.example.com"), A, T0));
        // Not a positive entry.
        CHECK_FALSE(c->get_rrset(wire("nx.example.com"), A, T0));
    }
    SECTION("NODATA covers one type") {
        REQUIRE(
            c->put_negative(wire("nd.example.com"), AAAA, false, sp(soa_owner), sp(soa), 60, T0));
        auto n = c->get_negative(wire("nd.example.com"), AAAA, T0);
        REQUIRE(n);
        CHECK_FALSE(n->nxdomain);
        CHECK(n->ttl == 60);
        CHECK_FALSE(c->get_negative(wire("nd.example.com"), A, T0));
        CHECK_FALSE(c->get_negative(wire("nd.example.com"), AAAA, T0 + 60));
    }
    SECTION("NXDOMAIN is found before NODATA") {
        REQUIRE(c->put_negative(wire("x.example.com"), A, false, sp(soa_owner), sp(soa), 100, T0));
        REQUIRE(c->put_negative(wire("x.example.com"), A, true, sp(soa_owner), sp(soa), 200, T0));
        auto n = c->get_negative(wire("x.example.com"), A, T0);
        REQUIRE(n);
        CHECK(n->nxdomain);
        CHECK(n->ttl == 200);
        // Once the NXDOMAIN expires the NODATA is not found (expired as well
        // here), and a fresh NODATA is found alone.
        REQUIRE(c->put_negative(wire("x.example.com"), MX, false, sp(soa_owner), sp(soa), 500, T0));
        n = c->get_negative(wire("x.example.com"), MX, T0 + 250);
        REQUIRE(n);
        CHECK_FALSE(n->nxdomain);
        CHECK(n->ttl == 50);
    }
    SECTION("authoritative data removes negatives; glue does not") {
        REQUIRE(c->put_negative(wire("y.example.com"), A, false, sp(soa_owner), sp(soa), 100, T0));
        REQUIRE(put_a(*c, "y.example.com", 100, Rank::glue, T0));
        CHECK(c->get_negative(wire("y.example.com"), A, T0));
        REQUIRE(put_a(*c, "y.example.com", 100, Rank::auth_answer, T0));
        CHECK_FALSE(c->get_negative(wire("y.example.com"), A, T0));
        REQUIRE(c->put_negative(wire("z.example.com"), A, true, sp(soa_owner), sp(soa), 100, T0));
        REQUIRE(put_a(*c, "z.example.com", 100, Rank::auth_authority, T0));
        CHECK_FALSE(c->get_negative(wire("z.example.com"), MX, T0));
    }
    SECTION("empty or odd SOA data; bad SOA owner") {
        REQUIRE(c->put_negative(wire("e.example.com"), A, true, {}, {}, 50, T0));
        auto n = c->get_negative(wire("e.example.com"), A, T0);
        REQUIRE(n);
        CHECK(n->ttl == 50);
        CHECK(n->soa_owner.empty());
        const auto bad = bytes({5, 'a'});
        CHECK_FALSE(c->put_negative(wire("f.example.com"), A, true, sp(bad), sp(soa), 50, T0));
    }
}

TEST_CASE("cache: TTL bounds", "[cache]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    CHECK(c->min_ttl() == 5);
    CHECK(c->max_ttl() == 6 * 24 * 3600);
    REQUIRE(put_a(*c, "zero.example", 0, Rank::auth_answer, T0));
    REQUIRE(put_a(*c, "huge.example", 0xffffffff, Rank::auth_answer, T0));
    CHECK(c->get_rrset(wire("zero.example"), A, T0)->ttl == 5);
    CHECK(c->get_rrset(wire("zero.example"), A, T0 + 4));
    CHECK_FALSE(c->get_rrset(wire("zero.example"), A, T0 + 5));
    CHECK(c->get_rrset(wire("huge.example"), A, T0)->ttl == 518400);
    CHECK_FALSE(c->get_rrset(wire("huge.example"), A, T0 + 518400));

    c->set_ttl_bounds(60, 120);
    CHECK(c->min_ttl() == 60);
    CHECK(c->max_ttl() == 120);
    REQUIRE(put_a(*c, "b.example", 1, Rank::auth_answer, T0));
    REQUIRE(put_a(*c, "c.example", 100000, Rank::auth_answer, T0));
    REQUIRE(put_a(*c, "d.example", 90, Rank::auth_answer, T0));
    CHECK(c->get_rrset(wire("b.example"), A, T0)->ttl == 60);
    CHECK(c->get_rrset(wire("c.example"), A, T0)->ttl == 120);
    CHECK(c->get_rrset(wire("d.example"), A, T0)->ttl == 90);
    REQUIRE(c->put_negative(wire("n.example"), A, true, {}, {}, 1, T0));
    CHECK(c->get_negative(wire("n.example"), A, T0)->ttl == 60);
    REQUIRE(c->put_negative(wire("m.example"), A, true, {}, {}, 100000, T0));
    CHECK(c->get_negative(wire("m.example"), A, T0)->ttl == 120);
    c->set_ttl_bounds(300, 100); // max wins
    REQUIRE(put_a(*c, "e.example", 1, Rank::auth_answer, T0));
    CHECK(c->get_rrset(wire("e.example"), A, T0)->ttl == 100);
}

TEST_CASE("cache: clear(name) removes the subtree only; clear() everything", "[cache]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    const std::vector<std::string> inside = {"example.com", "www.example.com", "a.b.example.com",
                                             "MAIL.Example.com"};
    const std::vector<std::string> outside = {
        "com", "examplf.com", "example-a.com", "xexample.com", "example.net", "example.com.net",
        "."};
    for (const auto& n : inside)
        REQUIRE(put_a(*c, n, 300, Rank::auth_answer, T0));
    for (const auto& n : outside)
        REQUIRE(put_a(*c, n, 300, Rank::auth_answer, T0));
    REQUIRE(c->put_negative(wire("nx.example.com"), A, true, {}, {}, 300, T0));
    REQUIRE(c->put_negative(wire("example.com"), MX, false, {}, {}, 300, T0));
    REQUIRE(c->put_rrset(wire("example.com"), NS, 300, {sp(wire("ns.example.com"))},
                         Rank::auth_answer, T0));
    CHECK(c->count() == inside.size() + outside.size() + 3);

    CHECK(c->clear(wire("EXAMPLE.com")) == inside.size() + 3);
    for (const auto& n : inside)
        CHECK_FALSE(c->get_rrset(wire(n), A, T0));
    CHECK_FALSE(c->get_negative(wire("nx.example.com"), A, T0));
    for (const auto& n : outside)
        CHECK(c->get_rrset(wire(n), A, T0));
    CHECK(c->count() == outside.size());
    CHECK(c->clear(wire("nothing.here")) == 0);
    CHECK(c->clear(bytes({4, 'x'})) == 0); // malformed

    CHECK(c->clear({}) == outside.size());
    CHECK(c->count() == 0);
    for (const auto& n : outside)
        CHECK_FALSE(c->get_rrset(wire(n), A, T0));
    // Still usable afterwards; clearing the root clears everything too.
    REQUIRE(put_a(*c, "again.example", 300, Rank::auth_answer, T0));
    CHECK(c->count() == 1);
    CHECK(c->clear(wire(".")) == 1);
    CHECK(c->count() == 0);
    CHECK(c->stats().clears == 5);
}

TEST_CASE("cache: clear of a large subtree spans several transactions", "[cache]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 16 * MiB);
    for (int i = 0; i < 3000; ++i)
        REQUIRE(put_a(*c, "h" + std::to_string(i) + ".big.example", 300, Rank::auth_answer, T0));
    REQUIRE(put_a(*c, "small.example", 300, Rank::auth_answer, T0));
    CHECK(c->clear(wire("big.example")) == 3000);
    CHECK(c->count() == 1);
}

TEST_CASE("cache: corrupt values are misses and get deleted", "[cache]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    REQUIRE(put_a(*c, "victim.example", 300, Rank::auth_answer, T0));
    REQUIRE(c->put_negative(wire("neg.example"), A, true, {}, {}, 300, T0));
    REQUIRE(put_a(*c, "bystander.example", 300, Rank::auth_answer, T0));
    REQUIRE(c->count() == 3);

    // Reach under the Cache to the same environment (the Store is shared).
    auto store = Store::acquire(tmp.path(), 4 * MiB);
    auto damage = [&](std::string_view name, keys::Kind kind, uint16_t type, size_t keep) {
        keys::Key k;
        REQUIRE(keys::make_key(wire(name), kind, type, k));
        const int rc = store->write(T0, [&](MDB_txn* txn) {
            MDB_val key = lmdb::to_val(k.view()), val{};
            int r = mdb_get(txn, store->dbi(), &key, &val);
            if (r != MDB_SUCCESS) return r;
            std::vector<uint8_t> cut(static_cast<const uint8_t*>(val.mv_data),
                                     static_cast<const uint8_t*>(val.mv_data) + keep);
            MDB_val nv = lmdb::to_val(cut);
            return mdb_put(txn, store->dbi(), &key, &nv, 0);
        });
        REQUIRE(rc == MDB_SUCCESS);
    };
    damage("victim.example", keys::Kind::rrset, A, 10);
    CHECK_FALSE(c->get_rrset(wire("victim.example"), A, T0));
    CHECK(c->count() == 2);
    damage("neg.example", keys::Kind::nxdomain, 0, 0);
    CHECK_FALSE(c->get_negative(wire("neg.example"), A, T0));
    CHECK(c->count() == 1);
    CHECK(c->get_rrset(wire("bystander.example"), A, T0));
    // A corrupt entry does not block a new put of any rank.
    REQUIRE(put_a(*c, "bystander.example", 300, Rank::auth_answer, T0));
    damage("bystander.example", keys::Kind::rrset, A, 29); // one byte short
    REQUIRE(put_a(*c, "bystander.example", 300, Rank::glue, T0));
    CHECK(c->get_rrset(wire("bystander.example"), A, T0));
}

TEST_CASE("cache: a database of another format is emptied at open", "[cache]") {
    TempDir tmp;
    {
        auto store = Store::acquire(tmp.path(), 4 * MiB);
        const int rc = store->write(T0, [&](MDB_txn* txn) {
            MDB_val k = lmdb::to_val(keys::kMetaKey);
            int r = mdb_del(txn, store->dbi(), &k, nullptr);
            if (r != MDB_SUCCESS) return r;
            const auto junk = bytes({1, 2, 3});
            MDB_val jk = lmdb::to_val(junk), jv = lmdb::to_val(junk);
            return mdb_put(txn, store->dbi(), &jk, &jv, 0);
        });
        REQUIRE(rc == MDB_SUCCESS);
    }
    auto c = Cache::open(tmp.path(), 4 * MiB);
    CHECK(c->count() == 0);
}

TEST_CASE("cache: DNSSEC status, RRSIGs and proofs are kept", "[cache][dnssec]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    const auto rd = bytes({192, 0, 2, 7}), sig1 = bytes({0, 1, 13, 2, 9, 9}), sig2 = bytes({0, 1});
    REQUIRE(c->put_rrset(wire("www.example"), A, 300, {sp(rd)}, Rank::auth_answer, T0,
                         Security::secure, {sp(sig1), sp(sig2)}));
    auto rr = c->get_rrset(wire("www.example"), A, T0 + 1);
    REQUIRE(rr);
    CHECK(rr->security == Security::secure);
    CHECK(rr->sigs == std::vector<std::vector<uint8_t>>{sig1, sig2});
    // The visitor (the fast path) sees the status too.
    struct Sec final : RRsetVisitor {
        Security seen = Security::unknown;
        bool begin(uint32_t, Rank, Security s, uint16_t) override {
            seen = s;
            return true;
        }
        bool rdata(std::span<const uint8_t>) override { return true; }
    } v;
    REQUIRE(c->visit_rrset(wire("www.example"), A, T0 + 1, v));
    CHECK(v.seen == Security::secure);
    REQUIRE(c->visit_rrset(wire("www.example"), A, T0 + 2, v)); // from the front table
    CHECK(v.seen == Security::secure);

    SECTION("validated data is not replaced by unvalidated data of any rank") {
        CHECK_FALSE(c->put_rrset(wire("www.example"), A, 300, {sp(rd)}, Rank::auth_answer, T0 + 3,
                                 Security::insecure));
        CHECK_FALSE(c->put_rrset(wire("www.example"), A, 300, {sp(rd)}, Rank::auth_answer, T0 + 3));
        CHECK(c->get_rrset(wire("www.example"), A, T0 + 3)->security == Security::secure);
    }
    SECTION("validated data replaces unvalidated data of a higher rank") {
        REQUIRE(c->put_rrset(wire("ns.example"), A, 300, {sp(rd)}, Rank::auth_answer, T0));
        REQUIRE(c->put_rrset(wire("ns.example"), A, 300, {sp(rd)}, Rank::nonauth, T0 + 1,
                             Security::secure));
        CHECK(c->get_rrset(wire("ns.example"), A, T0 + 1)->security == Security::secure);
    }
    SECTION("a negative answer keeps its proof") {
        kresd::dns::Record nsec;
        const auto owner = wire("a.example");
        std::copy(owner.begin(), owner.end(), nsec.owner.wire.begin());
        nsec.owner.len = static_cast<uint8_t>(owner.size());
        nsec.type = 47;
        nsec.ttl = 900;
        nsec.rdata = wire("c.example");
        const auto soa = soa_rdata(900);
        REQUIRE(c->put_negative(wire("b.example"), A, true, wire("example"), sp(soa), 900, T0,
                                Security::secure, std::span<const kresd::dns::Record>(&nsec, 1)));
        auto n = c->get_negative(wire("b.example"), A, T0 + 1);
        REQUIRE(n);
        CHECK(n->security == Security::secure);
        REQUIRE(n->proof.size() == 1);
        CHECK(n->proof[0].type == 47);
        CHECK(n->proof[0].ttl == 900);
        CHECK(n->proof[0].rdata == wire("c.example"));
        CHECK(std::vector<uint8_t>(n->proof[0].owner.view().begin(),
                                   n->proof[0].owner.view().end()) == owner);
    }
}
