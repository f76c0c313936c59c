// Test helpers for the dns/wire tests: a tiny big-endian message writer, and
// parse_query on a heap copy of exactly the right size (so that the address
// sanitizer sees any read past the end).
#pragma once

#include "catch.hpp"
#include "dns/wire.hpp"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <vector>

namespace kresd::dns::test {

struct Packet {
    // Header flag bits as one 16-bit word (RFC 1035 4.1.1).
    static constexpr uint16_t kQr = 0x8000, kAa = 0x0400, kTc = 0x0200, kRd = 0x0100,
                              kRa = 0x0080, kAd = 0x0020, kCd = 0x0010;

    std::vector<uint8_t> b;

    Packet& u8(uint8_t v)
    {
        b.push_back(v);
        return *this;
    }
    Packet& u16(uint16_t v)
    {
        b.push_back(static_cast<uint8_t>(v >> 8));
        b.push_back(static_cast<uint8_t>(v));
        return *this;
    }
    Packet& u32(uint32_t v)
    {
        u16(static_cast<uint16_t>(v >> 16));
        return u16(static_cast<uint16_t>(v));
    }
    Packet& bytes(std::initializer_list<uint8_t> v)
    {
        b.insert(b.end(), v.begin(), v.end());
        return *this;
    }
    Packet& bytes(const std::vector<uint8_t>& v)
    {
        b.insert(b.end(), v.begin(), v.end());
        return *this;
    }
    void set16(size_t pos, uint16_t v)
    {
        b.at(pos) = static_cast<uint8_t>(v >> 8);
        b.at(pos + 1) = static_cast<uint8_t>(v);
    }
    Packet& header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                   uint16_t ar)
    {
        return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
    }
    // An uncompressed name from text.
    Packet& name(std::string_view text)
    {
        Name n;
        REQUIRE(name_from_text(text, n));
        b.insert(b.end(), n.wire.begin(), n.wire.begin() + n.len);
        return *this;
    }
    // A label of `len` letters, with its length byte written as is (so it
    // may be illegal); no root label.
    Packet& raw_label(uint8_t len, char fill = 'a')
    {
        u8(len);
        b.insert(b.end(), len, static_cast<uint8_t>(fill));
        return *this;
    }
    // A name of exactly `total` wire bytes (root included), labels <= 63.
    Packet& long_name(size_t total)
    {
        size_t left = total - 1;
        char fill = 'a';
        while (left > 0) {
            REQUIRE(left >= 2);
            size_t label = left - 1 < 63 ? left - 1 : 63;
            if (left - (label + 1) == 1)
                --label; // never leave a single byte: no label fits in it
            raw_label(static_cast<uint8_t>(label), fill++);
            left -= label + 1;
        }
        return u8(0);
    }
    // An OPT RR (RFC 6891 6.1.2).
    Packet& opt(uint16_t udp, uint8_t ext_rcode, uint8_t version, bool do_bit,
                const std::vector<uint8_t>& options)
    {
        u8(0).u16(type::OPT).u16(udp);
        u32((uint32_t{ext_rcode} << 24) | (uint32_t{version} << 16) | (do_bit ? 0x8000u : 0u));
        u16(static_cast<uint16_t>(options.size()));
        return bytes(options);
    }

    // A query for "example.com. A IN" (id 0x1234, RD) followed by `hops`
    // authority records; the owner of record i is a pointer to the owner of
    // record i-1 and the first one points to the question, so the last owner
    // takes `hops` pointer hops to read. Every pointer points backwards.
    static Packet pointer_chain(uint16_t hops)
    {
        Packet p;
        p.header(0x1234, kRd, 1, 0, hops, 0).name("example.com").u16(type::A).u16(klass::IN);
        size_t prev = 12;
        for (uint16_t i = 0; i < hops; ++i) {
            const size_t here = p.b.size();
            p.u16(static_cast<uint16_t>(0xC000 | prev)).u16(type::A).u16(klass::IN).u32(0).u16(0);
            prev = here;
        }
        return p;
    }
};

// parse_query on an exact-size heap copy of `wire`.
inline ParseStatus parse_exact(const std::vector<uint8_t>& wire, Query& q)
{
    if (wire.empty())
        return parse_query({}, q);
    auto copy = std::make_unique<uint8_t[]>(wire.size());
    std::copy(wire.begin(), wire.end(), copy.get());
    return parse_query(std::span<const uint8_t>(copy.get(), wire.size()), q);
}

} // namespace kresd::dns::test
