// DNS-over-TLS listener, end to end on loopback: a blocking mbedTLS client
// in a second thread, the server's event loop in the test's thread.
// Catch2 assertions run in the test's thread only.
#include "tls_test_helpers.hpp"

#include <set>

using namespace kresd::net;
using namespace kresd::net::test;

TEST_CASE("DoT answers pipelined queries written a byte at a time", "[tls]")
{
    Server srv(Server::Kind::dot);
    std::string alpn;
    std::vector<uint16_t> ids;
    bool handshake = false;
    ClientThread client([&] {
        TlsClient c(srv.port, "dot");
        if (!(handshake = c.handshake())) return;
        alpn = c.alpn();
        std::vector<uint8_t> all;
        for (uint16_t i = 1; i <= 20; ++i) {
            auto f = framed(make_query("q" + std::to_string(i), i));
            all.insert(all.end(), f.begin(), f.end());
        }
        // Each byte its own TLS record: frames and length prefixes split everywhere.
        for (uint8_t b : all)
            if (!c.write({&b, 1})) return;
        for (int i = 0; i < 20; ++i) {
            auto m = c.read_frame();
            if (m.empty()) return;
            ids.push_back(id_of(m));
        }
    });
    REQUIRE(srv.run_until([&] { return client.done(); }));
    CHECK(handshake);
    CHECK(alpn == "dot");
    REQUIRE(ids.size() == 20);
    for (uint16_t i = 1; i <= 20; ++i)
        CHECK(ids[i - 1] == i); // answered at once, in order
    CHECK(srv.stats.tls == 20);
    CHECK(srv.stats.err_tls == 0);
    CHECK(srv.handler.transports.at(0) == Transport::tls);
}

TEST_CASE("DoT sends deferred answers out of order as they come", "[tls]")
{
    Server srv(Server::Kind::dot);
    std::atomic<int> got{0};
    std::vector<uint16_t> ids;
    ClientThread client([&] {
        TlsClient c(srv.port, "dot");
        if (!c.handshake()) return;
        std::vector<uint8_t> all;
        for (auto [label, id] : {std::pair{"slow1", 1}, {"slow2", 2}, {"fast3", 3}}) {
            auto f = framed(make_query(label, static_cast<uint16_t>(id)));
            all.insert(all.end(), f.begin(), f.end());
        }
        c.write(all);
        for (int i = 0; i < 3; ++i) {
            auto m = c.read_frame();
            if (m.empty()) return;
            ids.push_back(id_of(m));
            ++got;
        }
    });
    REQUIRE(srv.run_until([&] { return srv.handler.held.size() == 2 && got == 1; }));
    srv.handler.release(); // slow2, then slow1
    REQUIRE(srv.run_until([&] { return client.done(); }));
    CHECK(ids == std::vector<uint16_t>{3, 2, 1});
}

TEST_CASE("DoT drops deferred answers for connections that are gone", "[tls]")
{
    Server srv(Server::Kind::dot);
    ClientThread client([&] {
        TlsClient c(srv.port, "dot");
        if (!c.handshake()) return;
        c.write(framed(make_query("slow1", 1)));
        c.close(); // gone before the answer
    });
    REQUIRE(srv.run_until([&] { return client.done() && srv.handler.held.size() == 1; }));
    // The connection waits for the answer it owes, then closes.
    srv.run_until([] { return false; }, 100);
    srv.handler.release();
    srv.run_until([] { return false; }, 100);

    // A listener destroyed with an answer pending: sending later does nothing.
    ClientThread second([&] {
        TlsClient c(srv.port, "dot");
        if (!c.handshake()) return;
        c.write(framed(make_query("slow2", 2)));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    });
    REQUIRE(srv.run_until([&] { return srv.handler.held.size() == 1; }));
    srv.listener.reset();
    srv.handler.release();
    srv.run_until([&] { return second.done(); });
    CHECK(srv.stats.tls == 2);
}

