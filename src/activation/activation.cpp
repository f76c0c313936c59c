// LISTEN_FDS and -S. launchd lives in launchd.cpp, the per-fd checks in
// socket_check.cpp.
#include "activation/activation.hpp"

#include <climits>
#include <cstdlib>

#include "activation/socket_check.hpp"

namespace kresd::activation {

namespace {

constexpr const char* env_pid = "LISTEN_PID";
constexpr const char* env_fds = "LISTEN_FDS";
constexpr const char* env_names = "LISTEN_FDNAMES";

// The first inherited descriptor: 0, 1 and 2 stay stdin, stdout and stderr.
constexpr int first_fd = 3;

constexpr const char* kind_list = "dns, tls, doh2, control";

// Removes the three variables from the real environment when it goes out of
// scope, on every path out of from_listen_fds (including exceptions), so that
// neither a child process nor a second call sees sockets that are not theirs.
class EnvScrubber {
  public:
    explicit EnvScrubber(bool active) : active_(active) {}
    EnvScrubber(const EnvScrubber&) = delete;
    EnvScrubber& operator=(const EnvScrubber&) = delete;
    ~EnvScrubber() {
        if (!active_) return;
        ::unsetenv(env_pid);
        ::unsetenv(env_fds);
        ::unsetenv(env_names);
    }

