// Test helpers: real descriptors placed where a service manager would put
// them (3, 4, 5, ...), and an injectable environment.
#pragma once

#include <cerrno>
#include <fcntl.h>
#include <map>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include "activation/activation.hpp"

namespace kresd::activation::test {

// Descriptors the tests create are moved up here at once, so they never sit
// on 3, 4, 5, ... where the code under test looks.
inline constexpr int high_base = 600;

class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
};

// Moves `fd` to a descriptor >= high_base (close-on-exec) and closes the old one.
inline Fd move_high(int fd) {
    if (fd < 0) throw std::runtime_error("test setup: descriptor creation failed");
    int high = ::fcntl(fd, F_DUPFD_CLOEXEC, high_base);
    ::close(fd);
    if (high < 0) throw std::runtime_error("test setup: F_DUPFD_CLOEXEC failed");
    return Fd(high);
}

// An unbound socket: enough for SO_TYPE, touches no network.
inline Fd make_socket(int domain, int type) {
    return move_high(::socket(domain, type, 0));
}
inline Fd udp_socket() {
    return make_socket(AF_INET, SOCK_DGRAM);
}
inline Fd tcp_socket() {
    return make_socket(AF_INET, SOCK_STREAM);
}
inline Fd unix_stream_socket() {
    return make_socket(AF_UNIX, SOCK_STREAM);
}

struct Pipe {
    Fd read, write;
};
inline Pipe make_pipe() {
    int p[2];
    if (::pipe(p) < 0) throw std::runtime_error("test setup: pipe failed");
    Pipe out;
    out.read = move_high(p[0]);
    out.write = move_high(p[1]);
    return out;
}

inline bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}
inline bool has_cloexec(int fd) {
    int flags = ::fcntl(fd, F_GETFD);
    return flags >= 0 && (flags & FD_CLOEXEC);
}

// Installs descriptors at 3, 4, 5, ... for the lifetime of the object, the
// way a service manager hands them over (dup2, so FD_CLOEXEC is clear), and
// puts back whatever occupied those numbers before. A source of -1 leaves its
// slot closed. The sources themselves are not consumed.
class InstalledFds {
  public:
    explicit InstalledFds(const std::vector<int>& sources) {
        for (size_t i = 0; i < sources.size(); ++i) {
            const int target = 3 + static_cast<int>(i);
            int saved = -1;
            if (is_open(target)) {
                saved = ::fcntl(target, F_DUPFD_CLOEXEC, high_base + 200);
                if (saved < 0) throw std::runtime_error("test setup: cannot save fd");
            }
            saved_.emplace_back(target, saved);
            if (sources[i] >= 0) {
                if (::dup2(sources[i], target) < 0)
                    throw std::runtime_error("test setup: dup2 failed");
            } else {
                ::close(target);
            }
        }
    }
    InstalledFds(const InstalledFds&) = delete;
    InstalledFds& operator=(const InstalledFds&) = delete;
    ~InstalledFds() {
        for (auto [target, saved] : saved_) {
            if (saved >= 0) {
                ::dup2(saved, target);
                ::close(saved);
            } else {
                ::close(target);
            }
        }
    }

  private:
    std::vector<std::pair<int, int>> saved_;
};

// An environment made of the given variables only.
inline GetEnv env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

// The message of the ActivationError thrown by f, or "<no error>".
template <class F> std::string error_of(F&& f) {
    try {
        f();
    } catch (const ActivationError& e) {
        return e.what();
    }
    return "<no error>";
}

} // namespace kresd::activation::test
