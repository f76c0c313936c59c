// Small helpers on wire names (dns::Name) used inside the resolution core.
// Every function takes well-formed uncompressed names (as dns::Name holds
// them); comparisons are ASCII case-insensitive (RFC 4343).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "dns/wire.hpp"

namespace kresd::resolve::names {

dns::Name root();
// Exactly one well-formed uncompressed name filling `wire`.
bool from_wire(std::span<const uint8_t> wire, dns::Name& out);
// Like from_wire(), but `wire` may continue after the name; `used` gets its length.
bool read_prefix(std::span<const uint8_t> wire, dns::Name& out, size_t& used);

bool equal(const dns::Name& a, const dns::Name& b);
// `name` equals `zone` or is below it.
bool in_zone(const dns::Name& name, const dns::Name& zone);
// `name` is strictly below `zone`.
bool below(const dns::Name& name, const dns::Name& zone);
int labels(const dns::Name& n);
// The name without its first label; the root stays the root.
dns::Name parent(const dns::Name& n);
// The last `count` labels of `n` (all of them when count >= labels(n)).
dns::Name suffix(const dns::Name& n, int count);
dns::Name lower(const dns::Name& n);
// DNAME substitution (RFC 6672 2.2): `name` is below `owner`; the labels
// above `owner` are put in front of `target`. nullopt when the result would
// exceed 255 bytes.
std::optional<dns::Name> substitute(const dns::Name& name, const dns::Name& owner,
                                    const dns::Name& target);
std::string text(const dns::Name& n);

// RFC 8509 3.2: a first label root-key-sentinel-is-ta-<5 digits> or
// root-key-sentinel-not-ta-<5 digits> (any case); nullopt for other names.
struct Sentinel {
    bool is_ta = false;
    unsigned key_tag = 0;
};
std::optional<Sentinel> sentinel(const dns::Name& n);

} // namespace kresd::resolve::names
