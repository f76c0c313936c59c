// The special-use names as Knot Resolver 5.6's policy.special_names answers
// them, and their place among the policy rules and the hints, through the
// Worker (no resolver: what would be resolved is answered REFUSED here).
// The expected bytes were captured from Debian's kresd 5.6 on loopback
// (query ID 0x1234, RD, EDNS buffer 1232).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <string>
#include <vector>

#include "app/worker.hpp"
#include "catch.hpp"
#include "modules/module.hpp"
#include "policy/policy.hpp"
#include "policy/special_names.hpp"
#include "resolve/resolve.hpp"

using namespace kresd;

namespace {

std::string hex(std::span<const uint8_t> b)
{
    std::string s;
    char t[3];
    for (uint8_t c : b) {
        std::snprintf(t, sizeof t, "%02x", c);
        s += t;
    }
    return s;
}

std::vector<uint8_t> query(const char* text_name, uint16_t qtype = dns::type::A,
                           uint16_t qclass = dns::klass::IN, bool rd = true)
{
    dns::Name n;
    REQUIRE(dns::name_from_text(text_name, n));
    std::vector<uint8_t> w = {0x12, 0x34, uint8_t(rd ? 0x01 : 0x00), 0, 0, 1, 0, 0, 0, 0, 0, 1};
    w.insert(w.end(), n.wire.begin(), n.wire.begin() + n.len);
    w.insert(w.end(), {uint8_t(qtype >> 8), uint8_t(qtype), uint8_t(qclass >> 8), uint8_t(qclass)});
    w.insert(w.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0});
    return w;
}

dns::Name name(const char* text)
{
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    dns::name_lower(n);
    return n;
}

policy::Rule suffix_rule(const char* suffix, policy::ActionKind kind)
{
    policy::Rule r;
    r.filter = policy::FilterKind::suffix;
    r.names.push_back(name(suffix));
    r.action.kind = kind;
    return r;
}

struct Fixture {
    modules::Registry mods;
    policy::Policy pol;
    resolve::LocalHints hints;
    app::Worker worker{mods, pol, hints};
    sockaddr_in peer{};

