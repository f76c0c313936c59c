// Unit tests for Cache::visit_answer on LMDB: a client's negative answers
// (NXDOMAIN, NODATA) in the order a Request finds them, and their copies in
// the front table, which must follow a write to any of the three keys that
// decide such an answer, by whichever process (src/cache/front.hpp).
#include "cache/cache.hpp"
#include "cache_helpers.hpp"
#include "catch.hpp"
#include "fork_child.hpp"

#include <string>

using namespace kresd::cache;
using namespace kresd::cache::test;
using kresd::test::exit_status;
using kresd::test::fork_child;

namespace {

// Takes what visit_answer hands over, as the client's writer does: RRsets
// below `min_rank` are refused (glue is not an answer for a client).
struct Seen final : RRsetVisitor, NegativeVisitor {
    std::string what;
    uint32_t ttl = 0;
    std::vector<uint8_t> soa_owner, soa_rdata;

    bool begin(uint32_t t, Rank rank, Security, uint16_t) override {
        if (rank < Rank::nonauth) return false;
        ttl = t;
        what = "RRset";
        return true;
    }
    bool rdata(std::span<const uint8_t> rd) override {
        what += " " + std::to_string(rd.back());
        return true;
    }
    bool negative(const NegativeView& n) override {
        what = n.nxdomain ? "NXDOMAIN" : "NODATA";
        ttl = n.ttl;
        soa_owner.assign(n.soa_owner.begin(), n.soa_owner.end());
        soa_rdata.assign(n.soa_rdata.begin(), n.soa_rdata.end());
        return true;
    }
};

// "RRset 7", "NXDOMAIN", "NODATA" or "none"; checks that the return value
// says the same.
std::string ask(Cache& c, const std::string& name, uint16_t type, uint64_t now = T0 + 1,
                Seen* out = nullptr) {
    Seen s;
    const Answer a = c.visit_answer(wire(name), type, now, s, s);
    if (out != nullptr) *out = s;
    switch (a) {
    case Answer::none:
        CHECK(s.what.empty());
        return "none";
    case Answer::positive:
        CHECK(s.what.rfind("RRset", 0) == 0);
        return s.what;
    case Answer::negative:
        CHECK((s.what == "NXDOMAIN" || s.what == "NODATA"));
        return s.what;
    }
    return "?";
}

bool put(Cache& c, const std::string& name, uint16_t type, uint8_t last, Rank rank) {
    const std::vector<uint8_t> rd =
        type == AAAA ? std::vector<uint8_t>(16, last) : std::vector<uint8_t>{192, 0, 2, last};
    return c.put_rrset(wire(name), type, 300, {sp(rd)}, rank, T0);
}

bool nodata(Cache& c, const std::string& name, uint16_t type, uint32_t minimum = 600) {
    const auto soa = soa_rdata(minimum);
    return c.put_negative(wire(name), type, false, wire("Example.com"), sp(soa), 3600, T0);
}

bool nxdomain(Cache& c, const std::string& name) {
    const auto soa = soa_rdata(900);
    return c.put_negative(wire(name), 0, true, wire("example.com"), sp(soa), 3600, T0);
}

} // namespace

