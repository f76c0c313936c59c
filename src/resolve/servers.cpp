// See servers.hpp.
#include "resolve/servers.hpp"

#include <algorithm>
#include <cstring>
#include <netinet/in.h>
#include <vector>

namespace kresd::resolve {
namespace {

// Family, port and address bytes: a compact, exact key.
std::string key_of(const Address& a)
{
    std::string k;
    if (a.family() == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&a.ss);
        k.assign(1, '4');
        k.append(reinterpret_cast<const char*>(&sin->sin_port), 2);
        k.append(reinterpret_cast<const char*>(&sin->sin_addr), 4);
    } else if (a.family() == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&a.ss);
        k.assign(1, '6');
        k.append(reinterpret_cast<const char*>(&sin6->sin6_port), 2);
        k.append(reinterpret_cast<const char*>(&sin6->sin6_addr), 16);
    }
    return k;
}

} // namespace

using Stats = Resolver::ServerStats;

Stats::Entry& Stats::get(const Address& a, uint64_t now_ms)
{
    if (map_.size() >= kMaxEntries)
        evict();
    Entry& e = map_[key_of(a)];
    e.last_used_ms = now_ms;
    return e;
}

void Stats::evict()
{
    std::vector<uint64_t> ages;
    ages.reserve(map_.size());
    for (const auto& [k, e] : map_)
        ages.push_back(e.last_used_ms);
    auto quarter = ages.begin() + static_cast<std::ptrdiff_t>(ages.size() / 4);
    std::nth_element(ages.begin(), quarter, ages.end());
    const uint64_t cutoff = *quarter;
    std::erase_if(map_, [cutoff](const auto& kv) { return kv.second.last_used_ms <= cutoff; });
}

const Stats::Entry* Stats::find(const Address& a) const
{
    const auto it = map_.find(key_of(a));
    return it == map_.end() ? nullptr : &it->second;
}

void Stats::on_reply(const Address& a, uint32_t rtt_ms, uint64_t now_ms)
{
    Entry& e = get(a, now_ms);
    // RFC 6298 2.2-2.3: first sample sets SRTT and RTTVAR; later ones are
    // smoothed with alpha 1/8 and beta 1/4.
    if (!e.measured) {
        e.srtt_ms = rtt_ms;
        e.rttvar_ms = rtt_ms / 2;
        e.measured = true;
    } else {
        const uint32_t diff = e.srtt_ms > rtt_ms ? e.srtt_ms - rtt_ms : rtt_ms - e.srtt_ms;
        e.rttvar_ms = (3 * e.rttvar_ms + diff) / 4;
        e.srtt_ms = (7 * e.srtt_ms + rtt_ms) / 8;
    }
    e.backoff = 1;
    e.timeouts = 0;
    e.penalty_until_ms = 0;
    ++e.replies;
}

void Stats::on_timeout(const Address& a, uint64_t now_ms)
{
    Entry& e = get(a, now_ms);
    // RFC 6298 5.5: back off the timer on each expiry.
    e.backoff = std::min(e.backoff * 2, kMaxBackoff);
    ++e.timeouts;
    const uint64_t penalty = std::min<uint64_t>(uint64_t{kTimeoutPenaltyMs} * e.backoff,
                                                kMaxPenaltyMs);
    e.penalty_until_ms = std::max(e.penalty_until_ms, now_ms + penalty);
}

void Stats::on_failure(const Address& a, uint64_t now_ms)
{
    Entry& e = get(a, now_ms);
    ++e.failures;
    e.penalty_until_ms = std::max(e.penalty_until_ms, now_ms + kFailurePenaltyMs);
}

void Stats::set_no_edns(const Address& a, uint64_t now_ms)
{
    get(a, now_ms).no_edns = true;
}

bool Stats::no_edns(const Address& a) const
{
    const Entry* e = find(a);
    return e != nullptr && e->no_edns;
}

bool Stats::penalised(const Address& a, uint64_t now_ms) const
{
    const Entry* e = find(a);
    return e != nullptr && e->penalty_until_ms > now_ms;
}

uint32_t Stats::timeout_ms(const Address& a, const Limits& limits) const
{
    const Entry* e = find(a);
    const Entry fresh;
    const Entry& s = e != nullptr ? *e : fresh;
    const uint64_t rto = (uint64_t{s.srtt_ms} + 4 * uint64_t{s.rttvar_ms}) * s.backoff;
    return static_cast<uint32_t>(
        std::clamp<uint64_t>(rto, limits.min_timeout_ms,
                             std::max(limits.min_timeout_ms, limits.max_timeout_ms)));
}

size_t Stats::choose(std::span<const Address> candidates, uint64_t now_ms, uint32_t random_value,
                     unsigned explore_percent) const
{
    size_t best = 0;
    bool best_penalised = true;
    uint64_t best_score = UINT64_MAX;
    std::vector<size_t> fresh; // non-penalised candidates
    for (size_t i = 0; i < candidates.size(); ++i) {
        const Entry* e = find(candidates[i]);
        const bool pen = e != nullptr && e->penalty_until_ms > now_ms;
        const uint64_t score = e == nullptr ? kInitialRttMs : uint64_t{e->srtt_ms} * e->backoff;
        if (!pen)
            fresh.push_back(i);
        if ((best_penalised && !pen) || (pen == best_penalised && score < best_score)) {
            best = i;
            best_penalised = pen;
            best_score = score;
        }
    }
    if (fresh.size() >= 2 && random_value % 100 < explore_percent) {
        const size_t pick = fresh[(random_value / 100) % fresh.size()];
        return pick;
    }
    return best;
}

} // namespace kresd::resolve