  private:
    bool active_;
};

std::vector<std::string_view> split_names(std::string_view list) {
    std::vector<std::string_view> out;
    for (;;) {
        auto colon = list.find(':');
        out.push_back(list.substr(0, colon));
        if (colon == std::string_view::npos) break;
        list.remove_prefix(colon + 1);
    }
    return out;
}

std::string fd_origin(int fd) {
    return "fd " + std::to_string(fd) + " from LISTEN_FDS";
}

} // namespace

std::optional<Kind> parse_kind(std::string_view name, bool* deprecated_alias) {
    if (deprecated_alias) *deprecated_alias = false;
    if (name == "dns") return Kind::dns;
    if (name == "tls") return Kind::tls;
    if (name == "doh2") return Kind::doh2;
    if (name == "control") return Kind::control;
    if (name == "doh") {
        // Knot Resolver 5 called the legacy DoH implementation "doh"; its
        // successor is "doh2" and the old name now means the same thing.
        if (deprecated_alias) *deprecated_alias = true;
        return Kind::doh2;
    }
    return std::nullopt;
}

const char* kind_name(Kind k) {
    switch (k) {
    case Kind::dns:
        return "dns";
    case Kind::tls:
        return "tls";
    case Kind::doh2:
        return "doh2";
    case Kind::control:
        return "control";
    }
    return "?";
}

Collected from_listen_fds(pid_t self, const GetEnv& getenv, bool unset_env) {
    EnvScrubber scrub(unset_env);
    Collected out;

    const char* pid_text = getenv(env_pid);
    const char* fds_text = getenv(env_fds);
    const char* names_text = getenv(env_names);

    // The protocol is addressed to one process: without LISTEN_PID there is
    // no way to know that the descriptors are meant for us.
    if (!pid_text) {
        if (fds_text) out.warnings.push_back("LISTEN_FDS is set without LISTEN_PID; ignored");
        return out;
    }
    auto pid = detail::parse_decimal(pid_text, static_cast<unsigned long long>(INT_MAX));
    if (!pid || *pid == 0) {
        throw ActivationError(std::string("LISTEN_PID '") + pid_text + "' is not a process ID");
    }
    if (static_cast<pid_t>(*pid) != self) {
        // Typically inherited from a parent that was socket-activated itself;
        // the fds at 3.. (if any) are not what the variables describe.
        out.warnings.push_back(std::string("LISTEN_PID ") + pid_text + " is not our PID " +
                               std::to_string(self) +
                               "; LISTEN_FDS was meant for another process and is ignored");
        return out;
    }
    if (!fds_text) {
        out.warnings.push_back("LISTEN_PID is set but LISTEN_FDS is not; no sockets inherited");
        return out;
    }
    const std::string_view fds_view(fds_text);
    if (fds_view.empty() || fds_view.find_first_not_of("0123456789") != std::string_view::npos) {
        throw ActivationError(std::string("LISTEN_FDS '") + fds_text +
                              "' is not a number of file descriptors");
    }
    auto count = detail::parse_decimal(fds_view, detail::max_listen_fds);
    if (!count) {
        throw ActivationError(std::string("LISTEN_FDS '") + fds_text +
                              "' is out of range (at most " +
                              std::to_string(detail::max_listen_fds) + ")");
    }
    const int n = static_cast<int>(*count);
    if (n == 0) return out;

    // Names first, so that a typo in the unit is reported before anything
    // about the descriptors themselves. An empty LISTEN_FDNAMES is treated
    // like a missing one (every fd is dns).
    std::vector<std::string_view> names;
    if (names_text && *names_text) {
        names = split_names(names_text);
        if (names.size() != static_cast<size_t>(n)) {
            throw ActivationError("LISTEN_FDNAMES has " + std::to_string(names.size()) +
                                  (names.size() == 1 ? " name" : " names") + " for " +
                                  std::to_string(n) + (n == 1 ? " fd" : " fds") +
                                  " (LISTEN_FDS=" + fds_text + ")");
        }
    }

    std::vector<Kind> kinds(static_cast<size_t>(n), Kind::dns);
    int control_fd = -1;
    for (size_t i = 0; i < names.size(); ++i) {
        const int fd = first_fd + static_cast<int>(i);
        std::string_view name = names[i];
        // systemd uses "unknown" for sockets it has no name for.
        if (name.empty() || name == "unknown") continue;
        bool alias = false;
        auto kind = parse_kind(name, &alias);
        if (!kind) {
            throw ActivationError("LISTEN_FDNAMES names '" + std::string(name) + "' for fd " +
                                  std::to_string(fd) + ": not one of " + kind_list);
        }
        if (alias) {
            out.warnings.push_back("LISTEN_FDNAMES names 'doh' for fd " + std::to_string(fd) +
                                   ": deprecated, use 'doh2' (served as doh2)");
        }
        if (*kind == Kind::control) {
            if (control_fd >= 0) {
                throw ActivationError("LISTEN_FDNAMES names 'control' for fd " +
                                      std::to_string(control_fd) + " and fd " + std::to_string(fd) +
                                      ": at most one control socket");
            }
            control_fd = fd;
        }
        kinds[i] = *kind;
    }

    out.sockets.reserve(kinds.size());
    for (size_t i = 0; i < kinds.size(); ++i) {
        const int fd = first_fd + static_cast<int>(i);
        std::string name = i < names.size() ? std::string(names[i]) : std::string();
        out.sockets.push_back(detail::inspect(fd, kinds[i], std::move(name), fd_origin(fd)));
    }
    return out;
}

std::pair<int, Kind> parse_fd_spec(std::string_view spec, bool* deprecated_alias) {
    if (deprecated_alias) *deprecated_alias = false;
    auto colon = spec.find(':');
    std::string_view fd_text = spec.substr(0, colon);

    if (fd_text.empty() || fd_text.find_first_not_of("0123456789") != std::string_view::npos) {
        throw ActivationError("'" + std::string(fd_text) +
                              "' is not a file descriptor number (expected FD or FD:KIND)");
    }
    auto fd = detail::parse_decimal(fd_text, static_cast<unsigned long long>(INT_MAX));
    if (!fd) throw ActivationError("fd " + std::string(fd_text) + " is out of range");
    if (*fd < static_cast<unsigned long long>(first_fd)) {
        throw ActivationError("fd " + std::to_string(*fd) +
                              " is stdin, stdout or stderr, not a listening socket");
    }

    Kind kind = Kind::dns;
    if (colon != std::string_view::npos) {
        std::string_view kind_text = spec.substr(colon + 1);
        if (kind_text.empty()) {
            throw ActivationError("'" + std::string(spec) +
                                  "' has no kind after ':' (expected FD or FD:KIND)");
        }
        auto parsed = parse_kind(kind_text, deprecated_alias);
        if (!parsed) {
            throw ActivationError("kind '" + std::string(kind_text) + "' is not one of " +
                                  kind_list);
        }
        kind = *parsed;
    }
    return {static_cast<int>(*fd), kind};
}

Inherited from_fd(int fd, Kind kind, std::string name) {
    return detail::inspect(fd, kind, std::move(name),
                           "fd " + std::to_string(fd) + " given with -S");
}

Inherited from_fd_spec(std::string_view spec) {
    auto [fd, kind] = parse_fd_spec(spec);
    auto colon = spec.find(':');
    std::string name =
        colon == std::string_view::npos ? std::string() : std::string(spec.substr(colon + 1));
    return from_fd(fd, kind, std::move(name));
}

} // namespace kresd::activation
