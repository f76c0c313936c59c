// Notifier: real AF_UNIX datagram receivers standing in for the service
// manager, and a pipe standing in for OpenRC's readiness fd.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

#include "app/notify.hpp"
#include "catch.hpp"

using kresd::app::Notifier;
using namespace std::chrono_literals;

namespace {

constexpr pid_t self = 4242;

kresd::activation::GetEnv env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

Notifier notifier(std::map<std::string, std::string> vars, int notify_fd = -1) {
    return Notifier::from_env(self, env_of(std::move(vars)), notify_fd);
}

bool has_cloexec(int fd) {
    int flags = ::fcntl(fd, F_GETFD);
    return flags >= 0 && (flags & FD_CLOEXEC);
}

// A datagram socket bound where NOTIFY_SOCKET points: at a path in a fresh
// temporary directory, or (Linux) at an abstract name.
class Receiver {
  public:
    static Receiver at_path() {
        Receiver r;
        char dir[] = "/tmp/kresd-notify-XXXXXX";
        if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
        r.dir_ = dir;
        r.address_ = r.dir_ + "/notify";
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, r.address_.c_str(), r.address_.size() + 1);
        r.bind_to(addr, static_cast<socklen_t>(sizeof(addr)));
        return r;
    }

#ifdef __linux__
    // The address length counts exactly the name bytes after the leading NUL,
    // so a sender that got the length wrong would reach a different name.
    static Receiver abstract(const std::string& name) {
        Receiver r;
        r.address_ = "@" + name;
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path + 1, name.data(), name.size());
        r.bind_to(addr, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size()));
        return r;
    }
#endif

    Receiver(Receiver&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)), dir_(std::move(o.dir_)), address_(std::move(o.address_)) {
        o.dir_.clear();
    }
    Receiver& operator=(Receiver&&) = delete;
    ~Receiver() {
        if (fd_ >= 0) ::close(fd_);
        if (!dir_.empty()) {
            ::unlink(address_.c_str());
            ::rmdir(dir_.c_str());
        }
    }

    const std::string& address() const {
        return address_;
    }

    // The next datagram, or "<nothing>" after a short wait.
    std::string next() {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 2000) != 1) return "<nothing>";
        char buf[4096];
        ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        if (n < 0) return "<error>";
        return std::string(buf, static_cast<size_t>(n));
    }
    bool idle() {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, 0) == 0;
    }

  private:
    Receiver() = default;
    void bind_to(const sockaddr_un& addr, socklen_t len) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len) < 0)
            throw std::runtime_error(std::string("bind failed: ") + std::strerror(errno));
    }

    int fd_ = -1;
    std::string dir_;
    std::string address_;
};

struct Pipe {
    int read = -1, write = -1;
    Pipe() {
        int p[2];
        if (::pipe(p) < 0) throw std::runtime_error("pipe failed");
        read = p[0];
        write = p[1];
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe() {
        if (read >= 0) ::close(read);
        if (write >= 0) ::close(write);
    }
    // All of it until EOF, or "<blocked>" if the writer is still open.
    std::string drain() {
        std::string out;
        ::fcntl(read, F_SETFL, O_NONBLOCK);
        char buf[256];
        for (;;) {
            ssize_t n = ::read(read, buf, sizeof(buf));
            if (n > 0) {
                out.append(buf, static_cast<size_t>(n));
            } else if (n == 0) {
                return out;
            } else if (errno != EINTR) {
                return out + "<blocked>";
            }
        }
    }
};

} // namespace

TEST_CASE("Notifier sends to a socket at a path", "[notify]") {
    Receiver manager = Receiver::at_path();
    Notifier n = notifier({{"NOTIFY_SOCKET", manager.address()}});
    REQUIRE(n.enabled());
    CHECK(n.socket_path() == manager.address());
    CHECK(n.warnings().empty());

    n.ready("serving on 127.0.0.1@53");
    CHECK(manager.next() == "READY=1\nSTATUS=serving on 127.0.0.1@53");
    n.status("cache 42% full");
    CHECK(manager.next() == "STATUS=cache 42% full");
    n.watchdog();
    CHECK(manager.next() == "WATCHDOG=1");
    n.stopping();
    CHECK(manager.next() == "STOPPING=1");
    CHECK(n.send("MAINPID=4242"));
    CHECK(manager.next() == "MAINPID=4242");
    CHECK(manager.idle());
}

TEST_CASE("Notifier: ready without status, and status stays one line", "[notify]") {
    Receiver manager = Receiver::at_path();
    Notifier n = notifier({{"NOTIFY_SOCKET", manager.address()}});
    n.ready("");
    CHECK(manager.next() == "READY=1");
    n.status("line one\nREADY=1\r\nthree");
    CHECK(manager.next() == "STATUS=line one READY=1  three");
}

