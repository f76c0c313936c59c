// resolve/hints: the local names' reverse map and reverse-name parsing.
#include <netinet/in.h>

#include <string>
#include <vector>

#include "catch.hpp"
#include "dns/wire.hpp"
#include "resolve/hints.hpp"

using namespace kresd;
using resolve::reverse_address;

namespace {

std::vector<uint8_t> wire(const std::string& text) {
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    return {n.wire.begin(), n.wire.begin() + n.len};
}

std::optional<std::vector<uint8_t>> rev(const std::string& text) {
    return reverse_address(wire(text));
}

} // namespace

TEST_CASE("hints: reverse names map to address bytes", "[resolve][hints]") {
    CHECK(rev("20.114.0.203.in-addr.arpa") == std::vector<uint8_t>{203, 0, 114, 20});
    CHECK(rev("0.0.0.0.in-addr.arpa") == std::vector<uint8_t>{0, 0, 0, 0});
    CHECK(rev("255.255.255.255.in-addr.arpa") == std::vector<uint8_t>(4, 255));
    const auto v6 = rev("0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.b.d.0.1.0.0.2.ip6.arpa");
    REQUIRE(v6);
    CHECK(*v6 ==
          std::vector<uint8_t>{0x20, 0x01, 0x0d, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x30});
    // Not an address: too few or too many labels, bad digits, other zones.
    for (const char* bad :
         {"114.0.203.in-addr.arpa", "1.20.114.0.203.in-addr.arpa", "256.0.0.1.in-addr.arpa",
          "01.0.0.1.in-addr.arpa", "a.0.0.1.in-addr.arpa", "20.114.0.203.in-addr.example",
          "in-addr.arpa", "arpa", "www.example.com",
          "0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.b.d.0.1.0.0.2.ip6.arpa",
          "g.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.b.d.0.1.0.0.2.ip6.arpa",
          "00.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.b.d.0.1.0.0.2.ip6.arpa"})
        CHECK_FALSE(rev(bad));
    CHECK_FALSE(reverse_address(std::vector<uint8_t>{3, 'a', 'b'})); // malformed wire
}

TEST_CASE("hints: the reverse name points at the name last given the address", "[resolve][hints]") {
    resolve::LocalHints h;
    CHECK(h.empty());
    auto a = resolve::parse_address("203.0.113.20");
    auto b = resolve::parse_address("2001:db8::30");
    REQUIRE(a);
    REQUIRE(b);
    h.add(wire("printer.lan"), *a);
    h.add(wire("nas.lan"), *a);
    h.add(wire("nas.lan"), *b);
    CHECK_FALSE(h.empty());
    CHECK(h.names.at(wire("nas.lan")).size() == 2);
    CHECK(h.names.at(wire("printer.lan")).size() == 1);
    CHECK(h.reverse.at(std::vector<uint8_t>{203, 0, 113, 20}) == wire("nas.lan"));
    const auto rb = rev("0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    REQUIRE(rb);
    CHECK(h.reverse.at(*rb) == wire("nas.lan"));
}
