// Unit tests for cache keys (src/cache/keys): order and case.
#include "cache/keys.hpp"
#include "cache/lmdb.hpp"
#include "cache_helpers.hpp"
#include "catch.hpp"

#include <algorithm>
#include <cstring>
#include <random>

using namespace kresd::cache;
using namespace kresd::cache::test;
using keys::Kind;

namespace {

std::vector<uint8_t> key(std::string_view name, Kind kind = Kind::rrset, uint16_t type = 1) {
    keys::Key k;
    REQUIRE(keys::make_key(wire(name), kind, type, k));
    return {k.buf.begin(), k.buf.begin() + static_cast<long>(k.len)};
}

std::vector<uint8_t> prefix(std::string_view name) {
    keys::Key k;
    REQUIRE(keys::name_prefix(wire(name), k));
    return {k.buf.begin(), k.buf.begin() + static_cast<long>(k.len)};
}

bool starts_with(const std::vector<uint8_t>& k, const std::vector<uint8_t>& p) {
    return k.size() >= p.size() && std::equal(p.begin(), p.end(), k.begin());
}

} // namespace

TEST_CASE("keys: layout", "[cache][keys]") {
    CHECK(prefix("www.Example.COM") == std::vector<uint8_t>{'c', 'o', 'm', 0, 'e', 'x', 'a', 'm',
                                                            'p', 'l', 'e', 0, 'w', 'w', 'w', 0});
    CHECK(prefix(".").empty());
    CHECK(key(".", Kind::nxdomain, 0) == std::vector<uint8_t>{0, 'X', 0, 0});
    CHECK(key("a", Kind::rrset, 0x1c01) == std::vector<uint8_t>{'a', 0, 0, 'R', 0x1c, 0x01});
}

TEST_CASE("keys: case-insensitive", "[cache][keys]") {
    CHECK(key("WWW.EXAMPLE.COM") == key("www.example.com"));
    CHECK(key("wWw.ExAmPlE.cOm", Kind::nodata, 28) == key("www.example.com", Kind::nodata, 28));
    CHECK(key("www.example.com") != key("www.example.net"));
}

TEST_CASE("keys: a zone's names are adjacent, in canonical order", "[cache][keys]") {
    // Expected order: RFC 4034 6.1 canonical order, a name's own entries
    // before its children, its whole subtree before its next sibling.
    const std::vector<std::string> sorted = {
        ".",
        "com",
        "example.com",
        "a.example.com",
        "z.a.example.com",
        "b.example.com",
        "zz.example.com",
        "example-a.com",
        "examplf.com",
        "net",
        "a.net",
    };
    std::vector<std::vector<uint8_t>> ks;
    for (const auto& n : sorted)
        ks.push_back(key(n));
    for (size_t i = 1; i < ks.size(); ++i) {
        CAPTURE(sorted[i - 1], sorted[i]);
        CHECK(ks[i - 1] < ks[i]);
    }
    // Every type/kind of a name sorts after its zone's entries and before
    // the next sibling zone and its children.
    for (Kind k : {Kind::rrset, Kind::nodata, Kind::nxdomain})
        for (uint16_t t : {0, 1, 28, 65535}) {
            const auto e = key("example.com", k, t);
            CHECK(key("com", Kind::nxdomain, 65535) < e);
            CHECK(e < key("a.example.com", Kind::rrset, 0));
            CHECK(e < key("examplf.com", Kind::rrset, 0));
            CHECK(starts_with(e, prefix("example.com")));
        }
}

TEST_CASE("keys: the prefix of a name covers exactly its subtree", "[cache][keys]") {
    const auto p = prefix("example.com");
    CHECK(starts_with(key("example.com"), p));
    CHECK(starts_with(key("www.example.com"), p));
    CHECK(starts_with(key("a.b.c.example.com", Kind::nodata, 5), p));
    CHECK_FALSE(starts_with(key("com"), p));
    CHECK_FALSE(starts_with(key("examplecom.com"), p));
    CHECK_FALSE(starts_with(key("example.com.net"), p));
    CHECK_FALSE(starts_with(key("xexample.com"), p));
    CHECK_FALSE(starts_with(key("example.comx"), p));
}

TEST_CASE("keys: subtree contiguity over random names", "[cache][keys]") {
    std::mt19937 rng(42);
    const char alphabet[] = {'a', 'b', '-', 'A', 'B', 'z'};
    std::vector<std::string> names;
    for (int i = 0; i < 400; ++i) {
        std::string n;
        const int labels = 1 + static_cast<int>(rng() % 4);
        for (int l = 0; l < labels; ++l) {
            if (l) n += '.';
            const int len = 1 + static_cast<int>(rng() % 3);
            for (int c = 0; c < len; ++c)
                n += alphabet[rng() % sizeof alphabet];
        }
        names.push_back(n);
    }
    std::vector<std::pair<std::vector<uint8_t>, std::string>> ks;
    for (const auto& n : names)
        ks.emplace_back(key(n), n);
    std::sort(ks.begin(), ks.end());
    // For each name, the keys starting with its prefix form one run.
    for (const auto& n : names) {
        const auto p = prefix(n);
        int runs = 0;
        bool in = false;
        for (const auto& [k, _] : ks) {
            const bool m = starts_with(k, p);
            if (m && !in) ++runs;
            in = m;
        }
        CAPTURE(n);
        CHECK(runs == 1);
    }
}

