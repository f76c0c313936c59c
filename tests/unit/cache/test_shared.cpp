// Unit tests for the cache as a shared, bounded store: eviction on a full
// map, map sizes, several Cache objects and processes on one directory.
#include "cache/cache.hpp"
#include "cache/store.hpp"
#include "cache_helpers.hpp"
#include "catch.hpp"
#include "fork_child.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

using namespace kresd::cache;
using namespace kresd::cache::test;
using kresd::test::Child;
using kresd::test::exit_status;
using kresd::test::fork_child;

namespace {

bool put_aaaa(Cache& c, const std::string& name, uint32_t ttl, uint64_t now) {
    const std::vector<uint8_t> a(16, 0x20), b(16, 0x21);
    return c.put_rrset(wire(name), AAAA, ttl, {sp(a), sp(b)}, Rank::auth_answer, now);
}

bool has(Cache& c, const std::string& name, uint64_t now, uint16_t type = AAAA) {
    return c.get_rrset(wire(name), type, now).has_value();
}

std::string fill_name(int i) {
    return "n" + std::to_string(i) + ".fill.example";
}

} // namespace

TEST_CASE("cache: a full 1 MiB map never fails a put and keeps recent entries", "[cache][evict]") {
    TempDir tmp;
    constexpr int N = 20000;
    uint64_t count_before = 0;
    {
        auto c = Cache::open(tmp.path(), MiB);
        REQUIRE(c->map_size() == MiB);
        for (int i = 0; i < N; ++i) {
            CAPTURE(i);
            REQUIRE(put_aaaa(*c, fill_name(i), 3600, T0 + i));
            REQUIRE(has(*c, fill_name(i), T0 + i));
        }
        const Stats s = c->stats();
        CHECK(s.evictions > 0);
        CHECK(s.inserts == N);
        CHECK(s.entries < N);
        CHECK(s.entries > 500);
        CHECK(s.entries + s.evictions == N);
        CHECK(s.used <= s.map_size);
        CHECK(c->map_size() == MiB);
        for (int i = N - 200; i < N; ++i)
            CHECK(has(*c, fill_name(i), T0 + N));
        // The oldest went first.
        CHECK_FALSE(has(*c, fill_name(0), T0 + N));
        count_before = c->count();
    }
    // Reopen: nothing lost, nothing corrupt, still writable.
    auto c = Cache::open(tmp.path(), MiB);
    CHECK(c->count() == count_before);
    for (int i = N - 200; i < N; ++i)
        CHECK(has(*c, fill_name(i), T0 + N));
    for (int i = N; i < N + 2000; ++i)
        REQUIRE(put_aaaa(*c, fill_name(i), 3600, T0 + i));
    for (int i = N + 1800; i < N + 2000; ++i)
        CHECK(has(*c, fill_name(i), T0 + N + 2000));
}

TEST_CASE("cache: eviction with one expiry time for all never empties the cache",
          "[cache][evict]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), MiB);
    for (int i = 0; i < 15000; ++i) {
        CAPTURE(i);
        REQUIRE(put_aaaa(*c, fill_name(i), 3600, T0));
        REQUIRE(has(*c, fill_name(i), T0));
        if (i > 1000) REQUIRE(c->count() > 500);
    }
    CHECK(c->stats().evictions > 0);
}

TEST_CASE("cache: large RRsets in a small map", "[cache][evict]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), MiB);
    const std::vector<uint8_t> big(3000, 'x'); // overflow pages
    for (int i = 0; i < 2000; ++i) {
        CAPTURE(i);
        REQUIRE(c->put_rrset(wire(fill_name(i)), TXT, 600, {sp(big), sp(big)}, Rank::auth_answer,
                             T0 + i));
        REQUIRE(has(*c, fill_name(i), T0 + i, TXT));
    }
    CHECK(c->stats().evictions > 0);
}

