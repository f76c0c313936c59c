// The answers of policy.DENY, DENY_MSG, DROP, REFUSE and NO_ANSWER, byte for
// byte as Knot Resolver 5.6 sends them (captured from Debian's kresd 5.6 on
// loopback with dnspython queries, ID 0x1234, EDNS buffer 1232).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "app/worker.hpp"
#include "catch.hpp"
#include "modules/module.hpp"
#include "policy/policy.hpp"
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

// A query as dnspython's make_query() writes it: ID 0x1234, RD, one
// question (type A, class IN), and with `edns` an OPT (buffer 1232).
std::vector<uint8_t> query(const char* text_name, bool edns = true, bool do_ad_cd = false)
{
    dns::Name n;
    REQUIRE(dns::name_from_text(text_name, n));
    std::vector<uint8_t> w = {0x12, 0x34, 0x01, uint8_t(do_ad_cd ? 0x30 : 0x00), 0, 1, 0, 0, 0, 0,
                              0, uint8_t(edns ? 1 : 0)};
    w.insert(w.end(), n.wire.begin(), n.wire.begin() + n.len);
    w.insert(w.end(), {0, 1, 0, 1});
    if (edns)
        w.insert(w.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, uint8_t(do_ad_cd ? 0x80 : 0), 0, 0, 0});
    return w;
}

policy::Action action(policy::ActionKind k, std::string msg = {}, uint16_t ede = 15)
{
    policy::Action a;
    a.kind = k;
    a.message = std::move(msg);
    a.ede = ede;
    return a;
}

// The answer write_answer() gives, as the worker builds it.
std::string answer(const policy::Action& a, const std::vector<uint8_t>& qwire)
{
    dns::Query q;
    REQUIRE(dns::parse_query(qwire, q) == dns::ParseStatus::ok);
    std::vector<uint8_t> buf(1232);
    dns::ResponseBuilder b(buf, buf.size());
    REQUIRE(b.begin(q, dns::rcode::NOERROR, 70));
    REQUIRE(policy::write_answer(a.kind, &a, q, b));
    const size_t n = b.finish(1232);
    return hex({buf.data(), n});
}

// Knot Resolver 5.6's answers.
const char* const kDenyMixedCase =
    "12348583000100000001000101580444656e79074578616d706c650000010001c00c0006000100002a300026c00c"
    "066e6f626f647907696e76616c6964000000000100000e10000004b000093a8000002a3000002904d00000000000"
    "0a000f0006000f43523336";
const char* const kDenyNoEdns =
    "12348583000100000001000001580444656e79074578616d706c650000010001c00c0006000100002a300026c00c"
    "066e6f626f647907696e76616c6964000000000100000e10000004b000093a8000002a30";
const char* const kDenyDoAdCd =
    "12348593000100000001000101580444656e79074578616d706c650000010001c00c0006000100002a300026c00c"
    "066e6f626f647907696e76616c6964000000000100000e10000004b000093a8000002a3000002904d00000800000"
    "0a000f0006000f43523336";
const char* const kDrop =
    "1234818200010000000000010464726f70076578616d706c65000001000100002904d000000000000a000f000600"
    "1255354b4c";
const char* const kDropDoAdCd =
    "1234819200010000000000010464726f70076578616d706c65000001000100002904d000008000000a000f000600"
    "1255354b4c";
const char* const kDropNoEdns = "1234818200010000000000000464726f70076578616d706c650000010001";
const char* const kRefuse =
    "12348185000100000000000106726566757365076578616d706c65000001000100002904d000000000000a000f00"
    "06001245494d34";
const char* const kRefuseNoEdns =
    "12348185000100000000000006726566757365076578616d706c650000010001";

} // namespace

TEST_CASE("policy answers: DENY is NXDOMAIN, AA, the SOA of the name, EDE 15 'CR36'", "[policy]")
{
    const auto deny = action(policy::ActionKind::deny);
    CHECK(answer(deny, query("X.Deny.Example.")) == kDenyMixedCase);
    CHECK(answer(deny, query("X.Deny.Example.", false)) == kDenyNoEdns);
    // AD is not echoed; CD is, and DO in the OPT record.
    CHECK(answer(deny, query("X.Deny.Example.", true, true)) == kDenyDoAdCd);
}

