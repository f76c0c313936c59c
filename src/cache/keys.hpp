// Cache keys (private to src/cache).
//
// A key is the owner name in "lookup format" followed by a tag:
//
//     lf(name) 0x00 kind type_hi type_lo
//
// lf(name) is the name's labels in reverse order (root side first), each
// lower-cased (ASCII) and followed by a 0x00 terminator; the root's lf is
// empty. So "www.Example.COM." -> "com\0example\0www\0". Label bytes 0x00 and
// 0x01 are escaped as 0x01 0x01 and 0x01 0x02, so 0x00 only ever terminates
// a label and the order stays RFC 4034 canonical (a shorter label sorts
// first; bytes compare unsigned, as LMDB's default memcmp order does).
//
// Consequences the cache relies on:
//  * lf(zone) is a prefix of lf(name) exactly when name is zone or below it,
//    so the subtree of a zone is one contiguous key range: clear(name) is a
//    range delete over the prefix lf(name).
//  * The separator 0x00 after lf(name) sorts before every child label (a
//    label is never empty), so a name's own entries sort right after its
//    zone's own entries (and earlier siblings' subtrees), before its
//    children, and its whole subtree sorts before the next sibling.
//  * Comparison is case-insensitive because keys are lower-cased.
//
// One key, "\0\0V", is reserved for the cache's format marker; no entry key
// starts with "\0\0" (the byte after the root's separator is a kind letter).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace kresd::cache::keys {

// Kinds of entry, stored as the tag byte after the separator.
enum class Kind : uint8_t {
    rrset = 'R',    // positive RRset of (name, type)
    nodata = 'N',   // NODATA of (name, type)
    nxdomain = 'X', // NXDOMAIN of the name (type is 0)
};

// LMDB's default maximum key size. Every valid name fits: the longest key,
// a 255-byte name of four labels full of escaped bytes, takes 508 bytes.
inline constexpr size_t kMaxKey = 511;

struct Key {
    // Not zeroed: only the first len bytes mean anything (a key is built
    // per lookup, and zeroing the whole buffer cost more than building it).
    std::array<uint8_t, kMaxKey> buf;
    size_t len = 0;
    std::span<const uint8_t> view() const { return {buf.data(), len}; }
};

// The format marker's key.
inline constexpr std::array<uint8_t, 3> kMetaKey{0x00, 0x00, 'V'};
bool is_meta_key(std::span<const uint8_t> key);

// Checks that `name` is exactly one uncompressed wire name (labels of at
// most 63 bytes, at most 255 bytes in all, ending with the root label).
bool valid_name(std::span<const uint8_t> name);

// lf(name) into out. False when the name is malformed or too long.
bool name_prefix(std::span<const uint8_t> name, Key& out);
// The full key of an entry. False when the name is malformed or too long.
bool make_key(std::span<const uint8_t> owner, Kind kind, uint16_t type, Key& out);

// Replaces the tag of a key made by make_key() (same owner, other entry).
void retag(Key& key, Kind kind, uint16_t type);

// Writes the lower-cased copy of a valid wire name into `out` (same length).
void lower_name(std::span<const uint8_t> name, std::span<uint8_t> out);

} // namespace kresd::cache::keys
