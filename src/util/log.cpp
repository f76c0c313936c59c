#include "util/log.hpp"

#include <cstdio>
#include <string>

namespace kresd::util {

namespace {
Level g_level = Level::notice;
}

void set_log_level(Level l) { g_level = l; }
Level log_level() { return g_level; }
bool log_enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(g_level); }

const char* level_name(Level l)
{
    switch (l) {
    case Level::crit: return "crit";
    case Level::err: return "err";
    case Level::warning: return "warning";
    case Level::notice: return "notice";
    case Level::info: return "info";
    case Level::debug: return "debug";
    }
    return "notice";
}

Level parse_level(std::string_view name, bool* ok)
{
    static constexpr Level all[] = {Level::crit,   Level::err,  Level::warning,
                                    Level::notice, Level::info, Level::debug};
    for (Level l : all) {
        if (name == level_name(l)) {
            if (ok) *ok = true;
            return l;
        }
    }
    if (ok) *ok = false;
    return g_level;
}

void log(Level, const char* group, const char* fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    std::fprintf(stderr, "[%-6s] %s\n", group, buf);
    std::fflush(stderr);
}

} // namespace kresd::util