    Fixture()
    {
        worker.set_edns_size(1232);
        peer.sin_family = AF_INET;
        peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    void hint(const char* host, const char* address)
    {
        auto a = resolve::parse_address(address);
        REQUIRE(a);
        hints.add(name(host).view(), *a);
    }
    std::vector<uint8_t> ask(const std::vector<uint8_t>& q)
    {
        net::ClientInfo client{reinterpret_cast<sockaddr*>(&peer), nullptr, net::Transport::udp,
                               {}};
        std::vector<uint8_t> out(1232);
        const size_t n = worker.answer(q, client, out);
        REQUIRE(n >= 12);
        REQUIRE(n != net::kDeferred);
        out.resize(n);
        return out;
    }
    std::string ask_hex(const char* n, uint16_t qtype) { return hex(ask(query(n, qtype))); }
};

int rcode(const std::vector<uint8_t>& a) { return a[3] & 0x0f; }
bool aa(const std::vector<uint8_t>& a) { return (a[2] & 0x04) != 0; }
int ancount(const std::vector<uint8_t>& a) { return a[6] << 8 | a[7]; }
// The EDE code of an answer whose last option is an EDE with text "CR36"
// or "ABC4" (-1 without one).
int ede_code(const std::vector<uint8_t>& a)
{
    if (a.size() < 10) return -1;
    const size_t at = a.size() - 10;
    if (a[at] != 0 || a[at + 1] != 15 || a[at + 2] != 0 || a[at + 3] != 6) return -1;
    return a[at + 4] << 8 | a[at + 5];
}

const char* const kV6Loopback =
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.";

struct Case {
    const char* name;
    uint16_t qtype;
    const char* kr56;
    // Where ours differs from 5.6: 5.6 writes the SOA owner as a pointer
    // into the question (a suffix of it); ours writes that name in full, in
    // the question's spelling. (from, to): that replacement in 5.6's bytes.
    const char* from;
    const char* to;
};

const Case kCases[] = {
    {"test.", 1,
     "12348583000100000001000204746573740000010001c00c0006000100002a300026c00c066e6f626f647907"
     "696e76616c6964000000000100000e10000004b000093a8000002a300b6578706c616e6174696f6e07696e76"
     "616c6964000010000100002a30008e8d426c6f636b696e67206973206d616e6461746564206279207374616e"
     "64617264732c20736565207265666572656e636573206f6e2068747470733a2f2f7777772e69616e612e6f72"
     "672f61737369676e6d656e74732f7370656369616c2d7573652d646f6d61696e2d6e616d65732f7370656369"
     "616c2d7573652d646f6d61696e2d6e616d65732e7868746d6c00002904d000000000000a000f000600154352"
     "3336",
     nullptr, nullptr},
    {"x.test.", 1,
     "123485830001000000010002017804746573740000010001c00c0006000100002a300026c00c066e6f626f64"
     "7907696e76616c6964000000000100000e10000004b000093a8000002a300b6578706c616e6174696f6e0769"
     "6e76616c6964000010000100002a30008e8d426c6f636b696e67206973206d616e6461746564206279207374"
     "616e64617264732c20736565207265666572656e636573206f6e2068747470733a2f2f7777772e69616e612e"
     "6f72672f61737369676e6d656e74732f7370656369616c2d7573652d646f6d61696e2d6e616d65732f737065"
     "6369616c2d7573652d646f6d61696e2d6e616d65732e7868746d6c00002904d000000000000a000f00060015"
     "43523336",
     nullptr, nullptr},
    {"1.2.0.192.in-addr.arpa.", 12,
     "1234858300010000000100020131013201300331393207696e2d61646472046172706100000c0001c00c0006"
     "000100002a300026c00c066e6f626f647907696e76616c6964000000000100000e10000004b000093a800000"
     "2a300b6578706c616e6174696f6e07696e76616c6964000010000100002a30008e8d426c6f636b696e672069"
     "73206d616e6461746564206279207374616e64617264732c20736565207265666572656e636573206f6e2068"
     "747470733a2f2f7777772e69616e612e6f72672f61737369676e6d656e74732f6c6f63616c6c792d73657276"
     "65642d646e732d7a6f6e65732f6c6f63616c6c792d7365727665642d646e732d7a6f6e65732e7868746d6c00"
     "002904d000000000000a000f0006001543523336",
     nullptr, nullptr},
    {"home.arpa.", 6,
     "12348583000100000001000204686f6d6504617270610000060001c00c0006000100002a300026c00c066e6f"
     "626f647907696e76616c6964000000000100000e10000004b000093a8000002a300b6578706c616e6174696f"
     "6e07696e76616c6964000010000100002a30008e8d426c6f636b696e67206973206d616e6461746564206279"
     "207374616e64617264732c20736565207265666572656e636573206f6e2068747470733a2f2f7777772e6961"
     "6e612e6f72672f61737369676e6d656e74732f6c6f63616c6c792d7365727665642d646e732d7a6f6e65732f"
     "6c6f63616c6c792d7365727665642d646e732d7a6f6e65732e7868746d6c00002904d000000000000a000f00"
     "06001543523336",
     nullptr, nullptr},
    {"localhost.", 2,
     "123485800001000100000001096c6f63616c686f73740000020001c00c00020001000003840002c00c000029"
     "04d0000000000000",
     nullptr, nullptr},
    {"localhost.", 6,
     "123485800001000100000001096c6f63616c686f73740000060001c00c0006000100002a300026c00c066e6f"
     "626f647907696e76616c6964000000000100000e10000004b000093a8000002a3000002904d0000000000000",
     nullptr, nullptr},
    {"localhost.", 1,
     "123485800001000100000001096c6f63616c686f73740000010001c00c000100010000038400047f00000100"
     "002904d0000000000000",
     nullptr, nullptr},
    {"x.localhost.", 15,
     "1234858000010000000100010178096c6f63616c686f737400000f0001c00e0006000100002a300026c00e06"
     "6e6f626f647907696e76616c6964000000000100000e10000004b000093a8000002a3000002904d000000000"
     "0000",
     "0001c00e0006",
     "0001096c6f63616c686f7374000006"},
    {"localhost.", 28,
     "123485800001000100000001096c6f63616c686f737400001c0001c00c001c00010000038400100000000000"
     "000000000000000000000100002904d0000000000000",
     nullptr, nullptr},
    {"LocalHost.", 2,
     "123485800001000100000001094c6f63616c486f73740000020001c00c00020001000003840002c00c000029"
     "04d0000000000000",
     nullptr, nullptr},
    {"Foo.LocalHost.", 15,
     "12348580000100000001000103466f6f094c6f63616c486f737400000f0001c0100006000100002a300026c0"
     "10066e6f626f647907696e76616c6964000000000100000e10000004b000093a8000002a3000002904d00000"
     "00000000",
     "0001c0100006",
     "0001094c6f63616c486f7374000006"},
    {"127.in-addr.arpa.", 2,
     "1234858000010001000000010331323707696e2d6164647204617270610000020001c00c0002000100000384"
     "000b096c6f63616c686f73740000002904d0000000000000",
     nullptr, nullptr},
    {"1.0.0.127.in-addr.arpa.", 12,
     "1234858000010001000000010131013001300331323707696e2d61646472046172706100000c0001c00c000c"
     "000100000384000b096c6f63616c686f73740000002904d0000000000000",
     nullptr, nullptr},
    {"0.0.127.in-addr.arpa.", 12,
     "123485800001000000010001013001300331323707696e2d61646472046172706100000c0001c01000060001"
     "00002a30002f096c6f63616c686f737400066e6f626f647907696e76616c6964000000000100000e10000004"
     "b000093a8000002a3000002904d0000000000000",
     "0001c0100006",
     "00010331323707696e2d616464720461727061000006"},
    {"1.0.0.127.in-addr.arpa.", 1,
     "1234858300010000000100010131013001300331323707696e2d6164647204617270610000010001c0120006"
     "000100002a30002f096c6f63616c686f737400066e6f626f647907696e76616c6964000000000100000e1000"
     "0004b000093a8000002a3000002904d0000000000000",
     "0001c0120006",
     "00010331323707696e2d616464720461727061000006"},
    {"2.0.0.127.in-addr.arpa.", 12,
     "1234858300010000000100010132013001300331323707696e2d61646472046172706100000c0001c0120006"
     "000100002a30002f096c6f63616c686f737400066e6f626f647907696e76616c6964000000000100000e1000"
     "0004b000093a8000002a3000002904d0000000000000",
     "0001c0120006",
     "00010331323707696e2d616464720461727061000006"},
    {kV6Loopback, 12,
     "1234858000010001000000010131013001300130013001300130013001300130013001300130013001300130"
     "013001300130013001300130013001300130013001300130013001300130013003697036046172706100000c"
     "0001c00c000c000100000384000b096c6f63616c686f73740000002904d0000000000000",
     nullptr, nullptr},
    {kV6Loopback, 6,
     "1234858000010001000000010131013001300130013001300130013001300130013001300130013001300130"
     "0130013001300130013001300130013001300130013001300130013001300130036970360461727061000006"
     "00010331323707696e2d61646472c0500006000100002a30002f096c6f63616c686f737400066e6f626f6479"
     "07696e76616c6964000000000100000e10000004b000093a8000002a3000002904d0000000000000",
     "0331323707696e2d61646472c050",
     "0331323707696e2d61646472046172706100"},
};

} // namespace

