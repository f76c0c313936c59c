// Which instance this process is.
//
// The name comes from --instance, else $SYSTEMD_INSTANCE, else the PID. It
// names files (control/<name>), so it must be a safe single path component.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kresd::app {

// Empty string when `name` is acceptable, else the reason in a few words.
// Refused: empty, over 64 bytes, "." or "..", containing '/', NUL or any
// control character (bytes < 0x20 and 0x7f).
std::string check_instance_name(std::string_view name);

struct Identity {
    std::string name;      // what worker.id returns
    bool from_pid = false; // no name was given
};

// Picks the name; throws std::runtime_error with a one-line message when the
// name given is not acceptable.
Identity resolve_identity(const std::optional<std::string>& flag, const char* systemd_instance,
                          long pid);

} // namespace kresd::app
