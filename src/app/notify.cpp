// sd_notify without libsystemd, plus OpenRC's readiness fd.
//
// What a service manager expects (see sd_notify(3)): each state change is
// one datagram of newline-separated KEY=VALUE lines, sent to the AF_UNIX
// socket named by NOTIFY_SOCKET. The manager learns who sent it from the
// socket credentials, so nothing else needs to be in the message. A name
// starting with '@' lives in Linux's abstract namespace: its sockaddr starts
// with a NUL byte and its length counts only the name's bytes (no trailing
// NUL), otherwise the kernel would look up a different name.
//
// The watchdog (see sd_watchdog_enabled(3)): WATCHDOG_USEC is the period after
// which the manager considers us hung; it is meant for the process named by
// WATCHDOG_PID, or for the main process when that is unset. Pinging at half
// the period leaves room for a slow loop iteration.
#include "app/notify.hpp"
#include "util/parse.hpp"

#include <cerrno>
#include <charconv>
#include <climits>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace kresd::app {

namespace {

void close_fd(int& fd) noexcept {
    if (fd >= 0) {
        // Even when close() reports EINTR the descriptor is gone (Linux, and
        // what POSIX 2024 settles on), so it is never retried.
        ::close(fd);
        fd = -1;
    }
}

// Fills `addr` for a NOTIFY_SOCKET value; returns the address length to pass
// to sendto(), or 0 when the value cannot be used.
socklen_t make_address(const std::string& where, sockaddr_un& addr) {
    std::memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    const size_t base = offsetof(sockaddr_un, sun_path);
    if (!where.empty() && where[0] == '/') {
        if (where.size() >= sizeof(addr.sun_path)) return 0; // needs room for the NUL
        std::memcpy(addr.sun_path, where.data(), where.size());
        return static_cast<socklen_t>(base + where.size() + 1);
    }
#ifdef __linux__
    if (where.size() > 1 && where[0] == '@') {
        // Abstract: sun_path[0] stays NUL, the name follows, and the length
        // ends exactly at the name's last byte.
        const size_t name_len = where.size() - 1;
        if (1 + name_len > sizeof(addr.sun_path)) return 0;
        std::memcpy(addr.sun_path + 1, where.data() + 1, name_len);
        return static_cast<socklen_t>(base + 1 + name_len);
    }
#endif
    return 0;
}

int open_datagram_socket() {
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
#else
    int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        ::close(fd);
        return -1;
    }
#endif
#ifdef SO_NOSIGPIPE
    // Platforms without MSG_NOSIGNAL (macOS) have this per-socket switch.
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
    return fd;
}

// Writes all of `data` to `fd`, retrying on EINTR and short writes. If the
// reader is gone, the write fails with EPIPE instead of killing us with
// SIGPIPE: the signal is blocked around the write and, if it was raised by
// this write, consumed before the old mask comes back. (write() has no
// MSG_NOSIGNAL, and the fd may well be a pipe.)
bool write_all_nosigpipe(int fd, std::string_view data) {
    sigset_t pipe_set, old_mask, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    ::sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    const bool masked = ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask) == 0;

    bool ok = true;
    int err = 0;
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            err = errno;
            ok = false;
            break;
        }
        data.remove_prefix(static_cast<size_t>(n));
    }

    if (masked) {
        if (!ok && err == EPIPE && !was_pending) {
            sigemptyset(&pending);
            ::sigpending(&pending);
            if (sigismember(&pending, SIGPIPE) == 1) {
                int sig = 0;
                ::sigwait(&pipe_set, &sig); // pending, so this returns at once
            }
        }
        ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    }
    return ok;
}

std::string one_line(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    return out;
}

} // namespace

