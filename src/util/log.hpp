// Logging to stderr, one line per message, with kresd-style group tags:
//   [system] listening on 127.0.0.1@53
// Under systemd stderr goes to the journal, so no timestamps are added.
// The level is process-wide state set once at start (and by verbose() /
// log_level() from Lua); it is the one mutable global we keep.
#pragma once

#include <cstdarg>
#include <string_view>

namespace kresd::util {

enum class Level { crit = 2, err = 3, warning = 4, notice = 5, info = 6, debug = 7 };

void set_log_level(Level l);
Level log_level();
bool log_enabled(Level l);
Level parse_level(std::string_view name, bool* ok);
const char* level_name(Level l);

// printf-style; `group` is a short tag such as "system", "net", "contrl".
void log(Level l, const char* group, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

} // namespace kresd::util

#define KR_LOG(level, group, ...)                                                                  \
    do {                                                                                           \
        if (::kresd::util::log_enabled(::kresd::util::Level::level))                               \
            ::kresd::util::log(::kresd::util::Level::level, group, __VA_ARGS__);                   \
    } while (0)
