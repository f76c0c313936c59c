// One include for Catch2 v2 (Debian 12) and v3 (newer distributions).
#pragma once
#ifdef KRESD_CATCH3
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#ifdef KRESD_CATCH3
#include <string>
namespace Catch {
// v2's name for the substring matcher, so tests read the same on both.
inline auto Contains(const std::string& s) { return Matchers::ContainsSubstring(s); }
} // namespace Catch
#endif
