#include "policy/policy.hpp"

namespace kresd::policy {

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
