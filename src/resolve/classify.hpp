// Response classification (RFC 1034 5.3.3 step 4, "analyze the response"):
// what one upstream reply means for the question we asked, looking only at
// records inside the bailiwick of the servers asked (the zone cut; "." when
// forwarding). Records outside it are never returned here, so they can be
// neither used nor cached: that is the anti-poisoning rule.
//
// Pure: no cache, no state. The request applies the verdict.
#pragma once

#include <optional>
#include <vector>

#include "resolve/message.hpp"

namespace kresd::resolve {

enum class Verdict {
    answer,             // final RRset found (after an in-bailiwick CNAME/DNAME chain)
    restart,            // chain leads out of this reply: resolve `target` anew
    negative,           // NXDOMAIN or NODATA for `target` (RFC 2308)
    nodata_nosoa,       // AA, nothing for the name and no SOA: lame while another
                        // server may answer; believed when every server says it
    referral,           // delegation to `zone` below the cut (RFC 1034 5.3.3 4b)
    next_label,         // minimised query answered inside the zone: one more label
    minimised_nxdomain, // minimised query got NXDOMAIN: ask the full name (RFC 9156 4)
    lame,               // no answer, no delegation down, not authoritative
    error,              // RCODE other than NOERROR/NXDOMAIN
    chain_too_long,     // more CNAME/DNAME hops than allowed
    bad_dname,          // DNAME substitution overflows 255 bytes (RFC 6672 2.2)
    dname_loop,         // a DNAME rewrites the name to one below itself again
};

struct AskContext {
    dns::Name zone;       // the zone cut whose servers were asked
    dns::Name sname;      // the name the goal resolves
    uint16_t qtype = 0;   // the type the goal resolves
    uint16_t qclass = 0;
    dns::Name qname_sent; // differs from sname when minimised
    uint16_t qtype_sent = 0;
    bool forwarding = false;
    unsigned hops_left = 0; // CNAME/DNAME hops still allowed
    GlueMode glue = GlueMode::normal; // which glue of a referral is taken
};

struct Classified {
    Verdict verdict = Verdict::lame;
    const char* why = "";
    bool aa = false;
    // answer / restart / negative: the chain walked (CNAME, DNAME, and the
    // CNAME synthesised from each DNAME, in order) and where it ended.
    std::vector<Record> chain;
    unsigned hops = 0;
    dns::Name target;
    std::vector<Record> final_rrs; // answer: the RRset at target
    bool nxdomain = false;         // negative
    std::optional<Record> soa;     // negative: in-bailiwick SOA covering target
    // referral
    dns::Name zone;
    std::vector<Record> ns;
    std::vector<Record> glue; // A/AAAA of the NS names, inside the asked zone
};

Classified classify(const Message& m, const AskContext& ctx);

} // namespace kresd::resolve
