// Unit tests for the note of an owner without entries (LmdbCache's
// lookup_read(), src/cache/cache.cpp): within one read snapshot, the
// lookups after the first of a name the cache holds nothing for skip the
// B-tree. The note must never hide an entry: not one of another kind or
// type of the same owner, before or after the key looked up; not a child's
// or a parent's; not one written after the snapshot, by this process or
// another.
#include "cache/cache.hpp"
#include "cache_helpers.hpp"
#include "catch.hpp"
#include "fork_child.hpp"

#include <string>
#include <vector>

using namespace kresd::cache;
using namespace kresd::cache::test;
using kresd::test::exit_status;
using kresd::test::fork_child;

namespace {

bool put(Cache& c, const std::string& name, uint16_t type, uint8_t last) {
    std::vector<uint8_t> rd{192, 0, 2, last};
    if (type == AAAA) rd.resize(16, last);
    return c.put_rrset(wire(name), type, 300, {sp(rd)}, Rank::auth_answer, T0);
}

bool has(Cache& c, const std::string& name, uint16_t type) {
    return c.get_rrset(wire(name), type, T0 + 1).has_value();
}

bool put_nodata(Cache& c, const std::string& name, uint16_t type) {
    const auto soa_owner = wire("example.com");
    const auto soa = soa_rdata(300);
    return c.put_negative(wire(name), type, false, sp(soa_owner), sp(soa), 300, T0);
}

} // namespace

TEST_CASE("absent: the lookups of a name with nothing cached all miss, then see a write",
          "[cache][absent]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    REQUIRE(put(*c, "other.example.com", A, 1));
    c->hold_reads(true);
    for (uint16_t t : {A, CNAME, NS, AAAA, A})
        CHECK_FALSE(has(*c, "new.example.com", t));
    CHECK_FALSE(c->get_negative(wire("new.example.com"), A, T0 + 1));
    c->hold_reads(false);
    // A write by this process is a new snapshot.
    REQUIRE(put(*c, "new.example.com", AAAA, 7));
    CHECK_FALSE(has(*c, "new.example.com", A));
    CHECK(has(*c, "new.example.com", AAAA));
}

TEST_CASE("absent: a write by another process is seen by the next snapshot",
          "[cache][absent][process]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    REQUIRE(put(*c, "other.example.com", A, 1));
    c->hold_reads(true);
    CHECK_FALSE(has(*c, "new.example.com", A)); // noted absent in this snapshot
    CHECK(exit_status(fork_child([&](int) {
              auto w = Cache::open(tmp.path(), 4 * MiB);
              return put(*w, "new.example.com", A, 2) && put_nodata(*w, "new.example.com", MX) ? 0
                                                                                               : 3;
          })) == 0);
    // The held snapshot predates the write.
    CHECK_FALSE(has(*c, "new.example.com", A));
    c->hold_reads(false);
    c->hold_reads(true);
    CHECK(c->get_negative(wire("new.example.com"), MX, T0 + 1).has_value());
    CHECK(has(*c, "new.example.com", A));
    c->hold_reads(false);
}

TEST_CASE("absent: entries of other kinds and types of the owner are not hidden",
          "[cache][absent]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    // Keys sort by owner, then kind ('N' before 'R'), then type: each case
    // looks up a missing key with the owner's only entry before or after it.
    SECTION("an entry sorting after the key looked up") {
        REQUIRE(put(*c, "www.example.com", AAAA, 1));
        c->hold_reads(true);
        CHECK_FALSE(has(*c, "www.example.com", A));
        CHECK(has(*c, "www.example.com", AAAA));
    }
    SECTION("an entry sorting before the key looked up") {
        REQUIRE(put_nodata(*c, "www.example.com", AAAA));
        c->hold_reads(true);
        CHECK_FALSE(has(*c, "www.example.com", A));
        CHECK(c->get_negative(wire("www.example.com"), AAAA, T0 + 1).has_value());
    }
    SECTION("the owner's only entry is the last key of the database") {
        REQUIRE(put(*c, "zzz.example.com", AAAA, 1));
        c->hold_reads(true);
        CHECK_FALSE(has(*c, "zzz.example.com", CNAME));
        CHECK(has(*c, "zzz.example.com", AAAA));
    }
    c->hold_reads(false);
}

TEST_CASE("absent: a parent or child of a name without entries keeps its own", "[cache][absent]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    REQUIRE(put(*c, "a.b.example.com", A, 1));
    REQUIRE(put(*c, "example.com", A, 2));
    c->hold_reads(true);
    CHECK_FALSE(has(*c, "b.example.com", A)); // only a child has entries
    CHECK(has(*c, "a.b.example.com", A));
    CHECK_FALSE(has(*c, "x.example.com", A)); // a sibling, after the parent
    CHECK(has(*c, "example.com", A));
    CHECK_FALSE(has(*c, "zzz.example.com", A)); // sorts after every key
    CHECK_FALSE(has(*c, ".", NS));              // the root's key sorts first
    CHECK(has(*c, "example.com", A));
    c->hold_reads(false);
}