TEST_CASE("DoT closes connections that do not speak TLS or DNS, and keeps serving", "[tls]")
{
    Server srv(Server::Kind::dot);
    bool plain_closed = false, short_closed = false, bad_record_closed = false;
    std::vector<uint8_t> good;
    ClientThread client([&] {
        {
            // Plain DNS over TCP on the TLS port.
            int fd = connect_loopback(srv.port);
            auto q = framed(make_query("plain", 9));
            ::send(fd, q.data(), q.size(), MSG_NOSIGNAL);
            uint8_t buf[64];
            ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
            plain_closed = n <= 0 || (n > 0 && buf[0] == 0x15); // closed, or a TLS alert
            ::close(fd);
        }
        {
            // A frame too short to be DNS, inside TLS.
            TlsClient c(srv.port, "dot");
            if (!c.handshake()) return;
            const uint8_t tiny[] = {0, 3, 'a', 'b', 'c'};
            c.write(tiny);
            short_closed = c.closed_by_peer();
        }
        {
            // A forged application-data record after the handshake.
            TlsClient c(srv.port, "dot");
            if (!c.handshake()) return;
            std::vector<uint8_t> rec = {0x17, 3, 3, 0, 40};
            rec.resize(45, 0xaa);
            c.write_raw(rec);
            bad_record_closed = c.closed_by_peer();
        }
        TlsClient c(srv.port, "dot");
        if (!c.handshake()) return;
        c.write(framed(make_query("after", 7)));
        good = c.read_frame();
    });
    REQUIRE(srv.run_until([&] { return client.done(); }, 15000));
    CHECK(plain_closed);
    CHECK(short_closed);
    CHECK(bad_record_closed);
    CHECK(id_of(good) == 7);
    CHECK(srv.stats.err_tls == 3);
    CHECK(srv.stats.tls == 1);
}

TEST_CASE("DoT closes idle connections", "[tls]")
{
    Server srv(Server::Kind::dot);
    srv.ctx.tcp_idle_timeout_ms = 200;
    bool closed = false;
    std::chrono::milliseconds took{};
    ClientThread client([&] {
        TlsClient c(srv.port, "dot");
        if (!c.handshake()) return;
        c.write(framed(make_query("q", 1)));
        c.read_frame();
        auto start = std::chrono::steady_clock::now();
        closed = c.closed_by_peer();
        took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
    });
    REQUIRE(srv.run_until([&] { return client.done(); }));
    CHECK(closed);
    CHECK(took.count() >= 100);
    CHECK(took.count() < 2000);
}

TEST_CASE("DoT keeps a connection with a pending answer past the idle timeout", "[tls]")
{
    Server srv(Server::Kind::dot);
    srv.ctx.tcp_idle_timeout_ms = 100;
    std::vector<uint8_t> answer;
    ClientThread client([&] {
        TlsClient c(srv.port, "dot");
        if (!c.handshake()) return;
        c.write(framed(make_query("slow1", 5)));
        answer = c.read_frame();
    });
    REQUIRE(srv.run_until([&] { return srv.handler.held.size() == 1; }));
    srv.run_until([] { return false; }, 400); // several idle periods
    srv.handler.release();
    REQUIRE(srv.run_until([&] { return client.done(); }));
    CHECK(id_of(answer) == 5);
}

TEST_CASE("DoT sessions resume on another instance of the same rundir", "[tls]")
{
    TempDir rundir;
    Server a(Server::Kind::dot, rundir.path), b(Server::Kind::dot, rundir.path);
    bool first = false, resumed = false, same_master = false;
    ClientThread client([&] {
        TlsClient c1(a.port, "dot");
        if (!(first = c1.handshake())) return;
        TlsClient c2(b.port, "dot", c1.session());
        if (!(resumed = c2.handshake())) return;
        // A resumed session keeps the master secret of the first handshake.
        same_master = std::memcmp(c1.master(), c2.master(), 48) == 0;
    });
    REQUIRE((a.run_until([&] {
        event_base_loop(b.base.get(), EVLOOP_NONBLOCK);
        return client.done();
    })));
    CHECK(first);
    CHECK(resumed);
    CHECK(same_master);
}

TEST_CASE("DoT closes the connection idle the longest at the limit", "[tls]")
{
    Server srv(Server::Kind::dot);
    srv.ctx.tcp_max_connections = 2;
    bool first_closed = false;
    std::vector<uint8_t> third_answer;
    ClientThread client([&] {
        TlsClient c1(srv.port, "dot"), c2(srv.port, "dot");
        if (!c1.handshake() || !c2.handshake()) return;
        c2.write(framed(make_query("q2", 2)));
        c2.read_frame(); // c2 is now the more recently active one
        TlsClient c3(srv.port, "dot");
        if (!c3.handshake()) return;
        first_closed = c1.closed_by_peer();
        c3.write(framed(make_query("q3", 3)));
        third_answer = c3.read_frame();
    });
    REQUIRE(srv.run_until([&] { return client.done(); }));
    CHECK(first_closed);
    CHECK(id_of(third_answer) == 3);
}

TEST_CASE("DoT refuses a client that offers only other protocols", "[tls]")
{
    Server srv(Server::Kind::dot);
    bool ok = true;
    ClientThread client([&] {
        TlsClient c(srv.port, "h2");
        ok = c.handshake();
    });
    REQUIRE(srv.run_until([&] { return client.done(); }));
    CHECK_FALSE(ok);
    CHECK(srv.stats.err_tls == 1);
}