#ifdef __linux__
TEST_CASE("Notifier sends to an abstract socket", "[notify]") {
    Receiver manager = Receiver::abstract("kresd-test-" + std::to_string(::getpid()));
    Notifier n = notifier({{"NOTIFY_SOCKET", manager.address()}});
    REQUIRE(n.enabled());
    n.ready("up");
    CHECK(manager.next() == "READY=1\nSTATUS=up");
    CHECK(n.send("WATCHDOG=1"));
    CHECK(manager.next() == "WATCHDOG=1");
}
#endif

TEST_CASE("Notifier: a missing receiver is a failed send, not an error", "[notify]") {
    std::string gone;
    {
        Receiver manager = Receiver::at_path();
        gone = manager.address();
    }
    Notifier n = notifier({{"NOTIFY_SOCKET", gone}});
    REQUIRE(n.enabled());
    CHECK_FALSE(n.send("READY=1"));
    n.ready("x"); // must not throw
}

TEST_CASE("Notifier: unusable NOTIFY_SOCKET values", "[notify]") {
    SECTION("empty: silently disabled") {
        Notifier n = notifier({{"NOTIFY_SOCKET", ""}});
        CHECK_FALSE(n.enabled());
        CHECK(n.warnings().empty());
    }
    for (std::string bad : {std::string("run/notify"), std::string("@"), std::string("vsock:2:1"),
                            "/" + std::string(200, 'x')}) {
        DYNAMIC_SECTION("'" << bad.substr(0, 20) << "'") {
            Notifier n = notifier({{"NOTIFY_SOCKET", bad}});
            CHECK_FALSE(n.enabled());
            CHECK(n.socket_path().empty());
            REQUIRE(n.warnings().size() == 1);
            CHECK(n.warnings()[0].find("NOTIFY_SOCKET") != std::string::npos);
        }
    }
}

TEST_CASE("Notifier: WATCHDOG_USEC and WATCHDOG_PID", "[notify]") {
    const std::string sock = "/run/kresd-test/notify"; // never sent to here
    using Vars = std::map<std::string, std::string>;

    SECTION("interval is half the period") {
        Notifier n = notifier({{"NOTIFY_SOCKET", sock}, {"WATCHDOG_USEC", "3000000"}});
        REQUIRE(n.watchdog_interval());
        CHECK(*n.watchdog_interval() == 1500ms);
        CHECK(n.warnings().empty());
    }
    SECTION("odd and tiny periods") {
        CHECK(*notifier({{"NOTIFY_SOCKET", sock}, {"WATCHDOG_USEC", "7"}}).watchdog_interval() ==
              3us);
        CHECK(*notifier({{"NOTIFY_SOCKET", sock}, {"WATCHDOG_USEC", "1"}}).watchdog_interval() ==
              1us);
    }
    SECTION("no WATCHDOG_USEC, no watchdog") {
        CHECK_FALSE(notifier({{"NOTIFY_SOCKET", sock}}).watchdog_interval());
    }
    SECTION("WATCHDOG_PID equal to ours") {
        Notifier n = notifier(
            {{"NOTIFY_SOCKET", sock}, {"WATCHDOG_USEC", "1000000"}, {"WATCHDOG_PID", "4242"}});
        REQUIRE(n.watchdog_interval());
        CHECK(*n.watchdog_interval() == 500ms);
    }
    SECTION("WATCHDOG_PID of another process: not ours, quietly") {
        Notifier n = notifier(
            {{"NOTIFY_SOCKET", sock}, {"WATCHDOG_USEC", "1000000"}, {"WATCHDOG_PID", "4243"}});
        CHECK_FALSE(n.watchdog_interval());
        CHECK(n.warnings().empty());
        CHECK(n.enabled()); // notifications still go out
    }
    SECTION("malformed WATCHDOG_PID") {
        for (const char* bad : {"", "abc", "-4242", "4242x", " 4242", "0"}) {
            INFO("WATCHDOG_PID='" << bad << "'");
            Notifier n = notifier(
                {{"NOTIFY_SOCKET", sock}, {"WATCHDOG_USEC", "1000000"}, {"WATCHDOG_PID", bad}});
            CHECK_FALSE(n.watchdog_interval());
            CHECK(n.warnings().size() == 1);
        }
    }
    SECTION("malformed WATCHDOG_USEC") {
        for (const char* bad : {"", "0", "abc", "-5", "+5", " 5", "5 ", "5s", "1e6", "0x10",
                                "99999999999999999999999"}) {
            INFO("WATCHDOG_USEC='" << bad << "'");
            Notifier n = notifier({{"NOTIFY_SOCKET", sock}, {"WATCHDOG_USEC", bad}});
            CHECK_FALSE(n.watchdog_interval());
            REQUIRE(n.warnings().size() == 1);
            CHECK(n.warnings()[0].find("WATCHDOG_USEC") != std::string::npos);
        }
    }
    SECTION("no NOTIFY_SOCKET to ping") {
        Notifier n = notifier(Vars{{"WATCHDOG_USEC", "1000000"}});
        CHECK_FALSE(n.watchdog_interval());
        CHECK(n.warnings().size() == 1);
    }
}