TEST_CASE("cache: eviction takes expired entries first, then those closest to expiry",
          "[cache][evict]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    for (int i = 0; i < 40; ++i)
        REQUIRE(put_aaaa(*c, "old" + std::to_string(i) + ".x", 10, T0));
    for (int i = 0; i < 60; ++i)
        REQUIRE(put_aaaa(*c, "live" + std::to_string(i) + ".x", 1000 + i, T0));
    auto store = Store::acquire(tmp.path(), 4 * MiB);
    // 40 expired >= a quarter of 100: only those go.
    CHECK(store->evict(T0 + 20) == 40);
    CHECK(c->count() == 60);
    for (int i = 0; i < 60; ++i)
        CHECK(has(*c, "live" + std::to_string(i) + ".x", T0 + 20));
    // Nothing expired: the quarter closest to expiry goes.
    CHECK(store->evict(T0 + 20) == 15);
    for (int i = 0; i < 15; ++i)
        CHECK_FALSE(has(*c, "live" + std::to_string(i) + ".x", T0 + 20));
    for (int i = 15; i < 60; ++i)
        CHECK(has(*c, "live" + std::to_string(i) + ".x", T0 + 20));
}

TEST_CASE("cache: map size is kept when larger, grown when smaller", "[cache]") {
    TempDir tmp;
    { CHECK(Cache::open(tmp.path(), 8 * MiB)->map_size() == 8 * MiB); }
    { CHECK(Cache::open(tmp.path(), 2 * MiB)->map_size() == 8 * MiB); }
    { CHECK(Cache::open(tmp.path(), 16 * MiB)->map_size() == 16 * MiB); }
    { CHECK(Cache::open(tmp.path(), 0)->map_size() == 16 * MiB); }
}

TEST_CASE("cache: two Cache objects on one directory see each other", "[cache]") {
    TempDir tmp;
    auto c1 = Cache::open(tmp.path(), 2 * MiB);
    auto c2 = Cache::open(tmp.path() + "/", 4 * MiB); // same directory, other spelling
    CHECK(c1->map_size() == 4 * MiB);
    REQUIRE(put_aaaa(*c1, "one.example", 300, T0));
    CHECK(has(*c2, "one.example", T0));
    REQUIRE(put_aaaa(*c2, "two.example", 300, T0));
    CHECK(has(*c1, "two.example", T0));
    CHECK(c1->count() == 2);
    CHECK(c2->count() == 2);
    CHECK(c1->clear(wire("one.example")) == 1);
    CHECK_FALSE(has(*c2, "one.example", T0));
    // Counters are per object.
    CHECK(c1->stats().inserts == 1);
    CHECK(c2->stats().inserts == 1);
    c1.reset();
    CHECK(has(*c2, "two.example", T0));
    REQUIRE(put_aaaa(*c2, "three.example", 300, T0));
}

TEST_CASE("cache: a child killed with SIGKILL mid-write leaves a usable cache",
          "[cache][process]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 2 * MiB);
    REQUIRE(put_aaaa(*c, "before.example", 518400, T0));
    for (int round = 0; round < 4; ++round) {
        const Child child = fork_child([&](int to_parent) {
            auto cc = Cache::open(tmp.path(), 2 * MiB);
            for (int i = 0;; ++i) {
                const std::string n =
                    "c" + std::to_string(round) + "-" + std::to_string(i) + ".child.example";
                if (!put_aaaa(*cc, n, 60, T0 + static_cast<uint64_t>(i))) return 3;
                if (i == 300 && write(to_parent, "x", 1) != 1) return 4;
            }
        });
        char x = 0;
        REQUIRE(read(child.from_child, &x, 1) == 1); // the child is in its write loop
        close(child.from_child);
        usleep(static_cast<useconds_t>(round * 7000));
        REQUIRE(kill(child.pid, SIGKILL) == 0);
        int status = 0;
        REQUIRE(waitpid(child.pid, &status, 0) == child.pid);
        REQUIRE(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == SIGKILL);

        // The parent's open cache keeps working.
        CAPTURE(round);
        CHECK(has(*c, "before.example", T0 + 1));
        const std::string mine = "after" + std::to_string(round) + ".example";
        REQUIRE(put_aaaa(*c, mine, 518400, T0 + 1));
        CHECK(has(*c, mine, T0 + 1));
        CHECK(c->count() > static_cast<uint64_t>(round) + 2); // the child's commits are there
    }
    // Reopen (stale reader slots of the dead children are cleared).
    c.reset();
    c = Cache::open(tmp.path(), 2 * MiB);
    CHECK(has(*c, "before.example", T0 + 1));
    for (int round = 0; round < 4; ++round)
        CHECK(has(*c, "after" + std::to_string(round) + ".example", T0 + 1));
    for (int i = 0; i < 500; ++i)
        REQUIRE(put_aaaa(*c, fill_name(i), 300, T0 + 1));
    CHECK(has(*c, fill_name(499), T0 + 1));
    CHECK(c->count() > 500);
}

