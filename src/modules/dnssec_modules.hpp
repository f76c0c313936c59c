// The decisions of the DNSSEC modules (ta_signal_query, detect_time_skew,
// priming, bogus_log) as pure functions, so unit tests check them without
// a daemon. Each is defined in its module's file.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dns/record.hpp"
#include "dnssec/anchors.hpp"
#include "resolve/resolve.hpp"

namespace kresd::modules {

// ---- ta_signal_query (RFC 8145 5) ----
// Key tags of the root's trusted keys: the DS anchors' key tag fields and
// the DNSKEY anchors' computed tags (revoked keys left out), ascending,
// each once.
std::vector<uint16_t> root_key_tags(const dnssec::TrustAnchors& anchors);
// "_ta-4f66-9728." (four lower-case hex digits per tag, RFC 8145 5.1);
// nullopt when the root has no anchor (no validation, nothing to signal).
std::optional<std::string> ta_signal_qname(const dnssec::TrustAnchors& anchors);

// ---- detect_time_skew ----
struct SkewCheck {
    enum class Kind { no_rrsigs, valid, clock_ahead, clock_behind };
    Kind kind = Kind::no_rrsigs;
    // clock_ahead: now - expiration; clock_behind: inception - now (seconds).
    uint64_t seconds = 0;
    uint32_t inception = 0, expiration = 0; // of the RRSIG last looked at
};
// Looks at the RRSIGs in `answer` (Knot Resolver's rule): valid when one
// of them has inception <= now <= expiration; else the clock is off by
// the distance to the last signature's interval.
SkewCheck check_time_skew(std::span<const dns::Record> answer, uint64_t now);
// The log line for a skewed clock (Knot Resolver's wording).
std::string describe_skew(const SkewCheck& c, uint64_t now);

// ---- priming (RFC 8109) ----
using RootHints = std::vector<std::pair<dns::Name, std::vector<resolve::Address>>>;
// The NS names of '.' in a priming answer (lower-cased, each once), and
// the smallest TTL of those NS records (0 when there is none).
std::vector<dns::Name> root_ns_names(std::span<const dns::Record> answer, uint32_t* min_ttl);
// The A/AAAA records of `owner` in `answer` as addresses on port 53.
std::vector<resolve::Address> addresses_of(const dns::Name& owner,
                                           std::span<const dns::Record> answer);
// Seconds until the next priming after a usable answer: the NS TTL,
// within [retry, 1 day].
uint64_t next_priming_s(uint32_t ns_ttl, uint64_t retry_s);

// ---- bogus_log ----
// An answer that failed DNSSEC validation: SERVFAIL with an EDE of
// validation (6 DNSSEC Bogus .. 12 NSEC Missing), or bogus data (CD).
bool is_bogus_answer(uint16_t rcode, std::optional<uint16_t> ede, dns::Security sec);

// Counts bogus (name, type) pairs; the table is bounded (the least
// frequent entry makes room for a new one).
class BogusCounter {
  public:
    struct Entry {
        std::string name; // "www.example." (lower case)
        uint16_t type = 0;
        uint64_t count = 0;
    };
    explicit BogusCounter(size_t capacity = 1000) : capacity_(capacity) {}
    void add(const std::string& name, uint16_t type);
    // Most frequent first (ties: by name, then type); at most `limit`.
    std::vector<Entry> frequent(size_t limit = 100) const;
    size_t size() const { return counts_.size(); }

  private:
    size_t capacity_;
    std::map<std::pair<std::string, uint16_t>, uint64_t> counts_;
};

} // namespace kresd::modules
