#include "cache/keys.hpp"

#include <algorithm>

namespace kresd::cache::keys {

namespace {

constexpr size_t kMaxName = 255;
constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxLabels = 128;

uint8_t lower(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
}

// Offsets of each label's length byte, root label excluded. Returns the
// label count, or -1 when the name is malformed.
int label_offsets(std::span<const uint8_t> name, std::array<uint8_t, kMaxLabels>& offs) {
    if (name.empty() || name.size() > kMaxName) return -1;
    size_t pos = 0;
    int n = 0;
    while (true) {
        if (pos >= name.size()) return -1;
        const uint8_t len = name[pos];
        if (len == 0) return pos + 1 == name.size() ? n : -1;
        if (len > kMaxLabel) return -1; // also rejects compression pointers
        if (n >= static_cast<int>(kMaxLabels)) return -1;
        offs[n++] = static_cast<uint8_t>(pos);
        pos += 1 + len;
    }
}

} // namespace

bool is_meta_key(std::span<const uint8_t> key) {
    return key.size() == kMetaKey.size() && std::equal(key.begin(), key.end(), kMetaKey.begin());
}

bool valid_name(std::span<const uint8_t> name) {
    std::array<uint8_t, kMaxLabels> offs;
    return label_offsets(name, offs) >= 0;
}

bool name_prefix(std::span<const uint8_t> name, Key& out) {
    std::array<uint8_t, kMaxLabels> offs;
    const int n = label_offsets(name, offs);
    if (n < 0) return false;
    // At most 2 bytes per name byte plus a separator per label: a name of
    // <= 255 bytes always fits the buffer, so no check per byte.
    static_assert(2 * kMaxName + 1 <= kMaxKey);
    uint8_t* w = out.buf.data();
    for (int i = n - 1; i >= 0; --i) {
        const uint8_t* label = name.data() + offs[i];
        const size_t len = label[0];
        for (size_t j = 1; j <= len; ++j) {
            const uint8_t c = lower(label[j]);
            if (c > 1) [[likely]] {
                *w++ = c;
            } else { // keep 0x00 for the separator: 0x00 -> 01 01, 0x01 -> 01 02
                *w++ = 0x01;
                *w++ = static_cast<uint8_t>(c + 1);
            }
        }
        *w++ = 0x00;
    }
    out.len = static_cast<size_t>(w - out.buf.data());
    return true;
}

bool make_key(std::span<const uint8_t> owner, Kind kind, uint16_t type, Key& out) {
    if (!name_prefix(owner, out)) return false;
    if (out.len + 4 > out.buf.size()) return false;
    out.buf[out.len++] = 0x00;
    out.buf[out.len++] = static_cast<uint8_t>(kind);
    out.buf[out.len++] = static_cast<uint8_t>(type >> 8);
    out.buf[out.len++] = static_cast<uint8_t>(type & 0xff);
    return true;
}

void retag(Key& key, Kind kind, uint16_t type) {
    if (key.len < 4) return;
    key.buf[key.len - 3] = static_cast<uint8_t>(kind);
    key.buf[key.len - 2] = static_cast<uint8_t>(type >> 8);
    key.buf[key.len - 1] = static_cast<uint8_t>(type & 0xff);
}

void lower_name(std::span<const uint8_t> name, std::span<uint8_t> out) {
    size_t pos = 0;
    while (pos < name.size() && pos < out.size()) {
        const uint8_t len = name[pos];
        out[pos] = len;
        for (size_t j = 1; j <= len && pos + j < name.size() && pos + j < out.size(); ++j)
            out[pos + j] = lower(name[pos + j]);
        if (len == 0) break;
        pos += 1 + len;
    }
}

} // namespace kresd::cache::keys
