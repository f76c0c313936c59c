// RFC 1034 5.3.3 step 2: "find the best servers to ask". The closest zone
// cut whose servers we can reach: cached NS RRsets walking up from the name
// (with the cached addresses of their names), else the root hints; with
// FORWARD/STUB, the configured targets instead.
#include <algorithm>

#include "resolve/names.hpp"
#include "resolve/request_impl.hpp"

namespace kresd::resolve {

bool Request::Impl::family_enabled(const Address& a) const
{
    const Config& cfg = res.config();
    return (a.family() == AF_INET && cfg.ipv4) || (a.family() == AF_INET6 && cfg.ipv6);
}

// Addresses learned from DNS data (glue, NS lookups, the cache) may not
// point into local or private networks unless ALLOW_LOCAL; configured ones
// (root hints, forward targets) always may.
bool Request::Impl::usable(const NsEntry& e, const Address& a) const
{
    if (!family_enabled(a))
        return false;
    return e.configured || opts.allow_local || res.config().allow_local || !is_local_address(a);
}

void Request::Impl::add_cached_addresses(NsEntry& e)
{
    if (!cache_enabled())
        return;
    const uint64_t now = now_s();
    for (uint16_t type : {dns::type::A, dns::type::AAAA}) {
        auto rr = res.cache()->get_rrset(e.name.view(), type, now);
        if (!rr)
            continue;
        for (const auto& rd : rr->rdatas) {
            if (auto a = address_from_rdata(type, rd))
                e.addrs.push_back(*a);
        }
    }
}

bool Request::Impl::cut_from_cache(Goal& g, Cut& out)
{
    // DS is answered by the parent side of a cut (RFC 4035 3.1.4.1).
    return cut_from_cache_at(g.qtype == dns::type::DS ? names::parent(g.sname) : g.sname, out);
}

// The closest cached cut at or above `name`.
bool Request::Impl::cut_from_cache_at(dns::Name name, Cut& out)
{
    if (!cache_enabled())
        return false;
    const unsigned max_ns = res.config().limits.max_ns_per_zone;
    const uint64_t now = now_s();
    for (;;) {
        if (auto ns = res.cache()->get_rrset(name.view(), dns::type::NS, now)) {
            Cut cut;
            cut.zone = name;
            bool reachable = false;
            for (const auto& rd : ns->rdatas) {
                if (cut.ns.size() >= max_ns)
                    break;
                NsEntry e;
                if (!names::from_wire(rd, e.name))
                    continue;
                add_cached_addresses(e);
                // Usable now, or resolvable without passing through this cut.
                reachable = reachable || !names::in_zone(e.name, name) ||
                            std::any_of(e.addrs.begin(), e.addrs.end(),
                                        [&](const Address& a) { return usable(e, a); });
                cut.ns.push_back(std::move(e));
            }
            if (reachable) {
                // Entries with addresses first: they can be asked at once.
                std::stable_partition(cut.ns.begin(), cut.ns.end(),
                                      [](const NsEntry& e) { return !e.addrs.empty(); });
                out = std::move(cut);
                return true;
            }
            REQ_LOG("cached cut '%s' has no reachable server, going up",
                names::text(name).c_str());
        }
        if (name.len <= 1)
            return false;
        name = names::parent(name);
    }
}

Cut Request::Impl::cut_from_hints() const
{
    Cut cut;
    cut.zone = names::root();
    for (const auto& [name, addrs] : res.config().root_hints) {
        NsEntry e;
        e.name = name;
        e.addrs = addrs;
        e.configured = true;
        cut.ns.push_back(std::move(e));
    }
    return cut;
}

Cut Request::Impl::cut_for_forwarding() const
{
    Cut cut;
    cut.zone = names::root();
    cut.forward = true;
    NsEntry e;
    e.name = names::root();
    e.addrs = opts.forward;
    e.configured = true;
    cut.ns.push_back(std::move(e));
    return cut;
}

void Request::Impl::step_find_cut(Goal& g)
{
    g.tries.clear();
    g.min_queries = 0;
    if (!opts.forward.empty()) {
        g.cut = cut_for_forwarding();
        g.minimize = false;
    } else {
        g.cut_cached = cut_from_cache(g, g.cut);
        if (!g.cut_cached)
            g.cut = cut_from_hints();
        g.minimize = res.config().minimize && !opts.no_minimize;
    }
    g.min_labels = names::labels(g.cut.zone) + 1;
    g.state = GoalState::select_server;
    REQ_LOG("zone cut '%s' for '%s', %zu name servers", names::text(g.cut.zone).c_str(),
        names::text(g.sname).c_str(), g.cut.ns.size());
}

// What the cache says of a zone's servers may be stale: the child's own NS
// set (which outranks the parent's, RFC 2181 5.4.1) can name servers that
// are gone, a cached cut can outlive a move to new servers. When all of a
// cached cut fail, the parent's servers are asked again, so its referral
// (the parent-side NS set and glue) gives the servers to use, as Knot
// Resolver does. Once per zone and goal: a fresh referral is not left.
bool Request::Impl::fall_back_to_parent(Goal& g)
{
    if (g.cut.forward || !g.cut_cached || g.cut.zone.len <= 1)
        return false;
    const bool done_before =
        std::any_of(g.fell_back.begin(), g.fell_back.end(),
                    [&](const dns::Name& z) { return names::equal(z, g.cut.zone); });
    if (done_before)
        return false;
    g.fell_back.push_back(g.cut.zone);
    Cut parent;
    g.cut_cached = cut_from_cache_at(names::parent(g.cut.zone), parent);
    REQ_LOG("every server of '%s' failed, asking the parent's servers ('%s')",
        names::text(g.cut.zone).c_str(),
        g.cut_cached ? names::text(parent.zone).c_str() : ".");
    g.cut = g.cut_cached ? std::move(parent) : cut_from_hints();
    g.tries.clear();
    g.min_labels = names::labels(g.cut.zone) + 1;
    g.state = GoalState::select_server;
    return true;
}

} // namespace kresd::resolve
