// Knot Resolver 5.6's default-loaded answer modules, through the Worker:
// refuse_nord (a query without RD gets REFUSED + EDE 20 'ABC4', before the
// local hints) and edns_keepalive (the TCP keepalive option, RFC 7828, over
// streams only, with the 10 s idle timeout: 100).
#include <arpa/inet.h>
#include <lua.hpp>
#include <netinet/in.h>

#include <algorithm>
#include <string>
#include <vector>

#include "app/worker.hpp"
#include "catch.hpp"
#include "modules/module.hpp"
#include "policy/policy.hpp"
#include "resolve/resolve.hpp"

using namespace kresd;

namespace {

const std::vector<uint8_t> kName = {3, 'n', 'a', 's', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};

// A query for nas.example. A; `edns_opts`: the OPT RDATA (nullptr: no EDNS).
std::vector<uint8_t> query(bool rd, const std::vector<uint8_t>* edns_opts)
{
    std::vector<uint8_t> w = {0x12, 0x34, uint8_t(rd ? 0x01 : 0x00), 0x00, 0, 1, 0, 0, 0, 0,
                              0,    uint8_t(edns_opts ? 1 : 0)};
    w.insert(w.end(), kName.begin(), kName.end());
    w.insert(w.end(), {0, 1, 0, 1});
    if (edns_opts) {
        w.insert(w.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, uint8_t(edns_opts->size())});
        w.insert(w.end(), edns_opts->begin(), edns_opts->end());
    }
    return w;
}

bool contains(const std::vector<uint8_t>& hay, const std::vector<uint8_t>& needle)
{
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

struct Fixture {
    lua_State* L = luaL_newstate();
    modules::Registry mods;
    policy::Policy policy;
    resolve::LocalHints hints;
    app::Worker worker{mods, policy, hints};
    sockaddr_in peer{};

    Fixture()
    {
        auto addr = resolve::parse_address("203.0.113.20");
        REQUIRE(addr);
        hints.add(kName, *addr);
        mods.load_defaults(L);
        peer.sin_family = AF_INET;
        peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    ~Fixture() { lua_close(L); }

    std::vector<uint8_t> ask(const std::vector<uint8_t>& q, net::Transport t)
    {
        net::ClientInfo client{reinterpret_cast<sockaddr*>(&peer), nullptr, t, {}};
        std::vector<uint8_t> out(1232);
        const size_t n = worker.answer(q, client, out);
        REQUIRE(n >= 12);
        REQUIRE(n != net::kDeferred);
        out.resize(n);
        return out;
    }
};

int rcode(const std::vector<uint8_t>& a) { return a[3] & 0x0f; }
int ancount(const std::vector<uint8_t>& a) { return a[6] << 8 | a[7]; }

const std::vector<uint8_t> kEde20 = {0, 15, 0, 6, 0, 20, 'A', 'B', 'C', '4'};
const std::vector<uint8_t> kKeepalive100 = {0, 11, 0, 2, 0, 100};

} // namespace

TEST_CASE("refuse_nord: RD=0 is REFUSED with EDE 20, before the hints", "[app][modules]")
{
    Fixture f;
    const std::vector<uint8_t> none;
    auto a = f.ask(query(false, &none), net::Transport::udp);
    CHECK(rcode(a) == 5);
    CHECK(ancount(a) == 0);
    CHECK((a[3] & 0x80) != 0); // RA, as every answer
    CHECK(contains(a, kEde20));
    // Without EDNS: REFUSED, no OPT record.
    a = f.ask(query(false, nullptr), net::Transport::udp);
    CHECK(rcode(a) == 5);
    CHECK(a[11] == 0);
    // RD=1: the hint.
    a = f.ask(query(true, &none), net::Transport::udp);
    CHECK(rcode(a) == 0);
    CHECK(ancount(a) == 1);
    CHECK_FALSE(contains(a, kEde20));
    // Unloaded: RD=0 gets the hint too.
    CHECK(f.mods.unload("refuse_nord"));
    a = f.ask(query(false, &none), net::Transport::udp);
    CHECK(rcode(a) == 0);
    CHECK(ancount(a) == 1);
}

TEST_CASE("edns_keepalive: the option with 100 (10 s) over streams only", "[app][modules]")
{
    Fixture f;
    const std::vector<uint8_t> ka = {0, 11, 0, 0};
    const std::vector<uint8_t> ka5 = {0, 11, 0, 2, 0, 5}; // a client's value is not echoed
    const std::vector<uint8_t> none;
    for (auto t : {net::Transport::tcp, net::Transport::tls}) {
        CHECK(contains(f.ask(query(true, &ka), t), kKeepalive100));
        CHECK(contains(f.ask(query(true, &ka5), t), kKeepalive100));
        CHECK_FALSE(contains(f.ask(query(true, &none), t), kKeepalive100));
        // The refused RD=0 answer gets both options, as from Knot Resolver.
        const auto a = f.ask(query(false, &ka), t);
        CHECK(rcode(a) == 5);
        CHECK(contains(a, kKeepalive100));
        CHECK(contains(a, kEde20));
    }
    CHECK_FALSE(contains(f.ask(query(true, &ka), net::Transport::udp), kKeepalive100));
    CHECK(f.mods.unload("edns_keepalive"));
    CHECK_FALSE(contains(f.ask(query(true, &ka), net::Transport::tcp), kKeepalive100));
}
