// Name arithmetic for the validator: bounds-checked reading of names inside
// rdata, label counting and suffixes, and RFC 4034 6.1 canonical order.
#include <algorithm>
#include <array>
#include <cstring>

#include "dnssec/internal.hpp"

namespace kresd::dnssec {
namespace detail {

namespace {
inline uint8_t lower(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
}

// Offsets of each label's length byte; returns the label count or -1.
int label_offsets(const dns::Name& n, std::array<uint8_t, 128>& offs) {
    int count = 0;
    size_t pos = 0;
    while (pos < n.len) {
        const uint8_t l = n.wire[pos];
        if (l == 0) return pos + 1 == n.len ? count : -1;
        if (l > 63 || count >= 127) return -1;
        offs[count++] = static_cast<uint8_t>(pos);
        pos += size_t{1} + l;
    }
    return -1;
}
} // namespace

bool read_name(std::span<const uint8_t> buf, size_t& pos, dns::Name& out) {
    size_t p = pos;
    size_t len = 0;
    for (;;) {
        if (p >= buf.size()) return false;
        const uint8_t l = buf[p];
        if (l > 63) // a compression pointer or an extended label type
            return false;
        if (len + 1 + l > dns::kMaxNameWire || p + 1 + l > buf.size()) return false;
        std::memcpy(out.wire.data() + len, buf.data() + p, size_t{1} + l);
        len += size_t{1} + l;
        p += size_t{1} + l;
        if (l == 0) break;
    }
    out.len = static_cast<uint8_t>(len);
    pos = p;
    return true;
}

int label_count(const dns::Name& n) {
    return dns::name_labels(n.view());
}

bool name_equal(const dns::Name& a, const dns::Name& b) {
    if (a.len != b.len) return false;
    for (size_t i = 0; i < a.len; ++i)
        if (lower(a.wire[i]) != lower(b.wire[i])) return false;
    return true;
}

bool name_below(const dns::Name& name, const dns::Name& zone) {
    return name.len > zone.len && dns::name_in_zone(name.view(), zone.view());
}

dns::Name name_suffix(const dns::Name& n, int keep) {
    const int count = label_count(n);
    dns::Name out;
    size_t pos = 0;
    for (int i = 0; i < count - keep && pos < n.len; ++i)
        pos += size_t{1} + n.wire[pos];
    if (count < 0 || pos >= n.len) {
        out.wire[0] = 0;
        out.len = 1;
        return out;
    }
    out.len = static_cast<uint8_t>(n.len - pos);
    std::memcpy(out.wire.data(), n.wire.data() + pos, out.len);
    return out;
}

bool name_wildcard(const dns::Name& n, dns::Name& out) {
    if (size_t{n.len} + 2 > dns::kMaxNameWire) return false;
    dns::Name w;
    w.wire[0] = 1;
    w.wire[1] = '*';
    std::memcpy(w.wire.data() + 2, n.wire.data(), n.len);
    w.len = static_cast<uint8_t>(n.len + 2);
    out = w;
    return true;
}

bool name_is_wildcard(const dns::Name& n) {
    return n.len >= 3 && n.wire[0] == 1 && n.wire[1] == '*';
}

dns::Name name_lowered(const dns::Name& n) {
    dns::Name out = n;
    dns::name_lower(out);
    return out;
}

int common_labels(const dns::Name& a, const dns::Name& b) {
    std::array<uint8_t, 128> oa{}, ob{};
    const int na = label_offsets(a, oa);
    const int nb = label_offsets(b, ob);
    if (na < 0 || nb < 0) return 0;
    int common = 0;
    while (common < na && common < nb) {
        const uint8_t* la = a.wire.data() + oa[na - 1 - common];
        const uint8_t* lb = b.wire.data() + ob[nb - 1 - common];
        if (la[0] != lb[0]) break;
        bool same = true;
        for (size_t i = 1; i <= la[0]; ++i)
            if (lower(la[i]) != lower(lb[i])) {
                same = false;
                break;
            }
        if (!same) break;
        ++common;
    }
    return common;
}

} // namespace detail

int canonical_compare(const dns::Name& a, const dns::Name& b) {
    // RFC 4034 6.1: compare label by label from the root; each label as a
    // lower-cased octet string, a missing octet sorting first.
    std::array<uint8_t, 128> oa{}, ob{};
    const int na = detail::label_offsets(a, oa);
    const int nb = detail::label_offsets(b, ob);
    if (na < 0 || nb < 0) { // malformed names sort by their bytes, consistently
        const auto c = std::lexicographical_compare_three_way(
            a.wire.begin(), a.wire.begin() + a.len, b.wire.begin(), b.wire.begin() + b.len);
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    for (int i = 0; i < na && i < nb; ++i) {
        const uint8_t* la = a.wire.data() + oa[na - 1 - i];
        const uint8_t* lb = b.wire.data() + ob[nb - 1 - i];
        const size_t n = std::min(la[0], lb[0]);
        for (size_t k = 1; k <= n; ++k) {
            const uint8_t ca = detail::lower(la[k]);
            const uint8_t cb = detail::lower(lb[k]);
            if (ca != cb) return ca < cb ? -1 : 1;
        }
        if (la[0] != lb[0]) return la[0] < lb[0] ? -1 : 1;
    }
    return na == nb ? 0 : (na < nb ? -1 : 1);
}

} // namespace kresd::dnssec