Notifier Notifier::from_env(pid_t self, const activation::GetEnv& getenv, int notify_fd) {
    Notifier n;

    if (const char* where = getenv("NOTIFY_SOCKET"); where && *where) {
        sockaddr_un addr;
        if (make_address(where, addr) > 0) {
            n.socket_path_ = where;
        } else {
            n.warnings_.push_back(std::string("NOTIFY_SOCKET '") + where +
                                  "' is not an absolute path or @abstract name that fits a "
                                  "unix socket address on this system; not notifying it");
        }
    }

    if (notify_fd >= 0) {
        int flags = ::fcntl(notify_fd, F_GETFD);
        if (flags < 0) {
            n.warnings_.push_back("notify fd " + std::to_string(notify_fd) +
                                  " is not open; readiness will not be written to it");
        } else {
            if (!(flags & FD_CLOEXEC)) ::fcntl(notify_fd, F_SETFD, flags | FD_CLOEXEC);
            n.notify_fd_ = notify_fd;
        }
    }

    const char* usec_text = getenv("WATCHDOG_USEC");
    if (!usec_text) return n;

    if (const char* pid_text = getenv("WATCHDOG_PID")) {
        auto pid = util::parse_decimal(pid_text, static_cast<unsigned long long>(INT_MAX));
        if (!pid || *pid == 0) {
            n.warnings_.push_back(std::string("WATCHDOG_PID '") + pid_text +
                                  "' is not a process ID; watchdog disabled");
            return n;
        }
        // Meant for another process (we are probably its child): not ours.
        if (static_cast<pid_t>(*pid) != self) return n;
    }

    auto usec = util::parse_decimal(usec_text, static_cast<unsigned long long>(INT64_MAX));
    if (!usec || *usec == 0) {
        n.warnings_.push_back(std::string("WATCHDOG_USEC '") + usec_text +
                              "' is not a positive number of microseconds; watchdog disabled");
        return n;
    }
    if (n.socket_path_.empty()) {
        n.warnings_.push_back("WATCHDOG_USEC is set but there is no NOTIFY_SOCKET to ping; "
                              "watchdog disabled");
        return n;
    }
    const unsigned long long half = *usec / 2 > 0 ? *usec / 2 : 1;
    n.watchdog_interval_ = std::chrono::microseconds(static_cast<std::int64_t>(half));
    return n;
}

Notifier::Notifier(Notifier&& other) noexcept
    : socket_path_(std::move(other.socket_path_)), sock_(other.sock_), notify_fd_(other.notify_fd_),
      watchdog_interval_(other.watchdog_interval_), warnings_(std::move(other.warnings_)) {
    other.socket_path_.clear();
    other.sock_ = -1;
    other.notify_fd_ = -1;
    other.watchdog_interval_.reset();
    other.warnings_.clear();
}

Notifier& Notifier::operator=(Notifier&& other) noexcept {
    if (this == &other) return *this;
    close_fd(sock_);
    close_fd(notify_fd_);
    socket_path_ = std::move(other.socket_path_);
    sock_ = other.sock_;
    notify_fd_ = other.notify_fd_;
    watchdog_interval_ = other.watchdog_interval_;
    warnings_ = std::move(other.warnings_);
    other.socket_path_.clear();
    other.sock_ = -1;
    other.notify_fd_ = -1;
    other.watchdog_interval_.reset();
    other.warnings_.clear();
    return *this;
}

Notifier::~Notifier() {
    close_fd(sock_);
    close_fd(notify_fd_);
}

bool Notifier::send(std::string_view message) {
    if (socket_path_.empty()) return false;
    sockaddr_un addr;
    const socklen_t len = make_address(socket_path_, addr);
    if (len == 0) return false;
    if (sock_ < 0) {
        sock_ = open_datagram_socket();
        if (sock_ < 0) return false;
    }
#ifdef MSG_NOSIGNAL
    const int flags = MSG_NOSIGNAL;
#else
    const int flags = 0;
#endif
    // Not connect()ed: the manager may re-create its socket (e.g. when it
    // re-executes itself), and a fresh sendto() finds the new one.
    for (;;) {
        ssize_t n = ::sendto(sock_, message.data(), message.size(), flags,
                             reinterpret_cast<const sockaddr*>(&addr), len);
        if (n >= 0) return static_cast<size_t>(n) == message.size();
        if (errno != EINTR) return false; // includes EAGAIN: the manager is not reading
    }
}

void Notifier::ready(std::string_view status) {
    std::string message = "READY=1";
    if (!status.empty()) message += "\nSTATUS=" + one_line(status);
    send(message);

    if (notify_fd_ >= 0) {
        write_all_nosigpipe(notify_fd_, "READY=1\n");
        close_fd(notify_fd_);
    }
}

void Notifier::status(std::string_view status) {
    send("STATUS=" + one_line(status));
}

void Notifier::stopping() {
    send("STOPPING=1");
}

void Notifier::watchdog() {
    send("WATCHDOG=1");
}

} // namespace kresd::app
