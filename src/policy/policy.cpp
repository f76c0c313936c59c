#include "policy/policy.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace kresd::policy {

namespace {

// Knot Resolver 5.6's policy.lua mkauth_soa(): MNAME = the owner (the query
// name, written as a pointer to the question at offset 12, as KR's packet
// writer compresses it), RNAME nobody.invalid., serial 1, refresh 3600,
// retry 1200, expire 604800, minimum 10800.
constexpr std::array<uint8_t, 38> kDenySoaRdata = {
    0xc0, 0x0c,                                                       // MNAME -> QNAME
    6, 'n', 'o', 'b', 'o', 'd', 'y', 7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0, // RNAME
    0, 0, 0, 1,          // serial
    0, 0, 0x0e, 0x10,    // refresh 3600
    0, 0, 0x04, 0xb0,    // retry 1200
    0, 0x09, 0x3a, 0x80, // expire 604800
    0, 0, 0x2a, 0x30,    // minimum 10800
};
constexpr uint32_t kDenyTtl = 10800;
constexpr std::array<uint8_t, 21> kExplanationOwner = {
    11, 'e', 'x', 'p', 'l', 'a', 'n', 'a', 't', 'i', 'o', 'n', 7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0};

void add_ede(dns::ResponseBuilder& b, uint16_t code, std::string_view text)
{
    std::array<uint8_t, 2 + 4> ede{};
    ede[0] = static_cast<uint8_t>(code >> 8);
    ede[1] = static_cast<uint8_t>(code & 0xff);
    const size_t n = std::min(text.size(), ede.size() - 2);
    std::copy_n(text.begin(), n, ede.begin() + 2);
    b.add_option(dns::edns_opt::EDE, {ede.data(), 2 + n});
}

} // namespace

bool write_answer(ActionKind kind, const Action* action, const dns::Query& q,
                  dns::ResponseBuilder& b)
{
    switch (kind) {
    case ActionKind::deny: {
        b.set_rcode(dns::rcode::NXDOMAIN);
        b.set_aa(true);
        b.set_ad(false);
        const auto owner = b.question_name();
        if (!owner.empty() &&
            !b.add_rr(dns::Section::authority, owner, dns::type::SOA, q.qclass, kDenyTtl,
                      kDenySoaRdata))
            b.set_tc(true);
        const std::string_view msg = action ? std::string_view(action->message) : std::string_view();
        if (!msg.empty()) {
            std::vector<uint8_t> txt(1 + std::min<size_t>(msg.size(), 255));
            txt[0] = static_cast<uint8_t>(txt.size() - 1);
            std::copy_n(msg.begin(), txt.size() - 1, txt.begin() + 1);
            if (!b.add_rr(dns::Section::additional, kExplanationOwner, dns::type::TXT,
                          q.qclass, kDenyTtl, txt))
                b.set_tc(true);
        }
        add_ede(b, action ? action->ede : kEdeBlocked, "CR36");
        return true;
    }
    case ActionKind::drop:
        b.set_rcode(dns::rcode::SERVFAIL);
        b.set_ad(false);
        add_ede(b, kEdeProhibited, "U5KL");
        return true;
    case ActionKind::refuse:
        b.set_rcode(dns::rcode::REFUSED);
        b.set_ad(false);
        add_ede(b, kEdeProhibited, "EIM4");
        return true;
    default:
        return false;
    }
}

void apply_flag(resolve::RequestOptions& o, const std::string& name, bool on)
{
    if (name == "NO_MINIMIZE") o.no_minimize = on;
    else if (name == "ALLOW_LOCAL") o.allow_local = on;
    else if (name == "TCP") o.tcp = on;
    else if (name == "NO_CACHE") o.no_cache = on;
    else if (name == "TRACE") o.debug = on;
}

bool Policy::matches(const Rule& r, const dns::Query& q) const
{
    auto name = q.qname_lower.view();
    switch (r.filter) {
    case FilterKind::all: return true;
    case FilterKind::suffix_common:
        if (!dns::name_in_zone(name, r.common.view())) return false;
        [[fallthrough]];
    case FilterKind::suffix:
        for (const auto& n : r.names)
            if (dns::name_in_zone(name, n.view())) return true;
        return false;
    case FilterKind::pattern: return matcher_ && matcher_(r.pattern, name);
    }
    return false;
}

Decision Policy::evaluate(const dns::Query& q, const resolve::RequestOptions& defaults) const
{
    Decision d;
    d.defaults = &defaults;
    for (const auto& r : rules_) {
        if (!matches(r, q)) continue;
        switch (r.action.kind) {
        case ActionKind::flags:
            for (const auto& f : r.action.set_flags) apply_flag(d.change(), f, true);
            for (const auto& f : r.action.clear_flags) apply_flag(d.change(), f, false);
            continue;
        case ActionKind::debug:
            d.change().debug = true;
            continue;
        case ActionKind::forward:
        case ActionKind::stub: {
            auto& o = d.change();
            o.forward = r.action.targets;
            o.forward_tls = r.action.tls;
            o.stub = r.action.kind == ActionKind::stub;
            [[fallthrough]];
        }
        default:
            d.final = r.action.kind;
            d.action = &r.action;
            return d;
        }
    }
    return d;
}

} // namespace kresd::policy
