// The names a resolver must not send to the Internet's servers, answered
// here as Knot Resolver 5.6's `policy.special_names` rules answer them.
//
// Call order (the worker's): the configured policy rules first; only when
// none of them decided (no rule matched, or only chain actions such as FLAGS
// did) is answer_special() asked, and the local hints after it. So a rule
// `policy.suffix(policy.PASS, {todname('test.')})` (or FORWARD, STUB) lets
// test. resolve, and a DENY rule on a name below localhost. wins over the
// localhost answer. Only class IN queries of ordinary types reach here (the
// worker answers other classes and meta types with SERVFAIL first).
//
// The rules, in 5.6's order (the first that matches answers):
//  1. Locally served reverse zones and home.arpa. (RFC 6303, RFC 7793,
//     RFC 5737 and RFC 3849 documentation ranges, RFC 8375):
//     NXDOMAIN as policy.DENY_MSG answers it (AA; authority `QNAME 10800 SOA
//     QNAME nobody.invalid. 1 3600 1200 604800 10800`, even at a zone's
//     apex; additional `explanation.invalid. TXT` pointing at IANA's
//     locally-served zones registry; EDE 21 Not Supported, text "CR36").
//  2. test., onion., invalid., local. (RFC 6761, RFC 7686, RFC 6762):
//     the same, the TXT pointing at IANA's special-use names registry.
//  3. localhost. and below (RFC 6761 6.3): AA; A 127.0.0.1 / AAAA ::1 for
//     every name, TTL 900; at the apex SOA (`localhost. 10800 SOA localhost.
//     nobody.invalid. ...`) and NS (`localhost. 900 NS localhost.`); other
//     questions NODATA with that SOA.
//  4. 127.in-addr.arpa. and the reverse name of ::1 (and below it):
//     AA; PTR localhost. (TTL 900) for 1.0.0.127.in-addr.arpa. and the ::1
//     name; at either apex SOA `127.in-addr.arpa. SOA localhost. ...` and
//     NS `127.in-addr.arpa. 900 NS localhost.`; the empty non-terminals
//     above 1.0.0.127 NODATA; everything else (other types included)
//     NXDOMAIN, with that SOA.
// Names equal to (a suffix of) the question are written in the question's
// spelling, as 5.6's name compression does.
#pragma once

#include "dns/wire.hpp"

namespace kresd::policy {

// False when the query's name is below none of the top-level labels of the
// zones answer_special() serves (arpa., test., onion., invalid., local.,
// localhost.; taken from the zones themselves): one look at the last label
// lets nearly every query skip answer_special().
bool maybe_special(const dns::Query& q);

// When the query's name is in one of the zones above (and its class is IN),
// writes the whole answer (after begin()) and returns true. Otherwise
// touches nothing and returns false.
bool answer_special(const dns::Query& q, dns::ResponseBuilder& out);

} // namespace kresd::policy
