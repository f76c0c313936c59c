// Worker: requests that finished are freed while traffic goes on, not only
// when the loop runs out of work. A forwarding Worker and its upstream (a
// trivial responder on 127.0.0.1) share one event loop; the test keeps 20
// requests in flight and the responder answers one per loop pass, so every
// pass finishes a request (a reaper timer re-armed from each of them was
// starved: libevent takes a due timer off the active list when it is
// added again).
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/worker.hpp"
#include "catch.hpp"
#include "modules/module.hpp"
#include "policy/policy.hpp"
#include "resolve/resolve.hpp"

using namespace kresd;

namespace {

// How many answers were sent and how many deferred replies are gone (a
// reply lives as long as its request).
struct Counts {
    size_t sent = 0;
    size_t destroyed = 0;
};

class CountingReply final : public net::DeferredReply {
public:
    explicit CountingReply(Counts& c) : c_(c) {}
    ~CountingReply() override { ++c_.destroyed; }
    size_t limit() const override { return 1232; }
    void send(std::span<const uint8_t>) override { ++c_.sent; }

private:
    Counts& c_;
};

std::vector<uint8_t> query_wire(uint16_t id, const std::string& label, uint16_t type = 1)
{
    std::vector<uint8_t> w = {uint8_t(id >> 8), uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    w.push_back(static_cast<uint8_t>(label.size()));
    w.insert(w.end(), label.begin(), label.end());
    for (const char* l : {"example", "com"}) {
        w.push_back(static_cast<uint8_t>(std::strlen(l)));
        w.insert(w.end(), l, l + std::strlen(l));
    }
    w.insert(w.end(), {0, uint8_t(type >> 8), uint8_t(type), 0, 1}); // root, type, IN
    return w;
}

// Answers every query with one A record (the question's name, compressed),
// one answer per loop pass (from a zero-timeout timer), so that some
// request of the worker finishes in every pass, as under steady traffic.
struct Responder {
    int fd = -1;
    uint16_t port = 0;
    event* ev = nullptr;
    event* tick = nullptr;
    struct Out {
        std::vector<uint8_t> wire;
        sockaddr_storage to;
        socklen_t len;
    };
    std::vector<Out> queue;

    explicit Responder(event_base* base)
    {
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        REQUIRE(fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
        socklen_t len = sizeof(a);
        REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port = ntohs(a.sin_port);
        ev = event_new(base, fd, EV_READ | EV_PERSIST, &Responder::on_read, this);
        event_add(ev, nullptr);
        tick = evtimer_new(base, &Responder::on_tick, this);
        arm();
    }
    ~Responder()
    {
        event_free(tick);
        event_free(ev);
        close(fd);
    }
    void arm()
    {
        timeval now{0, 0};
        evtimer_add(tick, &now);
    }

    static void on_read(evutil_socket_t, short, void* arg)
    {
        auto* self = static_cast<Responder*>(arg);
        for (;;) {
            uint8_t buf[512];
            Out o{};
            o.len = sizeof(o.to);
            ssize_t n = recvfrom(self->fd, buf, sizeof(buf), 0,
                                 reinterpret_cast<sockaddr*>(&o.to), &o.len);
            if (n < 12) return;
            std::vector<uint8_t> r(buf, buf + n);
            r[2] |= 0x80;      // QR
            r[3] = 0x80;       // RA, NOERROR
            r[7] = 1;          // ANCOUNT
            r[10] = r[11] = 0; // no additional records (drop the OPT)
            size_t pos = 12;   // the question: its name, then type and class
            while (pos < r.size() && r[pos] != 0) pos += 1 + r[pos];
            r.resize(pos + 5);
            r.insert(r.end(), {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1});
            o.wire = std::move(r);
            self->queue.push_back(std::move(o));
        }
    }

    static void on_tick(evutil_socket_t, short, void* arg)
    {
        auto* self = static_cast<Responder*>(arg);
        if (!self->queue.empty()) {
            const Out& o = self->queue.front();
            sendto(self->fd, o.wire.data(), o.wire.size(), 0,
                   reinterpret_cast<const sockaddr*>(&o.to), o.len);
            self->queue.erase(self->queue.begin());
        }
        self->arm();
    }
};

} // namespace

TEST_CASE("worker: finished requests are freed while traffic continues", "[app][worker]")
{
    event_base* base = event_base_new();
    REQUIRE(base != nullptr);
    {
        Responder upstream(base);
        modules::Registry mods;
        policy::Policy policy;
        resolve::LocalHints hints;
        resolve::Clock clock;
        clock.mono_ms = [] {
            timespec ts{};
            clock_gettime(CLOCK_MONOTONIC, &ts);
            return static_cast<uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
        };
        clock.wall_s = [] { return static_cast<uint64_t>(std::time(nullptr)); };
        uint32_t seed = 1;
        resolve::Resolver resolver(resolve::default_config(), nullptr, clock,
                                   [&seed] { return seed = seed * 1103515245u + 12345u; });
        app::Worker worker(mods, policy, hints);
        worker.set_resolver(&resolver, base);
        resolve::RequestOptions defaults;
        auto target = resolve::parse_address("127.0.0.1@" + std::to_string(upstream.port));
        REQUIRE(target);
        defaults.forward = {*target};
        worker.set_request_defaults(defaults, {});

        Counts counts;
        sockaddr_in peer{};
        peer.sin_family = AF_INET;
        peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        std::vector<uint8_t> out(1232);
        size_t started = 0;
        constexpr size_t kTotal = 1500, kInFlight = 20;
        size_t worst_backlog = 0;
        for (int pass = 0; pass < 20000 && counts.sent < kTotal; ++pass) {
            while (started < kTotal && started - counts.sent < kInFlight) {
                auto q = query_wire(static_cast<uint16_t>(started), "n" + std::to_string(started));
                net::ClientInfo client{reinterpret_cast<sockaddr*>(&peer), nullptr,
                                       net::Transport::udp, {}};
                client.defer = [&counts]() -> std::unique_ptr<net::DeferredReply> {
                    return std::make_unique<CountingReply>(counts);
                };
                REQUIRE(worker.answer(q, client, out) == net::kDeferred);
                ++started;
            }
            event_base_loop(base, EVLOOP_ONCE);
            // Answered but not yet freed: at most what one pass finishes.
            worst_backlog = std::max(worst_backlog, counts.sent - counts.destroyed);
        }
        INFO("answered but not freed, at worst: " << worst_backlog);
        CHECK(counts.sent == kTotal);
        CHECK(worst_backlog <= 2 * kInFlight);
    }
    event_base_free(base);
}

TEST_CASE("worker: a hinted name is answered for every type, NODATA where it has none",
          "[app][worker]")
{
    modules::Registry mods;
    policy::Policy policy;
    resolve::LocalHints hints;
    const std::vector<uint8_t> nas = {3,   'n', 'a', 's', 7,   'e', 'x', 'a', 'm',
                                      'p', 'l', 'e', 3,   'c', 'o', 'm', 0};
    // Not a documentation address: the reverse zones of those are answered
    // NXDOMAIN before the hints, as in Knot Resolver 5.6 (test_special_names).
    auto addr = resolve::parse_address("198.18.0.20");
    REQUIRE(addr);
    hints.add(nas, *addr);
    app::Worker worker(mods, policy, hints);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    net::ClientInfo client{reinterpret_cast<sockaddr*>(&peer), nullptr, net::Transport::udp, {}};
    std::vector<uint8_t> out(1232);
    // (rcode, answer count) of the answer to nas.example.com of `type`.
    auto ask = [&](uint16_t type) {
        const auto q = query_wire(7, "nas", type);
        const size_t n = worker.answer(q, client, out);
        REQUIRE(n >= 12);
        REQUIRE(n != net::kDeferred);
        return std::pair<int, int>(out[3] & 0x0f, out[6] << 8 | out[7]);
    };
    CHECK(ask(1) == std::pair<int, int>(0, 1)); // A: the hinted address
    const size_t a_len = 12 + 17 + 4 + 16;      // header, question, the A record
    CHECK(worker.answer(query_wire(8, "nas", 1), client, out) == a_len);
    CHECK(std::vector<uint8_t>(out.begin() + a_len - 4, out.begin() + a_len) ==
          std::vector<uint8_t>{198, 18, 0, 20});
    CHECK(ask(28) == std::pair<int, int>(0, 0)); // AAAA: none hinted, NODATA
    CHECK(ask(15) == std::pair<int, int>(0, 0)); // MX: NODATA
    CHECK(ask(16) == std::pair<int, int>(0, 0)); // TXT: NODATA

    // The reverse name of the address: PTR to the name, NODATA otherwise.
    auto ask_reverse = [&](uint16_t type) {
        std::vector<uint8_t> q = {0, 9, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
        for (const char* l : {"20", "0", "18", "198", "in-addr", "arpa"}) {
            q.push_back(static_cast<uint8_t>(std::strlen(l)));
            q.insert(q.end(), l, l + std::strlen(l));
        }
        q.insert(q.end(), {0, uint8_t(type >> 8), uint8_t(type), 0, 1});
        const size_t n = worker.answer(q, client, out);
        REQUIRE(n >= 12);
        REQUIRE(n != net::kDeferred);
        return std::vector<uint8_t>(out.begin(), out.begin() + static_cast<long>(n));
    };
    const auto ptr = ask_reverse(12);
    CHECK((ptr[3] & 0x0f) == 0);
    CHECK((ptr[6] << 8 | ptr[7]) == 1);
    // The answer ends with the RDATA: nas.example.com in full.
    CHECK(std::vector<uint8_t>(ptr.end() - static_cast<long>(nas.size()), ptr.end()) == nas);
    const auto other = ask_reverse(1);
    CHECK((other[3] & 0x0f) == 0);
    CHECK((other[6] << 8 | other[7]) == 0);

    // hints.ttl(): the TTL of every answer (the A record's TTL field is 10
    // bytes before its end).
    auto ttl_of_a = [&] {
        REQUIRE(worker.answer(query_wire(10, "nas", 1), client, out) == a_len);
        return std::vector<uint8_t>(out.begin() + a_len - 10, out.begin() + a_len - 6);
    };
    CHECK(ttl_of_a() == std::vector<uint8_t>{0, 0, 0, 5});
    hints.ttl = 3600;
    CHECK(ttl_of_a() == std::vector<uint8_t>{0, 0, 0x0e, 0x10});
    // hints.use_nodata(false): the other types go on to resolution (with no
    // resolver here: REFUSED); the addresses are still answered.
    hints.use_nodata = false;
    CHECK(ask(28) == std::pair<int, int>(5, 0));
    CHECK(ask(15) == std::pair<int, int>(5, 0));
    CHECK(ask(1) == std::pair<int, int>(0, 1));
    CHECK(((ask_reverse(1)[3] & 0x0f)) == 5);
    CHECK((ask_reverse(12)[6] << 8 | ask_reverse(12)[7]) == 1);
}

namespace {

// Keeps the bytes of a deferred answer.
class CapturingReply final : public net::DeferredReply {
public:
    explicit CapturingReply(std::vector<uint8_t>& out) : out_(out) {}
    size_t limit() const override { return 1232; }
    void send(std::span<const uint8_t> wire) override { out_.assign(wire.begin(), wire.end()); }

private:
    std::vector<uint8_t>& out_;
};

policy::Rule deny_all()
{
    policy::Rule r;
    r.filter = policy::FilterKind::all;
    r.action.kind = policy::ActionKind::deny;
    return r;
}

} // namespace

TEST_CASE("worker: views see the client's address; postrules replace resolved answers",
          "[app][worker][view]")
{
    event_base* base = event_base_new();
    REQUIRE(base != nullptr);
    {
        Responder upstream(base);
        modules::Registry mods;
        policy::Policy policy;
        policy.add_view(*policy::Subnet::parse("127.0.0.2/32"), deny_all(), false);
        policy::Rule post = deny_all();
        post.filter = policy::FilterKind::suffix;
        dns::Name n;
        REQUIRE(dns::name_from_text("post.example.com.", n));
        post.names = {n};
        policy.add(post, true);
        resolve::LocalHints hints;
        resolve::Clock clock;
        clock.mono_ms = [] {
            timespec ts{};
            clock_gettime(CLOCK_MONOTONIC, &ts);
            return static_cast<uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
        };
        clock.wall_s = [] { return static_cast<uint64_t>(std::time(nullptr)); };
        uint32_t seed = 1;
        auto config = resolve::default_config();
        config.anchors = nullptr; // the responder's answers are not signed
        resolve::Resolver resolver(config, nullptr, clock,
                                   [&seed] { return seed = seed * 1103515245u + 12345u; });
        app::Worker worker(mods, policy, hints);
        worker.set_resolver(&resolver, base);
        resolve::RequestOptions defaults;
        auto target = resolve::parse_address("127.0.0.1@" + std::to_string(upstream.port));
        REQUIRE(target);
        defaults.forward = {*target};
        defaults.allow_local = true; // the upstream is on 127.0.0.1
        worker.set_request_defaults(defaults, {});

        auto ask = [&](const char* from, const std::string& label) {
            sockaddr_in peer{};
            peer.sin_family = AF_INET;
            inet_pton(AF_INET, from, &peer.sin_addr);
            std::vector<uint8_t> out(1232), deferred;
            net::ClientInfo client{reinterpret_cast<sockaddr*>(&peer), nullptr,
                                   net::Transport::udp, {}};
            client.defer = [&deferred]() -> std::unique_ptr<net::DeferredReply> {
                return std::make_unique<CapturingReply>(deferred);
            };
            const size_t n = worker.answer(query_wire(7, label), client, out);
            if (n != net::kDeferred) {
                out.resize(n);
                return out;
            }
            for (int i = 0; i < 1000 && deferred.empty(); ++i) event_base_loop(base, EVLOOP_ONCE);
            return deferred;
        };
        auto rcode = [](const std::vector<uint8_t>& w) { return w.size() >= 12 ? w[3] & 0x0f : -1; };

        CHECK(rcode(ask("127.0.0.2", "www")) == dns::rcode::NXDOMAIN); // the view
        const auto resolved = ask("127.0.0.3", "www");
        CHECK(rcode(resolved) == dns::rcode::NOERROR);
        CHECK(resolved.size() > 12);
        CHECK(resolved[7] == 1); // one answer record, from the upstream
        CHECK(rcode(ask("127.0.0.3", "post")) == dns::rcode::NXDOMAIN); // the postrule
        CHECK(policy.postrules()[0].count == 1);
    }
    event_base_free(base);
}
