// from_listen_fds: the sd_listen_fds protocol with real descriptors at 3, 4, ...
#include <cstdlib>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "activation/activation.hpp"
#include "activation/fd_helpers.hpp"
#include "catch.hpp"

using namespace kresd::activation;
using namespace kresd::activation::test;

namespace {

constexpr pid_t self = 4242;

Collected collect(std::map<std::string, std::string> vars) {
    return from_listen_fds(self, env_of(std::move(vars)), false);
}

std::string collect_error(std::map<std::string, std::string> vars) {
    return error_of([&] { collect(std::move(vars)); });
}

} // namespace

TEST_CASE("LISTEN_FDS: named sockets are classified by name and SO_TYPE", "[activation]") {
    Fd udp = udp_socket(), tcp = tcp_socket(), tls = tcp_socket(), ctl = unix_stream_socket();
    InstalledFds fds({udp.get(), tcp.get(), tls.get(), ctl.get()});
    for (int fd = 3; fd <= 6; ++fd)
        REQUIRE_FALSE(has_cloexec(fd));

    auto got = collect(
        {{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "4"}, {"LISTEN_FDNAMES", "dns:dns:tls:control"}});

    CHECK(got.warnings.empty());
    REQUIRE(got.sockets.size() == 4);
    CHECK(got.sockets[0].fd == 3);
    CHECK(got.sockets[0].kind == Kind::dns);
    CHECK(got.sockets[0].socktype == SOCK_DGRAM);
    CHECK(got.sockets[0].name == "dns");
    CHECK(got.sockets[1].fd == 4);
    CHECK(got.sockets[1].kind == Kind::dns);
    CHECK(got.sockets[1].socktype == SOCK_STREAM);
    CHECK(got.sockets[2].fd == 5);
    CHECK(got.sockets[2].kind == Kind::tls);
    CHECK(got.sockets[2].socktype == SOCK_STREAM);
    CHECK(got.sockets[2].name == "tls");
    CHECK(got.sockets[3].fd == 6);
    CHECK(got.sockets[3].kind == Kind::control);
    CHECK(got.sockets[3].name == "control");

    SECTION("every inherited fd is close-on-exec afterwards") {
        for (int fd = 3; fd <= 6; ++fd)
            CHECK(has_cloexec(fd));
    }
}

TEST_CASE("LISTEN_FDS: the kind comes from the name, not the position", "[activation]") {
    Fd ctl = unix_stream_socket(), udp = udp_socket();
    InstalledFds fds({ctl.get(), udp.get()});
    auto got =
        collect({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}, {"LISTEN_FDNAMES", "control:dns"}});
    REQUIRE(got.sockets.size() == 2);
    CHECK(got.sockets[0].kind == Kind::control);
    CHECK(got.sockets[1].kind == Kind::dns);
    CHECK(got.sockets[1].socktype == SOCK_DGRAM);
}

TEST_CASE("LISTEN_FDS: missing, empty and 'unknown' names mean dns", "[activation]") {
    Fd a = udp_socket(), b = tcp_socket(), c = tcp_socket();
    InstalledFds fds({a.get(), b.get(), c.get()});

    SECTION("no LISTEN_FDNAMES") {
        auto got = collect({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "3"}});
        REQUIRE(got.sockets.size() == 3);
        for (auto& s : got.sockets) {
            CHECK(s.kind == Kind::dns);
            CHECK(s.name.empty());
        }
        CHECK(got.sockets[0].socktype == SOCK_DGRAM);
        CHECK(got.sockets[1].socktype == SOCK_STREAM);
    }
    SECTION("empty LISTEN_FDNAMES is like none") {
        auto got = collect({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "3"}, {"LISTEN_FDNAMES", ""}});
        REQUIRE(got.sockets.size() == 3);
        for (auto& s : got.sockets)
            CHECK(s.kind == Kind::dns);
    }
    SECTION("empty entries and 'unknown'") {
        auto got = collect(
            {{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "3"}, {"LISTEN_FDNAMES", ":unknown:tls"}});
        REQUIRE(got.sockets.size() == 3);
        CHECK(got.sockets[0].kind == Kind::dns);
        CHECK(got.sockets[0].name == "");
        CHECK(got.sockets[1].kind == Kind::dns);
        CHECK(got.sockets[1].name == "unknown");
        CHECK(got.sockets[2].kind == Kind::tls);
        CHECK(got.warnings.empty());
    }
}

