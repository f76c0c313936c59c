#include "modules/subnet.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <string>

namespace kresd::modules {

bool Subnet::contains(std::span<const uint8_t> addr) const
{
    if (addr.size() * 8 < bits)
        return false;
    const unsigned whole = bits / 8, rest = bits % 8;
    for (unsigned i = 0; i < whole; ++i)
        if (addr[i] != bytes[i]) return false;
    if (rest == 0) return true;
    const auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
    return (addr[whole] & mask) == (bytes[whole] & mask);
}

std::optional<Subnet> parse_ip(std::string_view text)
{
    Subnet s;
    s.v6 = text.find(':') != std::string_view::npos;
    const std::string z(text);
    if (inet_pton(s.v6 ? AF_INET6 : AF_INET, z.c_str(), s.bytes.data()) != 1)
        return std::nullopt;
    s.bits = static_cast<unsigned>(s.size() * 8);
    return s;
}

std::optional<Subnet> parse_subnet(std::string_view text)
{
    const auto slash = text.find('/');
    auto s = parse_ip(text.substr(0, slash));
    if (!s || slash == std::string_view::npos)
        return s;
    const std::string_view len = text.substr(slash + 1);
    unsigned bits = 0;
    const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
    if (len.empty() || ec != std::errc() || end != len.data() + len.size() || bits > s->size() * 8)
        return std::nullopt;
    s->bits = bits;
    return s;
}

} // namespace kresd::modules
