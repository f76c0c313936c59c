// DNS rebinding protection: the address test and what it does to a
// request (see rebinding.hpp).
#include "resolve/rebinding.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "resolve/names.hpp"
#include "resolve/request_impl.hpp"
#include "util/log.hpp"

namespace kresd::resolve {

namespace {

struct V4Range {
    uint8_t bytes[2];
    unsigned bits;
};

// IANA's IPv4 special-purpose registry, as far as Knot Resolver 5.6 blocks it.
constexpr V4Range kV4[] = {
    {{0, 0}, 8},      // "this network"
    {{10, 0}, 8},     // RFC 1918
    {{100, 64}, 10},  // RFC 6598 shared address space
    {{127, 0}, 8},    // loopback
    {{169, 254}, 16}, // link local
    {{172, 16}, 12},  // RFC 1918
    {{192, 168}, 16}, // RFC 1918
};

bool v4_blocked(const uint8_t* a)
{
    for (const V4Range& r : kV4) {
        const uint16_t have = static_cast<uint16_t>((a[0] << 8) | a[1]);
        const uint16_t want = static_cast<uint16_t>((r.bytes[0] << 8) | r.bytes[1]);
        const uint16_t mask = static_cast<uint16_t>(0xFFFF << (16 - r.bits));
        if ((have & mask) == (want & mask))
            return true;
    }
    return false;
}

constexpr std::string_view kEdeText = "EIM4"; // what policy.REFUSE sends
constexpr std::string_view kExplanation = "blocked by DNS rebinding protection";
constexpr uint32_t kExplanationTtl = 10800;
constexpr uint8_t kExplanationOwner[] = {11,  'e', 'x', 'p', 'l', 'a', 'n', 'a', 't', 'i', 'o',
                                         'n', 7,   'i', 'n', 'v', 'a', 'l', 'i', 'd', 0};

} // namespace

bool rebinding_blocked(uint16_t type, std::span<const uint8_t> rdata)
{
    if (type == dns::type::A && rdata.size() == 4)
        return v4_blocked(rdata.data());
    if (type != dns::type::AAAA || rdata.size() != 16)
        return false;
    const uint8_t* a = rdata.data();
    const bool first_ten_zero = std::all_of(a, a + 10, [](uint8_t b) { return b == 0; });
    if (first_ten_zero && a[10] == 0xFF && a[11] == 0xFF)
        return v4_blocked(a + 12); // IPv4-mapped (RFC 4291 2.5.5.2)
    if (first_ten_zero && std::all_of(a + 10, a + 15, [](uint8_t b) { return b == 0; }) &&
        a[15] <= 1)
        return true;                                          // :: and ::1
    return (a[0] & 0xFE) == 0xFC ||                           // fc00::/7 unique local
           (a[0] == 0xFE && (a[1] & 0xC0) == 0x80);           // fe80::/10 link local
}

// Called for each upstream reply before it is classified (so before any of
// it is used or cached). True when the reply was refused.
bool Request::Impl::rebinding_check(Goal& g, const Message& m)
{
    if (!opts.rebinding || opts.allow_local || res.config().allow_local)
        return false;
    const Record* bad = nullptr;
    for (const auto* section : {&m.answer, &m.authority, &m.additional}) {
        for (const Record& r : *section) {
            if (rebinding_blocked(r.type, r.rdata)) {
                bad = &r;
                break;
            }
        }
        if (bad != nullptr)
            break;
    }
    if (bad == nullptr)
        return false;
    KR_LOG(debug, "rebind", "'%s' type %u: blocking the reply of %s, '%s' type %u is private",
           names::text(g.sname).c_str(), g.qtype, address_to_string(g.out.to).c_str(),
           names::text(bad->owner).c_str(), bad->type);
    REQ_LOG("rebinding: '%s' type %u has a private address, reply refused",
            names::text(bad->owner).c_str(), bad->type);
    if (&g != &goals.front()) {
        // A name server's address (or a key) lookup: only it fails; the
        // goal below may still find another server.
        fail_goal(g, ede::PROHIBITED, "DNS rebinding protection");
        return true;
    }
    finished = true;
    rebinding_refused = true;
    rcode = dns::rcode::REFUSED;
    ede_code = ede::PROHIBITED;
    ede_text = std::string(kEdeText);
    g.outcome = Outcome::failed;
    g.chain.clear();
    g.final_rrs.clear();
    return true;
}

// Knot Resolver 5.6's answer: policy.REFUSE's (REFUSED, AD clear, EDE 18
// "EIM4"), AA clear, and the explanation in the additional section.
void Request::Impl::write_rebinding_refusal(dns::ResponseBuilder& out) const
{
    out.set_rcode(dns::rcode::REFUSED);
    out.set_aa(false);
    out.set_ad(false);
    std::array<uint8_t, 1 + kExplanation.size()> txt{};
    txt[0] = static_cast<uint8_t>(kExplanation.size());
    std::copy(kExplanation.begin(), kExplanation.end(), txt.begin() + 1);
    if (!out.add_rr(dns::Section::additional, kExplanationOwner, dns::type::TXT,
                    goals.front().qclass, kExplanationTtl, txt))
        out.set_tc(true);
    std::array<uint8_t, 2 + kEdeText.size()> ede{};
    ede[0] = static_cast<uint8_t>(ede::PROHIBITED >> 8);
    ede[1] = static_cast<uint8_t>(ede::PROHIBITED & 0xFF);
    std::copy(kEdeText.begin(), kEdeText.end(), ede.begin() + 2);
    out.add_option(dns::edns_opt::EDE, ede); // fails harmlessly without EDNS
}

} // namespace kresd::resolve
