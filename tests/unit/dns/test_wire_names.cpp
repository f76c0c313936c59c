// Unit tests for the name helpers of src/dns/wire.
#include "catch.hpp"
#include "dns/wire.hpp"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using namespace kresd::dns;

namespace {

Name text_name(std::string_view text)
{
    Name n;
    REQUIRE(name_from_text(text, n));
    return n;
}

std::vector<uint8_t> wire_of(std::string_view text)
{
    const Name n = text_name(text);
    return {n.wire.begin(), n.wire.begin() + n.len};
}

// A name of `labels` labels of `len` letters, as text without the final dot.
std::string repeat_labels(int labels, size_t len)
{
    std::string s;
    for (int i = 0; i < labels; ++i) {
        if (i != 0)
            s += '.';
        s += std::string(len, static_cast<char>('a' + i));
    }
    return s;
}

} // namespace

TEST_CASE("name_from_text: accepted forms", "[dns][wire][name]")
{
    CHECK(wire_of("example.com") ==
          std::vector<uint8_t>{7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0});
    CHECK(wire_of("example.com.") == wire_of("example.com"));
    CHECK(wire_of(".") == std::vector<uint8_t>{0});
    CHECK(wire_of("a") == std::vector<uint8_t>{1, 'a', 0});
    CHECK(wire_of("MiXed.Case") == std::vector<uint8_t>{5, 'M', 'i', 'X', 'e', 'd', 4, 'C', 'a',
                                                         's', 'e', 0});
}

TEST_CASE("name_from_text: rejected forms", "[dns][wire][name]")
{
    Name n = text_name("keep.me");
    for (std::string_view bad : {"", "..", "a..b", ".a", "a..", "..a", "a.b.."}) {
        CAPTURE(bad);
        CHECK_FALSE(name_from_text(bad, n));
    }
    // A failed call leaves the output alone.
    CHECK(name_to_text(n.view()) == "keep.me.");
}

TEST_CASE("name_from_text: label and name length limits", "[dns][wire][name]")
{
    Name n;
    CHECK(name_from_text(std::string(63, 'x'), n));
    CHECK(n.len == 65);
    CHECK_FALSE(name_from_text(std::string(64, 'x'), n));
    CHECK_FALSE(name_from_text(std::string(64, 'x') + ".com", n));

    // 3 labels of 63 plus one of 61: 3*64 + 62 + 1 = 255 bytes.
    const std::string max = repeat_labels(3, 63) + "." + std::string(61, 'z');
    REQUIRE(name_from_text(max, n));
    CHECK(n.len == 255);
    CHECK(name_from_text(max + ".", n));
    CHECK(n.len == 255);
    // One byte more is 256.
    CHECK_FALSE(name_from_text(repeat_labels(3, 63) + "." + std::string(62, 'z'), n));
    CHECK_FALSE(name_from_text(max + ".a", n));
    // Many short labels: 127 one-letter labels = 254 + 1 = 255 bytes.
    std::string shorts;
    for (int i = 0; i < 127; ++i)
        shorts += "a.";
    CHECK(name_from_text(shorts, n));
    CHECK(n.len == 255);
    CHECK_FALSE(name_from_text(shorts + "a", n));
}

TEST_CASE("name_to_text", "[dns][wire][name]")
{
    CHECK(name_to_text(wire_of(".")) == ".");
    CHECK(name_to_text({}) == ".");
    CHECK(name_to_text(wire_of("Example.COM")) == "Example.COM.");
    // Round trip through text.
    const std::string long_text = repeat_labels(3, 63) + "." + std::string(61, 'z') + ".";
    CHECK(name_to_text(wire_of(long_text)) == long_text);
    // Special bytes are escaped (RFC 1035 5.1).
    const std::vector<uint8_t> odd = {4, 'a', '.', '\\', ' ', 2, 0x00, 0xFF, 0};
    CHECK(name_to_text(odd) == "a\\.\\\\\\032.\\000\\255.");
    // A malformed tail is cut, never read past.
    const std::vector<uint8_t> cut = {3, 'c', 'o', 'm', 5, 'x'};
    CHECK(name_to_text(cut) == "com.");
    const std::vector<uint8_t> ptr = {3, 'c', 'o', 'm', 0xC0, 0x0C};
    CHECK(name_to_text(ptr) == "com.");
}

TEST_CASE("name_lower", "[dns][wire][name]")
{
    Name n = text_name("WwW.ExAmPlE.CoM");
    name_lower(n);
    CHECK(name_to_text(n.view()) == "www.example.com.");
    // Non-letters and length bytes are untouched.
    Name m = text_name(std::string(63, 'Z') + ".A-1_@[`{");
    name_lower(m);
    CHECK(m.wire[0] == 63);
    CHECK(m.wire[1] == 'z');
    CHECK(name_to_text(m.view()) == std::string(63, 'z') + ".a-1_@[`{.");
}

