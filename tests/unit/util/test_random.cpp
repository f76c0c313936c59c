// util::random_u32(): kernel randomness handed out from a buffer.
#include "catch.hpp"
#include "fork_child.hpp"
#include "util/random.hpp"

#include <unistd.h>

#include <set>
#include <vector>

using kresd::util::random_u32;

TEST_CASE("random: values do not repeat across many blocks", "[util]") {
    std::set<uint32_t> seen;
    for (int i = 0; i < 10000; ++i) seen.insert(random_u32());
    // 10,000 draws from 2^32: a repeat has probability ~1 %; more than two
    // means the buffer hands bytes out twice.
    CHECK(seen.size() >= 9998);
    // Every bit position takes both values.
    uint32_t any = 0, all = ~0u;
    for (int i = 0; i < 64; ++i) {
        const uint32_t v = random_u32();
        any |= v;
        all &= v;
    }
    CHECK(any == ~0u);
    CHECK(all == 0u);
}

TEST_CASE("random: a fork()ed child does not repeat the parent's numbers", "[util][process]") {
    (void)random_u32(); // the parent's block is filled and partly used
    std::vector<uint32_t> mine(16), child(16);
    const kresd::test::Child c = kresd::test::fork_child([&](int to_parent) {
        for (auto& x : child) x = random_u32();
        const ssize_t n = write(to_parent, child.data(), child.size() * sizeof(uint32_t));
        return n == static_cast<ssize_t>(child.size() * sizeof(uint32_t)) ? 0 : 1;
    });
    for (auto& x : mine) x = random_u32();
    size_t got = 0;
    auto* p = reinterpret_cast<char*>(child.data());
    while (got < child.size() * sizeof(uint32_t)) {
        const ssize_t n = read(c.from_child, p + got, child.size() * sizeof(uint32_t) - got);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    CHECK(kresd::test::exit_status(c) == 0);
    REQUIRE(got == child.size() * sizeof(uint32_t));
    CHECK(mine != child);
    size_t same = 0;
    for (size_t i = 0; i < mine.size(); ++i) same += mine[i] == child[i];
    CHECK(same == 0);
}
