// Service manager readiness without libsystemd.
//
// sd_notify protocol: one datagram per message to the AF_UNIX socket named by
// $NOTIFY_SOCKET (a path, or "@name" for the Linux abstract namespace).
// Messages are newline-separated KEY=VALUE lines: READY=1, STATUS=...,
// WATCHDOG=1, STOPPING=1, MAINPID=...
//
// OpenRC's `notify=fd:N` (and kresd's --notify-fd N): once ready, a line is
// written to fd N and the fd is closed.
//
// Nothing here throws: a notifier that cannot reach its manager degrades to
// fewer (or no) messages, and from_env() reports what it had to ignore in
// warnings().
//
// A Notifier that has neither is disabled and every call is a no-op.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "activation/activation.hpp"

namespace kresd::app {

class Notifier {
public:
    Notifier() = default;
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (honoured only when
    // it is unset or equals `self`). `notify_fd` < 0 means none.
    //
    // NOTIFY_SOCKET must be an absolute path or "@name" (abstract namespace,
    // Linux only) that fits in sockaddr_un; anything else is ignored with a
    // warning. WATCHDOG_USEC must be a plain decimal > 0; the watchdog only
    // applies when there is also a usable NOTIFY_SOCKET to send WATCHDOG=1 to.
    // The Notifier takes ownership of `notify_fd` (it gets FD_CLOEXEC and is
    // closed by ready() or, failing that, by the destructor — which a
    // supervisor sees as "exited without becoming ready").
    static Notifier from_env(pid_t self, const activation::GetEnv& getenv, int notify_fd = -1);

    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;
    Notifier(Notifier&&) noexcept;
    Notifier& operator=(Notifier&&) noexcept;
    ~Notifier();

    bool enabled() const { return !socket_path_.empty() || notify_fd_ >= 0; }
    // Sends one message as it is. Returns false (and does not throw) when
    // there is no socket or the send failed.
    bool send(std::string_view message);

    // READY=1 (+ STATUS= when status is not empty); also writes to and closes
    // the --notify-fd descriptor.
    // In every STATUS= text, newlines become spaces so that it stays one
    // line and cannot smuggle in other keys.
    void ready(std::string_view status);
    void status(std::string_view status);
    void stopping();
    void watchdog();

    // Half of WATCHDOG_USEC, when a watchdog applies to this process.
    std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_interval_; }

    const std::string& socket_path() const { return socket_path_; }

    // What from_env() ignored and why, one line each, for the caller to log.
    const std::vector<std::string>& warnings() const { return warnings_; }

private:
    std::string socket_path_;
    int sock_ = -1;      // created lazily on first send; each send is a sendto()
    int notify_fd_ = -1;
    std::optional<std::chrono::microseconds> watchdog_interval_;
    std::vector<std::string> warnings_;
};

} // namespace kresd::app