TEST_CASE("keys: escaped bytes keep order and prefixes", "[cache][keys]") {
    const auto z = bytes({1, 0, 0}), one = bytes({1, 1, 0}), two = bytes({1, 2, 0});
    const auto zz = bytes({2, 0, 0, 0});
    keys::Key kz, k1, k2, kzz;
    REQUIRE(keys::make_key(z, Kind::rrset, 1, kz));
    REQUIRE(keys::make_key(one, Kind::rrset, 1, k1));
    REQUIRE(keys::make_key(two, Kind::rrset, 1, k2));
    REQUIRE(keys::make_key(zz, Kind::rrset, 1, kzz));
    auto v = [](const keys::Key& k) {
        return std::vector<uint8_t>(k.buf.begin(), k.buf.begin() + static_cast<long>(k.len));
    };
    CHECK(v(kz) < v(kzz));
    CHECK(v(kzz) < v(k1));
    CHECK(v(k1) < v(k2));
}

TEST_CASE("keys: malformed names are refused; long names fit", "[cache][keys]") {
    keys::Key k;
    for (const auto& bad : {bytes({}), bytes({3, 'a', 'b'}), bytes({1, 'a'}), bytes({0xc0, 12}),
                            bytes({64}), bytes({0, 0}), bytes({1, 'a', 0, 1})}) {
        CHECK_FALSE(keys::make_key(bad, Kind::rrset, 1, k));
        CHECK_FALSE(keys::valid_name(bad));
    }
    std::vector<uint8_t> long_name;
    for (int i = 0; i < 4; ++i) {
        long_name.push_back(63);
        long_name.insert(long_name.end(), 63, 'a');
    }
    long_name.push_back(0); // 257 bytes
    CHECK_FALSE(keys::make_key(long_name, Kind::rrset, 1, k));
    // The longest key: 255 bytes of labels full of escaped bytes still fit
    // LMDB's key limit (2 * 250 + 4 terminators + separator + tag = 508).
    std::vector<uint8_t> zeros;
    for (int i = 0; i < 3; ++i) {
        zeros.push_back(63);
        zeros.insert(zeros.end(), 63, 0);
    }
    zeros.push_back(61);
    zeros.insert(zeros.end(), 61, 0);
    zeros.push_back(0);
    REQUIRE(zeros.size() == 255);
    CHECK(keys::valid_name(zeros));
    REQUIRE(keys::make_key(zeros, Kind::rrset, 1, k));
    CHECK(k.len == 508);
}

// The comparator LMDB uses for our keys must give exactly LMDB's default
// order (memcmp over the shorter length, then the shorter first): the
// database is also read by tools and code that compare the default way.
TEST_CASE("lmdb compare_keys orders as memcmp, then length", "[cache][keys]") {
    auto memn = [](const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
        const size_t n = std::min(a.size(), b.size());
        const int d = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n); // empty: data() may be null
        if (d != 0) return d < 0 ? -1 : 1;
        return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
    };
    auto cmp = [](const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
        MDB_val va = lmdb::to_val(a), vb = lmdb::to_val(b);
        const int d = lmdb::compare_keys(&va, &vb);
        return d < 0 ? -1 : d > 0 ? 1 : 0;
    };
    std::mt19937 rng(53);
    // Few distinct bytes (0, 1, 0x7f, 0x80, 0xff) and shared prefixes, so
    // that equal words, differences in every byte position and the sign
    // of a byte all occur.
    const uint8_t alphabet[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    auto random_key = [&] {
        std::vector<uint8_t> k(rng() % 40);
        for (auto& c : k) c = alphabet[rng() % 5];
        return k;
    };
    for (int i = 0; i < 20000; ++i) {
        auto a = random_key();
        auto b = (i % 3 == 0) ? a : random_key();
        if (i % 3 == 0 && !b.empty()) {
            if (rng() % 2) b.resize(rng() % b.size()); // a prefix of a
            else b[rng() % b.size()] = alphabet[rng() % 5];
        }
        INFO("case " << i);
        REQUIRE(cmp(a, b) == memn(a, b));
        REQUIRE(cmp(b, a) == memn(b, a));
    }
    // Real keys: the order of the names' keys is the same either way.
    std::vector<std::vector<uint8_t>> ks;
    for (auto n : {"a.example.", "b.example.", "example.", "A.example.", "ab.example.", "a.b.", "."})
        ks.push_back(key(n));
    for (const auto& a : ks)
        for (const auto& b : ks) REQUIRE(cmp(a, b) == memn(a, b));
}
