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
    const std::vector<uint8_t> ra{203, 0, 113, 20};
    REQUIRE(h.ptr_target(ra) != nullptr);
    CHECK(*h.ptr_target(ra) == wire("nas.lan"));
    const auto rb = rev("0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    REQUIRE(rb);
    REQUIRE(h.ptr_target(*rb) != nullptr);
    CHECK(*h.ptr_target(*rb) == wire("nas.lan"));
    CHECK(h.ptr_target(std::vector<uint8_t>{203, 0, 113, 21}) == nullptr);
}

TEST_CASE("hints: names in any case, no duplicates, removal", "[resolve][hints]") {
    resolve::LocalHints h;
    auto a = resolve::parse_address("203.0.113.20");
    auto a2 = resolve::parse_address("203.0.113.20@5353"); // the same IP
    auto b = resolve::parse_address("203.0.113.21");
    REQUIRE((a && a2 && b));
    const std::vector<uint8_t> ra{203, 0, 113, 20}, rb{203, 0, 113, 21};
    h.add(wire("NAS.Lan"), *a);
    h.add(wire("nas.lan"), *a2); // already there
    h.add(wire("nas.lan"), *b);
    h.add(wire("printer.lan"), *a);
    REQUIRE(h.names.count(wire("nas.lan")) == 1);
    CHECK(h.names.count(wire("NAS.Lan")) == 0); // stored lower-cased
    CHECK(h.names.at(wire("nas.lan")).size() == 2);
    CHECK(*h.ptr_target(ra) == wire("printer.lan"));
    // Removing the last name of an address gives the PTR back to the one before.
    CHECK(h.remove(wire("Printer.LAN"), nullptr) == 1);
    CHECK(h.names.count(wire("printer.lan")) == 0);
    REQUIRE(h.ptr_target(ra) != nullptr);
    CHECK(*h.ptr_target(ra) == wire("nas.lan"));
    // One address of a name, then the rest.
    CHECK(h.remove(wire("nas.lan"), &*a2) == 1);
    CHECK(h.ptr_target(ra) == nullptr);
    CHECK(h.names.at(wire("nas.lan")).size() == 1);
    CHECK(h.remove(wire("nas.lan"), &*a) == 0); // not there any more
    CHECK(h.remove(wire("other.lan"), nullptr) == 0);
    CHECK(h.remove(wire("nas.lan"), nullptr) == 1);
    CHECK(h.ptr_target(rb) == nullptr);
    CHECK(h.empty());
    CHECK(h.reverse.empty());
    h.add(wire("alias.lan"), *b, false); // forward only
    CHECK(h.names.count(wire("alias.lan")) == 1);
    CHECK(h.ptr_target(rb) == nullptr);
    h.add(wire("x.lan"), *b);
    REQUIRE(h.ptr_target(rb) != nullptr);
    CHECK(*h.ptr_target(rb) == wire("x.lan"));
    h.ttl = 60;
    h.use_nodata = false;
    h.clear();
    CHECK(h.empty());
    CHECK(h.ptr_target(rb) == nullptr);
    CHECK(h.ttl == 60); // settings stay
    CHECK_FALSE(h.use_nodata);
}

TEST_CASE("hints: hosts file lines", "[resolve][hints]") {
    using K = resolve::HostsLine::Kind;
    auto e = resolve::parse_hosts_line("  192.0.2.10\talpha.lan  Alias.LAN. # a comment");
    REQUIRE(e.kind == K::entry);
    CHECK(resolve::address_to_string(e.address) == "192.0.2.10@53");
    REQUIRE(e.names.size() == 2);
    CHECK(e.names[0] == wire("alpha.lan"));
    CHECK(e.names[1] == wire("Alias.LAN")); // as written: add() lower-cases
    auto v6 = resolve::parse_hosts_line("2001:db8::10 alpha.lan\r");
    REQUIRE(v6.kind == K::entry);
    CHECK(v6.names.size() == 1);
    for (const char* blank : {"", "   ", "# only a comment", "\t# indented comment", "\r"})
        CHECK(resolve::parse_hosts_line(blank).kind == K::blank);
    CHECK(resolve::parse_hosts_line("192.0.2.10").kind == K::no_name);
    CHECK(resolve::parse_hosts_line("192.0.2.10 # name commented out").kind == K::no_name);
    auto bad = resolve::parse_hosts_line("not-an-address alpha.lan");
    CHECK(bad.kind == K::bad_address);
    CHECK(bad.bad == "not-an-address");
    CHECK(resolve::parse_hosts_line("192.0.2.10@53 alpha.lan").kind == K::bad_address);
    CHECK(resolve::parse_hosts_line("192.0.2.300 alpha.lan").kind == K::bad_address);
    const std::string long_label(64, 'a');
    auto badname = resolve::parse_hosts_line("192.0.2.10 ok.lan " + long_label + ".lan");
    CHECK(badname.kind == K::bad_name);
    CHECK(badname.bad == long_label + ".lan");
    CHECK(resolve::parse_hosts_line("192.0.2.10 a..lan").kind == K::bad_name);
}
