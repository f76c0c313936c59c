// policy.REROUTE: Knot Resolver 5.6's renumber rule, run as a postrule
// (the worker applies it to the answer written).
#include <algorithm>
#include <array>
#include <cstring>

#include "policy/policy.hpp"

namespace kresd::policy {

namespace {

constexpr uint8_t kEde[] = {0, 4, 'D', 'U', 'Q', 'R'}; // Forged Answer

bool holds(const Reroute::Prefix& p, std::span<const uint8_t> addr) {
    // 5.6: the address must be at least bits/8 bytes long, then a bit compare.
    if (addr.size() * 8 < p.bits) return false;
    const unsigned full = p.bits / 8, rest = p.bits % 8;
    if (std::memcmp(addr.data(), p.subnet.data(), full) != 0) return false;
    if (rest == 0) return true;
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (addr[full] & mask) == (p.subnet[full] & mask);
}

} // namespace

bool reroute_answer(const Reroute& r, dns::ResponseBuilder& b) {
    if (b.count(dns::Section::answer) == 0) return false;
    bool changed = false;
    b.for_each_rr([&](const dns::ResponseBuilder::WrittenRr& rr) {
        if (rr.section != dns::Section::answer ||
            (rr.type != dns::type::A && rr.type != dns::type::AAAA))
            return;
        for (const auto& p : r.prefixes) {
            if (rr.type != (p.v6 ? dns::type::AAAA : dns::type::A) || !holds(p, rr.rdata)) continue;
            changed = true;
            const size_t len = p.v6 ? 16 : 4;
            if (rr.rdata.size() == len) { // else kept, as 5.6's mergeIps()
                std::array<uint8_t, 16> addr{};
                std::memcpy(addr.data(), rr.rdata.data(), len);
                for (size_t i = 0; i < len; ++i) {
                    const int left = static_cast<int>(p.bits) - static_cast<int>(8 * i);
                    if (p.exact || left >= 8)
                        addr[i] = p.target[i];
                    else if (left > 0) {
                        const uint8_t mask = static_cast<uint8_t>(0xff << (8 - left));
                        addr[i] = static_cast<uint8_t>((p.target[i] & mask) | (addr[i] & ~mask));
                    }
                }
                b.rewrite_rdata(rr, {addr.data(), len});
            }
            break;
        }
    });
    if (!changed) return false;
    b.remove_rrs([](const dns::ResponseBuilder::WrittenRr& rr) {
        return rr.section != dns::Section::answer || rr.type == dns::type::RRSIG;
    });
    b.set_ad(false);
    b.add_option(dns::edns_opt::EDE, kEde);
    return true;
}

} // namespace kresd::policy