TEST_CASE("Notifier: --notify-fd gets READY=1 and is closed", "[notify]") {
    Pipe p;
    REQUIRE(::fcntl(p.write, F_SETFD, 0) == 0);
    const int fd = std::exchange(p.write, -1); // the notifier owns it now
    Notifier n = notifier({}, fd);
    REQUIRE(n.enabled());
    CHECK(has_cloexec(fd));
    CHECK(n.watchdog_interval() == std::nullopt);

    n.ready("ignored on the fd");
    // EOF right after the line proves the notifier closed its end.
    CHECK(p.drain() == "READY=1\n");
    CHECK_FALSE(n.enabled());

    n.ready("again"); // nothing left to write to; must not touch the old fd
}

TEST_CASE("Notifier: --notify-fd together with NOTIFY_SOCKET", "[notify]") {
    Receiver manager = Receiver::at_path();
    Pipe p;
    Notifier n = notifier({{"NOTIFY_SOCKET", manager.address()}}, std::exchange(p.write, -1));
    n.ready("both");
    CHECK(manager.next() == "READY=1\nSTATUS=both");
    CHECK(p.drain() == "READY=1\n");
    CHECK(n.enabled()); // the socket is still there
}

TEST_CASE("Notifier: destroyed before ready closes the fd without a line", "[notify]") {
    Pipe p;
    {
        Notifier n = notifier({}, std::exchange(p.write, -1));
        CHECK(n.enabled());
    }
    CHECK(p.drain() == "");
}

TEST_CASE("Notifier: a closed --notify-fd is ignored with a warning", "[notify]") {
    int closed;
    {
        Pipe p;
        closed = p.write;
    }
    Notifier n = notifier({}, closed);
    CHECK_FALSE(n.enabled());
    REQUIRE(n.warnings().size() == 1);
    CHECK(n.warnings()[0].find(std::to_string(closed)) != std::string::npos);
}

TEST_CASE("Notifier: a reader that went away does not kill us with SIGPIPE", "[notify]") {
    Pipe p;
    ::close(std::exchange(p.read, -1));
    Notifier n = notifier({}, std::exchange(p.write, -1));
    n.ready(""); // would terminate the test run if SIGPIPE were raised

    sigset_t pending, mask;
    sigemptyset(&pending);
    ::sigpending(&pending);
    CHECK(sigismember(&pending, SIGPIPE) == 0);
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    CHECK(sigismember(&mask, SIGPIPE) == 0);
    CHECK_FALSE(n.enabled());
}

TEST_CASE("Notifier: disabled is a no-op", "[notify]") {
    SECTION("default constructed") {
        Notifier n;
        CHECK_FALSE(n.enabled());
        CHECK_FALSE(n.send("READY=1"));
        n.ready("x");
        n.status("x");
        n.stopping();
        n.watchdog();
        CHECK_FALSE(n.watchdog_interval());
        CHECK(n.socket_path().empty());
    }
    SECTION("from an empty environment") {
        Notifier n = notifier({});
        CHECK_FALSE(n.enabled());
        CHECK_FALSE(n.send("READY=1"));
        n.ready("x");
        CHECK(n.warnings().empty());
    }
}

TEST_CASE("Notifier: moves hand over the socket and the fd", "[notify]") {
    Receiver manager = Receiver::at_path();
    Pipe p;
    Notifier a = notifier({{"NOTIFY_SOCKET", manager.address()}, {"WATCHDOG_USEC", "2000000"}},
                          std::exchange(p.write, -1));
    CHECK(a.send("STATUS=before")); // opens the sending socket
    CHECK(manager.next() == "STATUS=before");

    Notifier b = std::move(a);
    CHECK_FALSE(a.enabled()); // NOLINT(bugprone-use-after-move): checking the moved-from state
    CHECK_FALSE(a.send("STATUS=moved-from"));
    REQUIRE(b.enabled());
    CHECK(b.watchdog_interval() == std::optional<std::chrono::microseconds>(1s));

    Notifier c;
    c = std::move(b);
    CHECK_FALSE(b.enabled()); // NOLINT(bugprone-use-after-move)
    c.ready("moved");
    CHECK(manager.next() == "READY=1\nSTATUS=moved");
    CHECK(p.drain() == "READY=1\n");
    CHECK(manager.idle());
}