TEST_CASE("LISTEN_FDS: nothing without a matching LISTEN_PID", "[activation]") {
    Fd udp = udp_socket();
    InstalledFds fds({udp.get()});

    SECTION("another process's PID is ignored with a warning, fds untouched") {
        auto got = collect({{"LISTEN_PID", "4243"}, {"LISTEN_FDS", "1"}});
        CHECK(got.sockets.empty());
        REQUIRE(got.warnings.size() == 1);
        CHECK(got.warnings[0].find("4243") != std::string::npos);
        CHECK(got.warnings[0].find("4242") != std::string::npos);
        CHECK_FALSE(has_cloexec(3));
    }
    SECTION("a wrong PID wins even over garbage in the other variables") {
        auto got =
            collect({{"LISTEN_PID", "1"}, {"LISTEN_FDS", "junk"}, {"LISTEN_FDNAMES", "nonsense"}});
        CHECK(got.sockets.empty());
        CHECK(got.warnings.size() == 1);
    }
    SECTION("no variables at all: silence") {
        auto got = collect({});
        CHECK(got.sockets.empty());
        CHECK(got.warnings.empty());
    }
    SECTION("LISTEN_FDS without LISTEN_PID: warning only") {
        auto got = collect({{"LISTEN_FDS", "1"}});
        CHECK(got.sockets.empty());
        CHECK(got.warnings.size() == 1);
    }
    SECTION("LISTEN_PID without LISTEN_FDS: warning only") {
        auto got = collect({{"LISTEN_PID", "4242"}});
        CHECK(got.sockets.empty());
        CHECK(got.warnings.size() == 1);
    }
}

TEST_CASE("LISTEN_PID must be a plain decimal PID", "[activation]") {
    for (const char* bad : {"", "abc", "42x", "-4242", "+4242", " 4242", "4242 ", "0", "0x1092",
                            "99999999999999999999999"}) {
        INFO("LISTEN_PID='" << bad << "'");
        CHECK(collect_error({{"LISTEN_PID", bad}, {"LISTEN_FDS", "1"}}) ==
              std::string("LISTEN_PID '") + bad + "' is not a process ID");
    }
    // Leading zeros are still decimal.
    Fd udp = udp_socket();
    InstalledFds fds({udp.get()});
    CHECK(collect({{"LISTEN_PID", "004242"}, {"LISTEN_FDS", "1"}}).sockets.size() == 1);
}

TEST_CASE("LISTEN_FDS must be a sane decimal count", "[activation]") {
    for (const char* bad : {"", "abc", "1x", "-1", "+1", " 1", "1.0", "0x2"}) {
        INFO("LISTEN_FDS='" << bad << "'");
        CHECK(collect_error({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", bad}}) ==
              std::string("LISTEN_FDS '") + bad + "' is not a number of file descriptors");
    }
    for (const char* big : {"1025", "100000", "18446744073709551615", "99999999999999999999999"}) {
        INFO("LISTEN_FDS='" << big << "'");
        CHECK(collect_error({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", big}}) ==
              std::string("LISTEN_FDS '") + big + "' is out of range (at most 1024)");
    }

    SECTION("zero means no sockets, and no error") {
        auto got = collect({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "0"}});
        CHECK(got.sockets.empty());
        CHECK(got.warnings.empty());
    }
}

TEST_CASE("LISTEN_FDNAMES must name every fd exactly once", "[activation]") {
    Fd a = udp_socket(), b = tcp_socket();
    InstalledFds fds({a.get(), b.get()});
    CHECK(collect_error({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}, {"LISTEN_FDNAMES", "dns"}}) ==
          "LISTEN_FDNAMES has 1 name for 2 fds (LISTEN_FDS=2)");
    CHECK(collect_error(
              {{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}, {"LISTEN_FDNAMES", "dns:dns:tls"}}) ==
          "LISTEN_FDNAMES has 3 names for 2 fds (LISTEN_FDS=2)");
    CHECK(
        collect_error({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}, {"LISTEN_FDNAMES", "dns:"}}) ==
        "<no error>"); // "dns" and an empty (= dns) entry
    CHECK(
        collect_error({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "1"}, {"LISTEN_FDNAMES", "dns:"}}) ==
        "LISTEN_FDNAMES has 2 names for 1 fd (LISTEN_FDS=1)");
}

TEST_CASE("LISTEN_FDNAMES: unknown names are errors naming the fd", "[activation]") {
    Fd a = udp_socket(), b = tcp_socket();
    InstalledFds fds({a.get(), b.get()});
    CHECK(collect_error(
              {{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}, {"LISTEN_FDNAMES", "dns:foo"}}) ==
          "LISTEN_FDNAMES names 'foo' for fd 4: not one of dns, tls, doh2, control");
    // Names are case-sensitive, like systemd's FileDescriptorName=.
    CHECK(collect_error(
              {{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}, {"LISTEN_FDNAMES", "DNS:dns"}}) ==
          "LISTEN_FDNAMES names 'DNS' for fd 3: not one of dns, tls, doh2, control");
}

TEST_CASE("LISTEN_FDNAMES: 'doh' is doh2 with a warning", "[activation]") {
    Fd a = tcp_socket(), b = tcp_socket();
    InstalledFds fds({a.get(), b.get()});
    auto got =
        collect({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}, {"LISTEN_FDNAMES", "doh:doh2"}});
    REQUIRE(got.sockets.size() == 2);
    CHECK(got.sockets[0].kind == Kind::doh2);
    CHECK(got.sockets[0].name == "doh");
    CHECK(got.sockets[1].kind == Kind::doh2);
    REQUIRE(got.warnings.size() == 1);
    CHECK(got.warnings[0].find("'doh' for fd 3") != std::string::npos);
    CHECK(got.warnings[0].find("doh2") != std::string::npos);
}