TEST_CASE("cache: another process growing the map is adopted (MDB_MAP_RESIZED)",
          "[cache][process]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), MiB);
    REQUIRE(c->map_size() == MiB);
    REQUIRE(put_aaaa(*c, "parent.example", 3600, T0));
    constexpr int N = 6000;
    REQUIRE(exit_status(fork_child([&](int) {
                auto cc = Cache::open(tmp.path(), 16 * MiB);
                const std::vector<uint8_t> blob(300, 'b');
                for (int i = 0; i < N; ++i)
                    if (!cc->put_rrset(wire(fill_name(i)), TXT, 3600, {sp(blob)},
                                       Rank::auth_answer, T0))
                        return 3;
                return cc->stats().evictions != 0 ? 4 : 0;
            })) == 0);

    // Reads renew the snapshot, meet MDB_MAP_RESIZED and adopt the new size.
    CHECK(has(*c, fill_name(N - 1), T0, TXT));
    CHECK(has(*c, "parent.example", T0));
    CHECK(c->map_size() == 16 * MiB);
    CHECK(c->count() == N + 1);
    REQUIRE(put_aaaa(*c, "parent2.example", 3600, T0));
    CHECK(c->stats().evictions == 0);
}

TEST_CASE("cache: a writer that only grows through its own put adopts the size",
          "[cache][process]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), MiB);
    REQUIRE(exit_status(fork_child([&](int) {
                auto cc = Cache::open(tmp.path(), 8 * MiB);
                const std::vector<uint8_t> blob(300, 'b');
                for (int i = 0; i < 5000; ++i)
                    if (!cc->put_rrset(wire(fill_name(i)), TXT, 3600, {sp(blob)},
                                       Rank::auth_answer, T0))
                        return 3;
                return 0;
            })) == 0);
    // Write first this time: the write transaction meets MDB_MAP_RESIZED.
    REQUIRE(put_aaaa(*c, "parent.example", 3600, T0));
    CHECK(c->map_size() == 8 * MiB);
    CHECK(c->count() == 5001);
}

TEST_CASE("cache: held reads share one snapshot; own writes end it, release shows others'",
          "[cache][process]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 2 * MiB);
    REQUIRE(put_aaaa(*c, "first.example", 300, T0));
    // Another process writes while our reads are held.
    auto write_elsewhere = [&](const std::string& name) {
        REQUIRE(exit_status(fork_child([&](int) {
                    auto cc = Cache::open(tmp.path(), 2 * MiB);
                    return put_aaaa(*cc, name, 300, T0) ? 0 : 3;
                })) == 0);
    };

    c->hold_reads(true);
    CHECK(has(*c, "first.example", T0)); // the snapshot starts here
    write_elsewhere("other.example");
    CHECK_FALSE(has(*c, "other.example", T0)); // still the held snapshot
    CHECK(has(*c, "first.example", T0));
    // Our own write ends the snapshot: the next read sees both.
    REQUIRE(put_aaaa(*c, "mine.example", 300, T0));
    CHECK(has(*c, "mine.example", T0));
    CHECK(has(*c, "other.example", T0));
    write_elsewhere("later.example");
    CHECK_FALSE(has(*c, "later.example", T0));
    c->hold_reads(false);
    CHECK(has(*c, "later.example", T0)); // released: a fresh snapshot per read
    write_elsewhere("last.example");
    CHECK(has(*c, "last.example", T0));
}
