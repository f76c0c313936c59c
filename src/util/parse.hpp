// Strict number parsing for values that come from the environment and the
// command line, where "12x", " 12", "+12" and "-1" must all be refused.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>

namespace kresd::util {

// Decimal digits only (no sign, no spaces), value <= max.
inline std::optional<unsigned long long> parse_decimal(std::string_view text,
                                                       unsigned long long max)
{
    if (text.empty()) return std::nullopt;
    for (char c : text)
        if (c < '0' || c > '9') return std::nullopt;
    unsigned long long value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || value > max) return std::nullopt;
    return value;
}

} // namespace kresd::util
