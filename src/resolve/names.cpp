// See names.hpp.
#include <optional>
#include <string_view>
#include <cctype>
#include <algorithm>
#include "resolve/names.hpp"

#include <cstring>

namespace kresd::resolve::names {

dns::Name root()
{
    dns::Name n;
    n.wire[0] = 0;
    n.len = 1;
    return n;
}

bool read_prefix(std::span<const uint8_t> wire, dns::Name& out, size_t& used)
{
    size_t pos = 0;
    while (pos < wire.size() && pos < dns::kMaxNameWire) {
        const uint8_t len = wire[pos];
        if (len > 63)
            return false;
        if (len == 0) {
            used = pos + 1;
            std::memcpy(out.wire.data(), wire.data(), used);
            out.len = static_cast<uint8_t>(used);
            return true;
        }
        pos += size_t{1} + len;
    }
    return false;
}

bool from_wire(std::span<const uint8_t> wire, dns::Name& out)
{
    size_t used = 0;
    return read_prefix(wire, out, used) && used == wire.size();
}

bool equal(const dns::Name& a, const dns::Name& b)
{
    return a.len == b.len && dns::name_in_zone(a.view(), b.view());
}

bool in_zone(const dns::Name& name, const dns::Name& zone)
{
    return dns::name_in_zone(name.view(), zone.view());
}

bool below(const dns::Name& name, const dns::Name& zone)
{
    return name.len > zone.len && in_zone(name, zone);
}

int labels(const dns::Name& n)
{
    return dns::name_labels(n.view());
}

dns::Name parent(const dns::Name& n)
{
    if (n.len <= 1)
        return root();
    const size_t skip = size_t{1} + n.wire[0];
    dns::Name out;
    out.len = static_cast<uint8_t>(n.len - skip);
    std::memcpy(out.wire.data(), n.wire.data() + skip, out.len);
    return out;
}

dns::Name suffix(const dns::Name& n, int count)
{
    dns::Name out = n;
    for (int drop = labels(n) - count; drop > 0; --drop)
        out = parent(out);
    return out;
}

dns::Name lower(const dns::Name& n)
{
    dns::Name out = n;
    dns::name_lower(out);
    return out;
}

std::optional<dns::Name> substitute(const dns::Name& name, const dns::Name& owner,
                                    const dns::Name& target)
{
    if (!below(name, owner))
        return std::nullopt;
    const size_t prefix = name.len - owner.len;
    if (prefix + target.len > dns::kMaxNameWire)
        return std::nullopt;
    dns::Name out;
    std::memcpy(out.wire.data(), name.wire.data(), prefix);
    std::memcpy(out.wire.data() + prefix, target.wire.data(), target.len);
    out.len = static_cast<uint8_t>(prefix + target.len);
    return out;
}

std::string text(const dns::Name& n)
{
    return dns::name_to_text(n.view());
}

std::optional<Sentinel> sentinel(const dns::Name& n)
{
    static constexpr std::string_view is_ta = "root-key-sentinel-is-ta-",
                                      not_ta = "root-key-sentinel-not-ta-";
    const size_t len = n.len > 0 ? n.wire[0] : 0;
    if (len != is_ta.size() + 5 && len != not_ta.size() + 5)
        return std::nullopt;
    std::string label(reinterpret_cast<const char*>(n.wire.data() + 1), len);
    for (char& ch : label)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    Sentinel out;
    out.is_ta = label.starts_with(is_ta);
    if (!out.is_ta && !label.starts_with(not_ta))
        return std::nullopt;
    const std::string digits = label.substr(out.is_ta ? is_ta.size() : not_ta.size());
    if (!std::all_of(digits.begin(), digits.end(),
                     [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    out.key_tag = static_cast<unsigned>(std::stoul(digits));
    return out;
}

} // namespace kresd::resolve::names
