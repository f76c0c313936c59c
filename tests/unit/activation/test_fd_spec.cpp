// `-S FD[:KIND]`: parse_fd_spec and from_fd_spec; and from_launchd off macOS.
#include <string>
#include <sys/socket.h>

#include "activation/activation.hpp"
#include "activation/fd_helpers.hpp"
#include "catch.hpp"

using namespace kresd::activation;
using namespace kresd::activation::test;

TEST_CASE("parse_fd_spec accepts FD and FD:KIND", "[activation]") {
    CHECK(parse_fd_spec("3") == std::pair{3, Kind::dns});
    CHECK(parse_fd_spec("7:dns") == std::pair{7, Kind::dns});
    CHECK(parse_fd_spec("10:tls") == std::pair{10, Kind::tls});
    CHECK(parse_fd_spec("11:doh2") == std::pair{11, Kind::doh2});
    CHECK(parse_fd_spec("12:doh") == std::pair{12, Kind::doh2});
    CHECK(parse_fd_spec("5:control") == std::pair{5, Kind::control});
    CHECK(parse_fd_spec("0042:tls") == std::pair{42, Kind::tls});
    CHECK(parse_fd_spec("2147483647") == std::pair{2147483647, Kind::dns});
}

TEST_CASE("parse_fd_spec reports the deprecated doh alias", "[activation]") {
    bool alias = true;
    CHECK(parse_fd_spec("5:doh2", &alias).second == Kind::doh2);
    CHECK_FALSE(alias);
    CHECK(parse_fd_spec("5:doh", &alias).second == Kind::doh2);
    CHECK(alias);
    CHECK(parse_fd_spec("5", &alias).second == Kind::dns);
    CHECK_FALSE(alias);
}

TEST_CASE("parse_fd_spec rejects malformed specs with a clear message", "[activation]") {
    auto err = [](std::string_view spec) { return error_of([&] { parse_fd_spec(spec); }); };

    for (const char* bad :
         {"", ":", ":tls", "abc", "-3", "+3", " 3", "3 ", "0x3", "3.0", "3 :tls"}) {
        INFO("spec='" << bad << "'");
        CHECK(err(bad).find("is not a file descriptor number (expected FD or FD:KIND)") !=
              std::string::npos);
    }
    CHECK(err("abc:tls") == "'abc' is not a file descriptor number (expected FD or FD:KIND)");

    for (const char* low : {"0", "1", "2", "2:tls", "00"}) {
        INFO("spec='" << low << "'");
        CHECK(err(low).find("is stdin, stdout or stderr, not a listening socket") !=
              std::string::npos);
    }
    CHECK(err("1") == "fd 1 is stdin, stdout or stderr, not a listening socket");

    CHECK(err("2147483648") == "fd 2147483648 is out of range");
    CHECK(err("99999999999999999999999:dns") == "fd 99999999999999999999999 is out of range");

    CHECK(err("5:") == "'5:' has no kind after ':' (expected FD or FD:KIND)");
    CHECK(err("5:foo") == "kind 'foo' is not one of dns, tls, doh2, control");
    CHECK(err("5:TLS") == "kind 'TLS' is not one of dns, tls, doh2, control");
    CHECK(err("5:dns:tls") == "kind 'dns:tls' is not one of dns, tls, doh2, control");
    CHECK(err("5:unknown") == "kind 'unknown' is not one of dns, tls, doh2, control");
}

TEST_CASE("from_fd_spec checks the descriptor", "[activation]") {
    SECTION("a UDP socket serves dns") {
        Fd udp = udp_socket();
        // Clear FD_CLOEXEC to see that from_fd_spec sets it.
        REQUIRE(::fcntl(udp.get(), F_SETFD, 0) == 0);
        const std::string fd = std::to_string(udp.get());
        Inherited got = from_fd_spec(fd);
        CHECK(got.fd == udp.get());
        CHECK(got.kind == Kind::dns);
        CHECK(got.socktype == SOCK_DGRAM);
        CHECK(got.name == "");
        CHECK(has_cloexec(udp.get()));
    }
    SECTION("a TCP socket serves dns, tls, doh2 and control") {
        Fd tcp = tcp_socket();
        const std::string fd = std::to_string(tcp.get());
        CHECK(from_fd_spec(fd + ":dns").socktype == SOCK_STREAM);
        CHECK(from_fd_spec(fd + ":tls").kind == Kind::tls);
        Inherited doh = from_fd_spec(fd + ":doh");
        CHECK(doh.kind == Kind::doh2);
        CHECK(doh.name == "doh");
        CHECK(from_fd_spec(fd + ":control").kind == Kind::control);
    }
    SECTION("a UDP socket does not serve tls") {
        Fd udp = udp_socket();
        const std::string fd = std::to_string(udp.get());
        CHECK(error_of([&] { from_fd_spec(fd + ":tls"); }) ==
              "fd " + fd + " given with -S is a datagram socket, but tls needs a stream socket");
    }
    SECTION("a pipe is not a socket") {
        Pipe p = make_pipe();
        const std::string fd = std::to_string(p.read.get());
        CHECK(error_of([&] { from_fd_spec(fd); }) == "fd " + fd + " given with -S is not a socket");
    }
    SECTION("a closed descriptor") {
        int closed;
        {
            Fd tmp = udp_socket();
            closed = tmp.get();
        }
        REQUIRE_FALSE(is_open(closed));
        const std::string fd = std::to_string(closed);
        CHECK(error_of([&] { from_fd_spec(fd + ":dns"); }) ==
              "fd " + fd + " given with -S is not open");
    }
    SECTION("from_fd: the checking half on its own") {
        Fd tcp = tcp_socket();
        REQUIRE(::fcntl(tcp.get(), F_SETFD, 0) == 0);
        Inherited got = from_fd(tcp.get(), Kind::control);
        CHECK(got.fd == tcp.get());
        CHECK(got.kind == Kind::control);
        CHECK(got.socktype == SOCK_STREAM);
        CHECK(got.name == "");
        CHECK(has_cloexec(tcp.get()));
        CHECK(from_fd(tcp.get(), Kind::tls, "tls").name == "tls");
        Fd udp = udp_socket();
        CHECK(error_of([&] {
                  from_fd(udp.get(), Kind::doh2);
              }).find("doh2 needs a stream socket") != std::string::npos);
    }
    SECTION("parse errors come first") {
        CHECK(error_of([] { from_fd_spec("1:dns"); }).find("stdin, stdout or stderr") !=
              std::string::npos);
    }
}

#ifndef __APPLE__
TEST_CASE("from_launchd finds nothing outside macOS", "[activation]") {
    Collected got = from_launchd();
    CHECK(got.sockets.empty());
    CHECK(got.warnings.empty());
}
#endif
