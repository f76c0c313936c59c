// prefill (Knot Resolver 5.6's module, built in): a local copy of the root
// zone in the cache (RFC 8806), refreshed periodically.
//
// The import, without timers or I/O besides reading the file (unit-tested;
// prefill_module.cpp drives it from the module's timer):
//
//   1. read_zone(): the zone file (RFC 1035 presentation form, $ORIGIN and
//      $TTL; $INCLUDE refused) into RRsets. It must be the root zone: one
//      SOA, owned by '.'. Records outside the zone cannot happen for the
//      root; RRSIGs are kept with the RRset they cover.
//   2. plan_import(): which RRsets are authoritative (the apex and
//      everything not below a delegation, plus DS and NSEC at a
//      delegation) and which are parent-side data (the delegations' NS
//      sets and their glue). When the trust anchors cover '.', the zone's
//      DNSKEY RRset must validate against them and every authoritative
//      RRset must validate with those keys (as 5.6 does, with its
//      validator); one failure refuses the whole file. Without an anchor
//      for '.' (removed, or a negative trust anchor) the data is insecure.
//      Nothing is written before the whole zone passed.
//   3. store(): puts every RRset into the cache: authoritative ones with
//      rank auth_answer (secure or insecure), the others with rank glue
//      (as 5.6's KR_RANK_AUTH|SECURE / INSECURE and KR_RANK_OMIT), the
//      RRSIGs with what they cover, and each validated NSEC for
//      aggressive negative answers (RFC 8198). As in 5.6 the records are
//      stamped with the file's modification time: their TTLs count from
//      when the file was written, and signatures are checked at that time.
//
// Errors are PrefillError with one line: "PATH:LINE: why" for what the
// parser refuses, "PATH: why" for the rest.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cache/cache.hpp"
#include "dns/record.hpp"

namespace kresd::dnssec {
class TrustAnchors;
}

namespace kresd::modules::prefill {

struct PrefillError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Records of one owner (lower-cased) and type, with the RRSIGs covering them.
struct ZoneRRset {
    dns::Name owner;
    uint16_t type = 0;
    std::vector<dns::Record> rrs;
    std::vector<dns::Record> sigs;
};

struct Zone {
    std::string path;
    dns::Name origin;              // '.'
    std::vector<ZoneRRset> rrsets; // in the order first seen; RRSIGs not listed alone
    size_t records = 0;
    uint64_t mtime = 0; // the file's modification time, seconds since the epoch
};

// Reads and checks the file (see above). Throws PrefillError.
Zone read_zone(const std::string& path);

struct Planned {
    size_t index = 0; // into Zone::rrsets
    cache::Rank rank = cache::Rank::glue;
    dns::Security security = dns::Security::unknown;
    uint32_t ttl = 0; // capped by the signature (RFC 4035 5.3.3) when secure
};

struct Plan {
    std::vector<Planned> rrsets;
    dns::Security security = dns::Security::insecure; // of the zone
    size_t authoritative = 0;
};

// Decides ranks and validates (see above) at wall-clock time `now`.
// `anchors` may be null (no validation). Throws PrefillError naming the
// RRset that fails.
Plan plan_import(const Zone& zone, const dnssec::TrustAnchors* anchors, uint64_t now);

// Writes the plan into `cache`, stamped `now`. Returns how many RRsets the
// cache took (it refuses one that an unexpired, better-ranked entry
// outranks, e.g. a TLD's own NS set over the root's copy).
size_t store(const Zone& zone, const Plan& plan, cache::Cache& cache, uint64_t now);

} // namespace kresd::modules::prefill