TEST_CASE("special names: 5.6's answers byte for byte", "[policy][special]")
{
    Fixture f;
    for (const Case& c : kCases) {
        INFO(c.name << " type " << c.qtype);
        std::string want = c.kr56;
        if (c.from) {
            const size_t at = want.find(c.from);
            REQUIRE(at != std::string::npos);
            want.replace(at, std::string(c.from).size(), c.to);
        }
        CHECK(f.ask_hex(c.name, c.qtype) == want);
    }
}

TEST_CASE("special names: the zones 5.6 blocks, apex included", "[policy][special]")
{
    Fixture f;
    for (const char* n :
         {"test.", "x.test.", "invalid.", "onion.", "a.onion.", "local.", "printer.local.",
          "home.arpa.", "x.home.arpa.", "10.in-addr.arpa.", "1.0.31.172.in-addr.arpa.",
          "16.172.in-addr.arpa.", "0.in-addr.arpa.", "1.254.169.in-addr.arpa.",
          "255.255.255.255.in-addr.arpa.", "64.100.in-addr.arpa.", "1.127.100.in-addr.arpa.",
          "2.0.192.in-addr.arpa.", "1.100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa.",
          "8.b.d.0.1.0.0.2.ip6.arpa.", "x.d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "b.e.f.ip6.arpa.",
          "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa."}) {
        for (uint16_t t : {dns::type::A, dns::type::SOA, dns::type::PTR}) {
            INFO(n << " type " << t);
            const auto a = f.ask(query(n, t));
            CHECK(rcode(a) == dns::rcode::NXDOMAIN);
            CHECK(aa(a));
            CHECK(ede_code(a) == 21);
        }
    }
    // Just outside: resolved (REFUSED without a resolver).
    for (const char* n : {"15.172.in-addr.arpa.", "32.172.in-addr.arpa.", "63.100.in-addr.arpa.",
                          "128.100.in-addr.arpa.", "3.0.192.in-addr.arpa.", "in-addr.arpa.",
                          "arpa.", "c.e.f.ip6.arpa.", "test.example.", "localhost.example.",
                          "locals.", "xlocal."}) {
        INFO(n);
        CHECK(rcode(f.ask(query(n, dns::type::PTR))) == dns::rcode::REFUSED);
    }
}