TEST_CASE("front: negative answers come in the order of a Request", "[cache][front]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    REQUIRE(put(*c, "v4.example.com", A, 1, Rank::auth_answer));
    REQUIRE(nodata(*c, "v4.example.com", AAAA));
    REQUIRE(nxdomain(*c, "nx.example.com"));
    REQUIRE(nodata(*c, "both.example.com", AAAA)); // and an NXDOMAIN: it goes first
    REQUIRE(nxdomain(*c, "both.example.com"));
    REQUIRE(put(*c, "glue.example.com", AAAA, 5, Rank::glue)); // hides no NODATA
    REQUIRE(nodata(*c, "glue.example.com", AAAA));
    // Twice: the second time from the front table.
    for (int i = 0; i < 2; ++i) {
        CHECK(ask(*c, "v4.example.com", A) == "RRset 1");
        CHECK(ask(*c, "v4.example.com", AAAA) == "NODATA");
        CHECK(ask(*c, "V4.Example.COM", AAAA) == "NODATA");
        CHECK(ask(*c, "v4.example.com", TXT) == "none");
        CHECK(ask(*c, "nx.example.com", A) == "NXDOMAIN");
        CHECK(ask(*c, "nx.example.com", TXT) == "NXDOMAIN");
        CHECK(ask(*c, "both.example.com", AAAA) == "NXDOMAIN");
        CHECK(ask(*c, "glue.example.com", AAAA) == "NODATA");
        CHECK(ask(*c, "never.example.com", A) == "none");
    }
    SECTION("the SOA comes with it, its owner lower-cased, the TTL aged") {
        for (int i = 0; i < 2; ++i) {
            Seen s;
            CHECK(ask(*c, "v4.example.com", AAAA, T0 + 100, &s) == "NODATA");
            CHECK(s.soa_owner == wire("example.com"));
            CHECK(s.soa_rdata == soa_rdata(600));
            CHECK(s.ttl == 500); // min(3600, MINIMUM 600), 100 s on
        }
    }
    SECTION("and goes with its TTL") {
        CHECK(ask(*c, "v4.example.com", AAAA, T0 + 599) == "NODATA");
        CHECK(ask(*c, "v4.example.com", AAAA, T0 + 600) == "none");
        CHECK(ask(*c, "nx.example.com", A, T0 + 900) == "none");
    }
    SECTION("a write in this process is seen at once") {
        REQUIRE(put(*c, "v4.example.com", AAAA, 6, Rank::auth_answer));
        CHECK(ask(*c, "v4.example.com", AAAA) == "RRset 6");
        REQUIRE(put(*c, "nx.example.com", A, 7, Rank::auth_answer));
        CHECK(ask(*c, "nx.example.com", A) == "RRset 7");
        CHECK(ask(*c, "nx.example.com", TXT) == "none"); // the NXDOMAIN went with it
    }
}

TEST_CASE("front: a negative answer follows a write to any of its three keys",
          "[cache][front][process]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    // Each name a NODATA for AAAA; each gets a write to one of the keys
    // that decide its answer, from another process, and none of these
    // writes removes the NODATA itself.
    for (const char* name : {"rrset.example.com", "nx.example.com", "nodata.example.com"})
        REQUIRE(nodata(*c, name, AAAA));
    for (int i = 0; i < 2; ++i)
        for (const char* name : {"rrset.example.com", "nx.example.com", "nodata.example.com"})
            CHECK(ask(*c, name, AAAA) == "NODATA");
    CHECK(exit_status(fork_child([&](int) {
              auto cc = Cache::open(tmp.path(), 4 * MiB);
              // Below auth_authority: stored next to the NODATA, not instead.
              if (!put(*cc, "rrset.example.com", AAAA, 9, Rank::nonauth)) return 3;
              if (!nxdomain(*cc, "nx.example.com")) return 4;
              if (!nodata(*cc, "nodata.example.com", AAAA, 60)) return 5;
              return 0;
          })) == 0);
    CHECK(ask(*c, "rrset.example.com", AAAA) == "RRset 9");
    CHECK(ask(*c, "nx.example.com", AAAA) == "NXDOMAIN");
    Seen s;
    CHECK(ask(*c, "nodata.example.com", AAAA, T0 + 1, &s) == "NODATA");
    CHECK(s.ttl == 59); // the new entry's
}

TEST_CASE("front: no negative copy from a snapshot older than a write", "[cache][front][process]") {
    TempDir tmp;
    auto c = Cache::open(tmp.path(), 4 * MiB);
    REQUIRE(nodata(*c, "www.example.com", AAAA));
    REQUIRE(put(*c, "other.example.com", A, 1, Rank::auth_answer));
    c->hold_reads(true);
    CHECK(ask(*c, "other.example.com", A) == "RRset 1"); // the held snapshot begins
    CHECK(exit_status(fork_child([&](int) {
              auto cc = Cache::open(tmp.path(), 4 * MiB);
              return put(*cc, "www.example.com", AAAA, 2, Rank::nonauth) ? 0 : 3;
          })) == 0);
    // The held snapshot predates the write: its answer, not to be kept.
    CHECK(ask(*c, "www.example.com", AAAA) == "NODATA");
    c->hold_reads(false);
    CHECK(ask(*c, "www.example.com", AAAA) == "RRset 2");
    CHECK(ask(*c, "www.example.com", AAAA) == "RRset 2");
}