TEST_CASE("policy answers: DENY_MSG adds TXT explanation.invalid., its EDE code", "[policy]")
{
    // Knot Resolver compresses 'invalid' of explanation.invalid. against the
    // SOA's RNAME; ours writes the owner in full: the same message.
    CHECK(answer(action(policy::ActionKind::deny, "custom msg"), query("msg.example.")) ==
          "123485830001000000010002036d7367076578616d706c650000010001"
          "c00c0006000100002a300026c00c066e6f626f647907696e76616c6964"
          "000000000100000e10000004b000093a8000002a30"
          "0b6578706c616e6174696f6e07696e76616c6964000010000100002a30000b0a637573746f6d206d7367"
          "00002904d000000000000a000f0006000f43523336");
    // DENY_MSG('censored', 16): EDE 16 (Censored), text still 'CR36'.
    const std::string a =
        answer(action(policy::ActionKind::deny, "censored", 16), query("cens.example."));
    CHECK(a.ends_with("0863656e736f72656400002904d000000000000a000f0006001043523336"));
    CHECK(a.substr(4, 4) == "8583");
    CHECK(a.substr(16, 8) == "00010002"); // NSCOUNT 1, ARCOUNT 2 (TXT and OPT)
}

TEST_CASE("policy answers: DROP is SERVFAIL with EDE 18 'U5KL'", "[policy]")
{
    const auto drop = action(policy::ActionKind::drop);
    CHECK(answer(drop, query("drop.example.")) == kDrop);
    CHECK(answer(drop, query("drop.example.", true, true)) == kDropDoAdCd);
    CHECK(answer(drop, query("drop.example.", false)) == kDropNoEdns);
}

TEST_CASE("policy answers: REFUSE is REFUSED with EDE 18 'EIM4'", "[policy]")
{
    const auto refuse = action(policy::ActionKind::refuse);
    CHECK(answer(refuse, query("refuse.example.")) == kRefuse);
    CHECK(answer(refuse, query("refuse.example.", false)) == kRefuseNoEdns);
}

TEST_CASE("policy answers: other kinds are not written here", "[policy]")
{
    dns::Query q;
    const auto w = query("pass.example.");
    REQUIRE(dns::parse_query(w, q) == dns::ParseStatus::ok);
    std::vector<uint8_t> buf(512);
    dns::ResponseBuilder b(buf, buf.size());
    REQUIRE(b.begin(q, dns::rcode::NOERROR, 70));
    for (auto k : {policy::ActionKind::pass, policy::ActionKind::no_answer, policy::ActionKind::tc})
        CHECK_FALSE(policy::write_answer(k, nullptr, q, b));
    CHECK(b.rcode() == dns::rcode::NOERROR);
}

TEST_CASE("policy answers: through the worker, NO_ANSWER alone sends nothing", "[policy][app]")
{
    modules::Registry mods;
    policy::Policy pol;
    auto rule = [](const char* suffix, policy::Action a) {
        policy::Rule r;
        r.filter = policy::FilterKind::suffix;
        dns::Name n;
        REQUIRE(dns::name_from_text(suffix, n));
        r.names.push_back(n);
        r.action = std::move(a);
        return r;
    };
    pol.add(rule("deny.example.", action(policy::ActionKind::deny)));
    pol.add(rule("drop.example.", action(policy::ActionKind::drop)));
    pol.add(rule("refuse.example.", action(policy::ActionKind::refuse)));
    pol.add(rule("noans.example.", action(policy::ActionKind::no_answer)));
    resolve::LocalHints hints;
    app::Worker worker(mods, pol, hints);
    worker.set_edns_size(1232);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::vector<uint8_t> out(1232);
    auto ask = [&](const char* name, net::Transport t, bool edns = true) {
        net::ClientInfo client{reinterpret_cast<sockaddr*>(&peer), nullptr, t, {}};
        const size_t n = worker.answer(query(name, edns), client, out);
        REQUIRE(n != net::kDeferred);
        return hex({out.data(), n});
    };
    for (auto t : {net::Transport::udp, net::Transport::tcp}) {
        CHECK(ask("X.Deny.Example.", t) == kDenyMixedCase);
        CHECK(ask("X.Deny.Example.", t, false) == kDenyNoEdns);
        CHECK(ask("drop.example.", t) == kDrop);
        CHECK(ask("refuse.example.", t) == kRefuse);
    }
    const auto dropped = worker.stats().dropped;
    CHECK(ask("noans.example.", net::Transport::udp).empty());
    CHECK(ask("www.noans.example.", net::Transport::tcp).empty());
    CHECK(worker.stats().dropped == dropped + 2);
}