TEST_CASE("special names: policy rules come first", "[policy][special]")
{
    Fixture f;
    f.pol.add(suffix_rule("blocked.localhost.", policy::ActionKind::deny));
    f.pol.add(suffix_rule("pass.test.", policy::ActionKind::pass));
    policy::Rule fwd = suffix_rule("2.0.192.in-addr.arpa.", policy::ActionKind::forward);
    auto target = resolve::parse_address("127.0.0.1@5300");
    REQUIRE(target);
    fwd.action.targets = {*target};
    f.pol.add(fwd);
    policy::Rule stub = fwd;
    stub.names = {name("lan.local.")};
    stub.action.kind = policy::ActionKind::stub;
    f.pol.add(stub);
    policy::Rule flags = suffix_rule("flags.invalid.", policy::ActionKind::flags);
    flags.action.set_flags = {"NO_CACHE"};
    f.pol.add(flags);
    f.pol.add(suffix_rule("tc.onion.", policy::ActionKind::tc));

    // DENY beats the localhost answer: NXDOMAIN, EDE 15 (Blocked).
    auto a = f.ask(query("x.blocked.localhost."));
    CHECK(rcode(a) == dns::rcode::NXDOMAIN);
    CHECK(ede_code(a) == 15);
    CHECK(ancount(f.ask(query("other.localhost."))) == 1);
    // PASS, FORWARD and STUB: resolved, not blocked.
    CHECK(rcode(f.ask(query("www.pass.test."))) == dns::rcode::REFUSED);
    CHECK(rcode(f.ask(query("1.2.0.192.in-addr.arpa.", dns::type::PTR))) == dns::rcode::REFUSED);
    CHECK(rcode(f.ask(query("nas.lan.local."))) == dns::rcode::REFUSED);
    CHECK(ede_code(f.ask(query("other.test."))) == 21);
    CHECK(ede_code(f.ask(query("other.local."))) == 21);
    // A chain action (FLAGS) decides nothing: still blocked.
    CHECK(ede_code(f.ask(query("flags.invalid."))) == 21);
    // TC: truncated over UDP (decided before the special names).
    a = f.ask(query("tc.onion."));
    CHECK((a[2] & 0x02) != 0);
    CHECK(rcode(a) == dns::rcode::NOERROR);
}

