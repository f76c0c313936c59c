#include "policy/policy.hpp"

#include "policy/rpz.hpp"

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
    case ActionKind::done: // a custom action's kres.DONE: the answer as begun
        return true;
    case ActionKind::fail: // a custom action's kres.FAIL, with its EDE if it set one
        b.set_rcode(dns::rcode::SERVFAIL);
        b.set_ad(false);
        if (action && action->ede != kNoEde) {
            std::array<uint8_t, 2 + kMaxEdeText> ede{};
            ede[0] = static_cast<uint8_t>(action->ede >> 8);
            ede[1] = static_cast<uint8_t>(action->ede & 0xff);
            const size_t n = std::min(action->ede_text.size(), kMaxEdeText);
            std::copy_n(action->ede_text.begin(), n, ede.begin() + 2);
            b.add_option(dns::edns_opt::EDE, {ede.data(), 2 + n});
        }
        return true;
    case ActionKind::answer: {
        if (!action || !action->answer) return false;
        b.set_rcode(dns::rcode::NOERROR);
        b.set_aa(true);
        b.set_ad(false);
        const auto owner = b.question_name();
        if (const auto* set = action->answer->find(q.qtype)) {
            for (const auto& rd : set->rdata)
                if (!b.add_rr(dns::Section::answer, owner, q.qtype, q.qclass, set->ttl, rd)) {
                    b.set_tc(true);
                    break;
                }
        } else if (const auto* soa = action->answer->find(dns::type::SOA);
                   soa && !soa->rdata.empty()) {
            if (!b.add_rr(dns::Section::authority, owner, dns::type::SOA, q.qclass, soa->ttl,
                          soa->rdata.front()))
                b.set_tc(true);
        } else if (!b.add_rr(dns::Section::authority, owner, dns::type::SOA, q.qclass, 1,
                             kDenySoaRdata)) {
            b.set_tc(true);
        }
        add_ede(b, kEdeForged, "5DO5");
        return true;
    }
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
    else if (name == "NO_0X20") o.no_0x20 = on;
    else if (name == "DNS64_DISABLE") o.dns64_disable = on;
}

bool Policy::matches(const Rule& r, const dns::Query& q, const Client&) const
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
    case FilterKind::domains:
        for (const auto& n : r.names)
            if (std::ranges::equal(name, n.view())) return true;
        return false;
    case FilterKind::pattern: return matcher_ && matcher_(r.pattern, name);
    case FilterKind::rpz: return false; // step() asks the zone itself
    case FilterKind::lua: return false; // step() asks the function itself
    }
    return false;
}

bool Policy::step(const Rule& r, const dns::Query& q, const Client& c, Decision& d) const
{
    const Action* act = &r.action;
    if (r.filter == FilterKind::rpz) { // the zone's own action for this name
        act = r.rpz ? r.rpz->lookup(q.qname_lower.view(), r.action) : nullptr;
        if (!act) return false;
    } else if (r.filter == FilterKind::lua) { // the function's action, if any
        act = lua_.filter ? lua_.filter(r.lua_ref, q, c) : nullptr;
        if (!act) return false;
    } else if (!matches(r, q, c)) {
        return false;
    }
    ++r.count;
    if (act->kind == ActionKind::lua) { // a custom action function: its outcome
        act = lua_.action ? lua_.action(act->lua_ref, q, c) : nullptr;
        if (!act) return false; // a chain action
    }
    switch (act->kind) {
    case ActionKind::mirror:
        d.mirrors.push_back(act);
        return false;
    case ActionKind::flags:
        for (const auto& f : act->set_flags) apply_flag(d.change(), f, true);
        for (const auto& f : act->clear_flags) apply_flag(d.change(), f, false);
        return false;
    case ActionKind::debug:
        d.change().debug = true;
        return false;
    case ActionKind::forward:
    case ActionKind::stub: {
        auto& o = d.change();
        o.forward = act->targets;
        o.forward_tls = act->tls;
        o.stub = act->kind == ActionKind::stub;
        [[fallthrough]];
    }
    default:
        // ANSWER without data of this type and without nodata: as in
        // Knot Resolver 5.6, the search goes on.
        if (act->kind == ActionKind::answer &&
            (!act->answer || (!act->answer->nodata && !act->answer->find(q.qtype))))
            return false;
        d.final = act->kind;
        d.action = act;
        return true;
    }
}

Decision Policy::evaluate(const dns::Query& q, const resolve::RequestOptions& defaults,
                          const Client& c) const
{
    Decision d;
    d.defaults = &defaults;
    for (const auto& r : rules_)
        if (step(r, q, c, d)) return d;
    return d;
}

Decision Policy::evaluate_post(const dns::Query& q, const resolve::RequestOptions& defaults,
                               const Client& c) const
{
    Decision d;
    d.defaults = &defaults;
    for (const auto& r : postrules_)
        if (step(r, q, c, d)) return d;
    return d;
}

bool Policy::views_apply(const Decision& d)
{
    if (!d.decided()) return true;
    switch (d.final) {
    case ActionKind::pass:
    case ActionKind::forward:
    case ActionKind::stub: return true;
    default: return false;
    }
}

void Policy::evaluate_views(const dns::Query& q, const Client& c, Decision& d) const
{
    // A later final action replaces an earlier PASS or FORWARD, as the
    // view module's answer replaces the policy module's state in 5.6.
    Decision v;
    v.defaults = d.defaults;
    v.changed = std::move(d.changed);
    auto decide = [&](const Rule& r) {
        if (!step(r, q, c, v)) return false;
        d.final = v.final;
        d.action = v.action;
        return true;
    };
    bool done = false;
    if (!c.tsig_key.empty())
        for (const auto& t : tsig_views_)
            if (std::ranges::equal(t.key.view(), c.tsig_key) && decide(t.rule)) {
                done = true;
                break;
            }
    if (!done && c.src && !addr_views_.empty()) {
        const SubnetKey k = SubnetKey::of(c.src);
        for (const auto& view : addr_views_)
            if (view.subnet.contains(k) && decide(view.rule)) break;
    }
    d.changed = std::move(v.changed);
}

uint64_t Policy::add_view(const Subnet& s, Rule r, bool dst)
{
    r.id = next_view_id_++;
    (dst ? dst_views_ : addr_views_).push_back({s, std::move(r)});
    return next_view_id_ - 1;
}

uint64_t Policy::add_tsig_view(const dns::Name& key, Rule r)
{
    r.id = next_view_id_++;
    tsig_views_.push_back({key, std::move(r)});
    return next_view_id_ - 1;
}

bool Policy::del(uint64_t id)
{
    for (auto* list : {&rules_, &postrules_}) {
        auto it = std::find_if(list->begin(), list->end(), [id](const Rule& r) { return r.id == id; });
        if (it != list->end()) {
            list->erase(it);
            return true;
        }
    }
    return false;
}

} // namespace kresd::policy