TEST_CASE("LISTEN_FDS: at most one control socket", "[activation]") {
    Fd a = unix_stream_socket(), b = udp_socket(), c = unix_stream_socket();
    InstalledFds fds({a.get(), b.get(), c.get()});
    CHECK(collect_error({{"LISTEN_PID", "4242"},
                         {"LISTEN_FDS", "3"},
                         {"LISTEN_FDNAMES", "control:dns:control"}}) ==
          "LISTEN_FDNAMES names 'control' for fd 3 and fd 5: at most one control socket");
}

TEST_CASE("LISTEN_FDS: every fd must be an open socket of a fitting type",
          "[activation]"){SECTION("a pipe"){Fd udp = udp_socket();
Pipe p = make_pipe();
InstalledFds fds({udp.get(), p.read.get()});
CHECK(collect_error({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}}) ==
      "fd 4 from LISTEN_FDS is not a socket");
}
SECTION("a closed fd") {
    Fd udp = udp_socket();
    InstalledFds fds({udp.get(), -1});
    REQUIRE_FALSE(is_open(4));
    CHECK(collect_error({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}}) ==
          "fd 4 from LISTEN_FDS is not open");
}
SECTION("tls on a datagram socket") {
    Fd udp = udp_socket();
    InstalledFds fds({udp.get()});
    CHECK(collect_error({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "1"}, {"LISTEN_FDNAMES", "tls"}}) ==
          "fd 3 from LISTEN_FDS is a datagram socket, but tls needs a stream socket");
}
SECTION("control on a datagram socket") {
    Fd dgram = make_socket(AF_UNIX, SOCK_DGRAM);
    InstalledFds fds({dgram.get()});
    CHECK(
        collect_error({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "1"}, {"LISTEN_FDNAMES", "control"}})
            .find("control needs a stream socket") != std::string::npos);
}
#ifdef __linux__ // AF_UNIX SOCK_SEQPACKET is not available everywhere (macOS)
SECTION("dns on a seqpacket socket") {
    Fd seq = make_socket(AF_UNIX, SOCK_SEQPACKET);
    InstalledFds fds({seq.get()});
    CHECK(collect_error({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "1"}}) ==
          "fd 3 from LISTEN_FDS is a seqpacket socket, but dns needs a datagram or stream "
          "socket");
}
#endif
}

TEST_CASE("LISTEN_FDS: unset_env clears the real environment", "[activation]") {
    auto real_env = [](const char* name) -> const char* { return std::getenv(name); };
    auto set_all = [](const char* pid, const char* count, const char* names) {
        ::setenv("LISTEN_PID", pid, 1);
        ::setenv("LISTEN_FDS", count, 1);
        ::setenv("LISTEN_FDNAMES", names, 1);
    };
    auto all_unset = [] {
        return !std::getenv("LISTEN_PID") && !std::getenv("LISTEN_FDS") &&
               !std::getenv("LISTEN_FDNAMES");
    };
    const std::string me = std::to_string(::getpid());

    SECTION("after success") {
        Fd udp = udp_socket();
        InstalledFds fds({udp.get()});
        set_all(me.c_str(), "1", "dns");
        auto got = from_listen_fds(::getpid(), real_env, true);
        CHECK(got.sockets.size() == 1);
        CHECK(all_unset());
    }
    SECTION("after a PID mismatch") {
        set_all("1", "1", "dns");
        auto got = from_listen_fds(::getpid(), real_env, true);
        CHECK(got.sockets.empty());
        CHECK(got.warnings.size() == 1);
        CHECK(all_unset());
    }
    SECTION("after an error") {
        set_all(me.c_str(), "many", "dns");
        CHECK_THROWS_AS(from_listen_fds(::getpid(), real_env, true), ActivationError);
        CHECK(all_unset());
    }
    SECTION("not without being asked") {
        set_all("1", "1", "dns");
        from_listen_fds(::getpid(), real_env, false);
        CHECK(std::getenv("LISTEN_PID") != nullptr);
        CHECK(std::getenv("LISTEN_FDS") != nullptr);
        CHECK(std::getenv("LISTEN_FDNAMES") != nullptr);
        ::unsetenv("LISTEN_PID");
        ::unsetenv("LISTEN_FDS");
        ::unsetenv("LISTEN_FDNAMES");
    }
}

TEST_CASE("parse_kind and kind_name", "[activation]") {
    bool alias = true;
    CHECK(parse_kind("dns", &alias) == Kind::dns);
    CHECK_FALSE(alias);
    CHECK(parse_kind("tls") == Kind::tls);
    CHECK(parse_kind("doh2", &alias) == Kind::doh2);
    CHECK_FALSE(alias);
    CHECK(parse_kind("doh", &alias) == Kind::doh2);
    CHECK(alias);
    CHECK(parse_kind("control") == Kind::control);
    CHECK_FALSE(parse_kind("").has_value());
    CHECK_FALSE(parse_kind("unknown").has_value());
    CHECK_FALSE(parse_kind("dns ").has_value());
    for (Kind k : {Kind::dns, Kind::tls, Kind::doh2, Kind::control}) {
        CHECK(parse_kind(kind_name(k)) == k);
    }
}
