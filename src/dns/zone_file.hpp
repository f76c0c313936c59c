// Reading a zone file record by record with ldns's parser, knowing the
// line each record ends on, so that every error reads "PATH:LINE: why".
// Used for trust anchor files and prefill's root zone.
#pragma once

#include <cstdio>
#include <functional>
#include <optional>
#include <string>

#include "dns/ldns.hpp"

namespace kresd::dns {

// Calls `each(rr, line)` for every record of the open file `f` (named
// `path` in messages), relative to `origin` (nullptr: none), with
// `default_ttl` until a $TTL. `each` returns an empty string to go on, or
// why the record is refused, which ends the reading. Returns nullopt at
// the end of the file, or "PATH:LINE: why" (a parse error, $INCLUDE, a
// read error or the reason `each` gave). `lines`, if given, gets the line
// count ldns reached (for errors about the file as a whole).
std::optional<std::string> read_zone_file(
    std::FILE* f, const std::string& path, const char* origin, uint32_t default_ttl,
    const std::function<std::string(const ldns_rr* rr, int line)>& each, int* lines = nullptr);

} // namespace kresd::dns