// Lower-casing goes 8 bytes a step: every byte value at every position of
// a word, and names of every length, against the byte-wise rule.
TEST_CASE("name_lower and parse_query lower every byte value alike", "[dns][wire][name]")
{
    std::mt19937 rng(1035);
    auto expect = [](uint8_t c) { return c >= 'A' && c <= 'Z' ? uint8_t(c + 32) : c; };
    for (int round = 0; round < 2000; ++round) {
        Name n;
        size_t len = 0;
        const size_t target = 1 + rng() % 254;
        while (len + 2 <= target) {
            const size_t l = std::min<size_t>({63, target - len - 1, 1 + rng() % 63});
            if (len + 1 + l + 1 > 255)
                break;
            n.wire[len++] = static_cast<uint8_t>(l);
            for (size_t i = 0; i < l; ++i) // all 256 values, biased to the letters' edges
                n.wire[len++] = static_cast<uint8_t>(
                    rng() % 2 ? rng() % 256 : "@AZ[`az{\x80\xc1\xda\xe1\xfa"[rng() % 13]);
        }
        n.wire[len++] = 0;
        n.len = static_cast<uint8_t>(len);
        Name lowered = n;
        name_lower(lowered);
        for (size_t i = 0; i < len; ++i) {
            INFO("round " << round << " byte " << i);
            REQUIRE(lowered.wire[i] == expect(n.wire[i]));
        }
        // The same name as the question of a query.
        std::vector<uint8_t> pkt = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
        pkt.insert(pkt.end(), n.wire.begin(), n.wire.begin() + len);
        pkt.insert(pkt.end(), {0, 1, 0, 1});
        Query q;
        REQUIRE(parse_query(pkt, q) == ParseStatus::ok);
        REQUIRE(q.qname.len == len);
        REQUIRE(std::equal(q.qname.wire.begin(), q.qname.wire.begin() + len, n.wire.begin()));
        REQUIRE(q.qname_lower.len == len);
        REQUIRE(std::equal(q.qname_lower.wire.begin(), q.qname_lower.wire.begin() + len,
                           lowered.wire.begin()));
    }
}

TEST_CASE("name_in_zone", "[dns][wire][name]")
{
    const auto in = [](std::string_view name, std::string_view zone) {
        return name_in_zone(wire_of(name), wire_of(zone));
    };
    CHECK(in("localhost.", "localhost."));
    CHECK(in("foo.localhost.", "localhost."));
    CHECK(in("a.b.foo.localhost", "localhost"));
    CHECK(in("FOO.LocalHost.", "localhost."));
    CHECK(in("foo.localhost.", "LOCALHOST."));
    CHECK_FALSE(in("xlocalhost.", "localhost."));
    CHECK_FALSE(in("localhost.", "foo.localhost."));
    CHECK_FALSE(in("localhost.com.", "localhost."));
    CHECK_FALSE(in("example.com.", "example.net."));
    // Label-wise: "b.c" is not a zone containing "ab.c".
    CHECK_FALSE(in("ab.c.", "b.c."));
    // The root contains everything.
    CHECK(in(".", "."));
    CHECK(in("com.", "."));
    CHECK(in("a.b.c.d.", "."));
    CHECK_FALSE(in(".", "com."));
    // Malformed wire is never "in".
    const std::vector<uint8_t> root = {0};
    const std::vector<uint8_t> bad = {3, 'c', 'o'};
    CHECK_FALSE(name_in_zone(bad, root));
    CHECK_FALSE(name_in_zone(root, bad));
    CHECK_FALSE(name_in_zone({}, root));
}

TEST_CASE("name_labels", "[dns][wire][name]")
{
    CHECK(name_labels(wire_of(".")) == 0);
    CHECK(name_labels(wire_of("com")) == 1);
    CHECK(name_labels(wire_of("www.example.com.")) == 3);
    CHECK(name_labels(std::vector<uint8_t>{}) == -1);
    CHECK(name_labels(std::vector<uint8_t>{3, 'c', 'o', 'm'}) == -1);
    CHECK(name_labels(std::vector<uint8_t>{1, 'a', 0, 0}) == -1);   // bytes after the root
    CHECK(name_labels(std::vector<uint8_t>{64, 'a', 0}) == -1);     // label type 01
    CHECK(name_labels(std::vector<uint8_t>{0xC0, 0x0C}) == -1);     // compressed
}
