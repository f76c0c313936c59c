// Sockets handed to kresd by whoever started it.
//
// Three sources, all producing the same list of Inherited sockets:
//   * the sd_listen_fds protocol (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), the
//     way systemd, systemd-socket-activate and small supervisors pass sockets;
//   * launchd (launch_activate_socket), macOS only;
//   * `-S FD[:KIND]` on the command line.
// The kind of every socket is decided by its name (and SO_TYPE for `dns`),
// never by its position. Nothing here binds, listens or owns an event loop:
// callers get plain file descriptors and decide what to serve on them.
//
// Startup code: errors are thrown as ActivationError with a one-line message
// that a user can act on.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace kresd::activation {

enum class Kind { dns, tls, doh2, control };

// "dns", "tls", "doh2", "control"; "doh" is accepted as doh2 and sets
// *deprecated_alias (when given) so the caller can warn. Anything else: nullopt.
std::optional<Kind> parse_kind(std::string_view name, bool* deprecated_alias = nullptr);
const char* kind_name(Kind k);

struct Inherited {
    int fd = -1;
    Kind kind = Kind::dns;
    int socktype = 0;    // SOCK_DGRAM or SOCK_STREAM, read with getsockopt(SO_TYPE)
    std::string name;    // the name it was passed under ("" when none)
};

struct ActivationError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Environment lookup, injectable for tests. Returns nullptr when unset.
using GetEnv = std::function<const char*(const char*)>;

struct Collected {
    std::vector<Inherited> sockets;
    std::vector<std::string> warnings; // one line each, to be logged by the caller
};

// The sd_listen_fds protocol (see sd_listen_fds(3)):
//  * nothing happens unless LISTEN_PID equals `self` and LISTEN_FDS is set
//    (a different PID means the variables were meant for another process:
//    they are ignored, with a warning, and still unset);
//  * fds are 3 .. 3+LISTEN_FDS-1 and get FD_CLOEXEC;
//  * LISTEN_FDNAMES is a ':'-separated list; a missing list, an empty entry
//    or "unknown" means `dns`; "doh" means doh2 (warning); any other name
//    is an ActivationError naming it and its fd;
//  * more or fewer names than fds, a non-numeric or out-of-range count, or
//    an fd that is not an open socket are ActivationErrors;
//  * at most one `control` socket;
//  * `dns` is UDP or TCP by SO_TYPE; tls/doh2/control must be SOCK_STREAM.
// When `unset_env` is true, LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are
// removed from the real environment afterwards (also on error and on a PID
// mismatch), so children and re-reads never see them.
// Details of this implementation: LISTEN_PID and LISTEN_FDS are plain
// decimals (no sign, spaces or 0x); a malformed LISTEN_PID is an
// ActivationError; LISTEN_FDS may be 0 (no sockets) up to 1024; an empty
// LISTEN_FDNAMES counts as absent; LISTEN_FDS without LISTEN_PID (or the
// reverse) only warns. Names are checked before any fd is looked at. On a
// PID mismatch the fds are not touched at all.
Collected from_listen_fds(pid_t self, const GetEnv& getenv, bool unset_env);

// launchd (macOS): sockets from the plist's Sockets dictionary, whose keys
// are the kinds ("dns", "tls", "doh2", "control"). Elsewhere: empty.
// Not started by launchd, or keys missing from the plist: nothing (no error).
// Other launchd failures, sockets whose type does not fit the key, and more
// than one control socket are ActivationErrors. The name is the key.
Collected from_launchd();

// `-S FD[:KIND]`: parses the spec (kind defaults to dns) and checks that FD
// is an open socket of a type that fits the kind; sets FD_CLOEXEC on it.
// `name` in the result is the KIND text as given ("" without one; "doh" for
// the deprecated alias).
Inherited from_fd_spec(std::string_view spec);

// Only the parsing half of from_fd_spec (no checks of the fd), for the CLI.
// Throws ActivationError on a malformed spec, including FD 0, 1 or 2. Its
// messages do not name the option: the CLI puts "-S: " or "--fd: " in front.
// `*deprecated_alias` (when given) is set as by parse_kind.
std::pair<int, Kind> parse_fd_spec(std::string_view spec, bool* deprecated_alias = nullptr);

// Only the checking half of from_fd_spec, for a spec that parse_fd_spec has
// already taken apart: FD must be open and a socket fitting `kind`; it gets
// FD_CLOEXEC. `name` is stored in the result as it is.
Inherited from_fd(int fd, Kind kind, std::string name = {});

} // namespace kresd::activation
