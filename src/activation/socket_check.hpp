// Private to src/activation: the checks every inherited descriptor goes
// through, whichever way it was handed to us (LISTEN_FDS, launchd, -S).
#pragma once

#include "util/parse.hpp"

#include <string>
#include <string_view>

#include "activation/activation.hpp"

namespace kresd::activation::detail {

// Largest LISTEN_FDS we accept. Far more than any real unit passes, small
// enough that 3 + count can never overflow an int.
inline constexpr unsigned long long max_listen_fds = 1024;

using util::parse_decimal; // strict decimal, see util/parse.hpp

// True when a socket of `socktype` can serve `kind`: dns takes datagrams or
// streams, everything else needs a stream.
bool fits(Kind kind, int socktype);

// Checks that `fd` is open and a socket whose type fits `kind`, then sets
// FD_CLOEXEC on it. `origin` names the fd in messages, e.g.
// "fd 4 from LISTEN_FDS"; `name` is stored in the result as it is.
// Throws ActivationError.
Inherited inspect(int fd, Kind kind, std::string name, const std::string& origin);

} // namespace kresd::activation::detail
