// Server selection state shared by all requests of one Resolver: per
// address (IP and port) a smoothed RTT with its variance (RFC 6298 style),
// a back-off multiplier that doubles on each timeout, a penalty window after
// timeouts and failures (REFUSED, SERVFAIL, lame), and whether the server
// choked on EDNS.
//
// Selection (choose): among the candidates a request may use, non-penalised
// addresses come first, ordered by estimated RTT times back-off; unknown
// addresses get a small initial estimate so that they are tried early and
// measured. With a small probability (explore_percent) another
// non-penalised candidate is picked instead, so estimates stay fresh.
// Ties go to the earlier candidate, which keeps tests deterministic.
//
// The table is bounded: when full, the least recently used quarter goes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>

#include "resolve/resolve.hpp"

namespace kresd::resolve {

struct Resolver::ServerStats {
    static constexpr uint32_t kInitialRttMs = 30;     // estimate for unknown servers
    static constexpr uint32_t kInitialRttVarMs = 100; // gives unknown servers ~430 ms
    static constexpr uint32_t kMaxBackoff = 16;
    static constexpr uint32_t kTimeoutPenaltyMs = 1000; // times the back-off
    static constexpr uint32_t kFailurePenaltyMs = 5000;
    static constexpr uint32_t kMaxPenaltyMs = 60000;
    static constexpr size_t kMaxEntries = 16384;

    struct Entry {
        uint32_t srtt_ms = kInitialRttMs;
        uint32_t rttvar_ms = kInitialRttVarMs;
        bool measured = false;
        uint32_t backoff = 1;
        uint64_t penalty_until_ms = 0;
        uint32_t timeouts = 0, failures = 0, replies = 0;
        bool no_edns = false;
        uint64_t last_used_ms = 0;
    };

    void on_reply(const Address& a, uint32_t rtt_ms, uint64_t now_ms);
    void on_timeout(const Address& a, uint64_t now_ms);
    void on_failure(const Address& a, uint64_t now_ms);
    void set_no_edns(const Address& a, uint64_t now_ms);

    bool no_edns(const Address& a) const;
    bool penalised(const Address& a, uint64_t now_ms) const;
    // Retransmission timeout for the next query to `a`, within the limits.
    uint32_t timeout_ms(const Address& a, const Limits& limits) const;
    // Index of the candidate to ask; candidates must not be empty.
    size_t choose(std::span<const Address> candidates, uint64_t now_ms, uint32_t random_value,
                  unsigned explore_percent) const;

    const Entry* find(const Address& a) const;
    size_t size() const { return map_.size(); }
    void clear() { map_.clear(); }

private:
    Entry& get(const Address& a, uint64_t now_ms);
    void evict();
    std::unordered_map<std::string, Entry> map_;
};

} // namespace kresd::resolve