TEST_CASE("special names: the hints come after them and after policy", "[policy][special]")
{
    Fixture f;
    f.hint("hinted.example.", "198.18.0.2");
    f.hint("denied.example.", "198.18.0.3");
    f.hint("privhost.example.", "192.168.5.5");
    f.hint("localhost.", "10.9.9.9");
    f.pol.add(suffix_rule("denied.example.", policy::ActionKind::deny));
    f.pol.add(suffix_rule("passed.example.", policy::ActionKind::pass));
    f.hint("passed.example.", "198.18.0.4");

    CHECK(ancount(f.ask(query("hinted.example."))) == 1);
    auto a = f.ask(query("denied.example."));
    CHECK(rcode(a) == dns::rcode::NXDOMAIN);
    CHECK(ede_code(a) == 15);
    // PASS is final for the rules, the hints still answer.
    CHECK(ancount(f.ask(query("passed.example."))) == 1);
    // The hinted address's reverse name is in a blocked zone.
    CHECK(ancount(f.ask(query("privhost.example."))) == 1);
    a = f.ask(query("5.5.168.192.in-addr.arpa.", dns::type::PTR));
    CHECK(rcode(a) == dns::rcode::NXDOMAIN);
    CHECK(ede_code(a) == 21);
    CHECK(ancount(f.ask(query("2.0.18.198.in-addr.arpa.", dns::type::PTR))) == 1);
    // A name under arpa. is a reverse name only (5.6's hints): its address
    // gets the PTR, the name itself is resolved.
    f.hint("foo.example.arpa.", "198.18.0.31");
    CHECK(rcode(f.ask(query("foo.example.arpa."))) == dns::rcode::REFUSED);
    CHECK(rcode(f.ask(query("foo.example.arpa.", dns::type::MX))) == dns::rcode::REFUSED);
    CHECK(ancount(f.ask(query("31.0.18.198.in-addr.arpa.", dns::type::PTR))) == 1);
    // localhost. is answered before a hint for it.
    a = f.ask(query("localhost."));
    REQUIRE(ancount(a) == 1);
    CHECK(hex(a).find("7f000001") != std::string::npos);
}

TEST_CASE("special names: other classes and meta types are SERVFAIL first", "[policy][special]")
{
    Fixture f;
    f.hint("hinted.example.", "198.18.0.2");
    f.pol.add(suffix_rule("blocked.localhost.", policy::ActionKind::deny));
    for (const char* n : {"hinted.example.", "localhost.", "blocked.localhost.", "x.test.",
                          "1.0.0.127.in-addr.arpa.", "example.com."}) {
        for (uint16_t t : {uint16_t{24}, dns::type::OPT, uint16_t{249}, uint16_t{250},
                           dns::type::IXFR, dns::type::AXFR, dns::type::ANY}) {
            INFO(n << " type " << t);
            const auto a = f.ask(query(n, t));
            CHECK(rcode(a) == dns::rcode::SERVFAIL);
            CHECK_FALSE(aa(a));
            CHECK(ancount(a) == 0);
            CHECK(ede_code(a) == -1);
        }
        for (uint16_t c :
             {dns::klass::CH, uint16_t{2}, uint16_t{4}, uint16_t{254}, dns::klass::ANY}) {
            INFO(n << " class " << c);
            CHECK(rcode(f.ask(query(n, dns::type::A, c))) == dns::rcode::SERVFAIL);
        }
    }
    // Not meta types: answered as usual.
    CHECK(ancount(f.ask(query("localhost.", dns::type::A))) == 1);
    CHECK(rcode(f.ask(query("localhost.", 254))) == dns::rcode::NOERROR); // MAILA: NODATA
    CHECK(rcode(f.ask(query("x.test.", dns::type::RRSIG))) == dns::rcode::NXDOMAIN);
}

TEST_CASE("special names: answer_special only for class IN", "[policy][special]")
{
    dns::Query q;
    const auto w = query("localhost.", dns::type::A, dns::klass::CH);
    REQUIRE(dns::parse_query(w, q) == dns::ParseStatus::ok);
    std::vector<uint8_t> buf(512);
    dns::ResponseBuilder b(buf, buf.size());
    REQUIRE(b.begin(q, dns::rcode::NOERROR));
    CHECK(policy::maybe_special(q));
    CHECK_FALSE(policy::answer_special(q, b));
}
