// Names a resolver answers itself, without asking anyone (RFC 6761 6.3):
// localhost. and every name below it, the loopback reverse zone
// 127.in-addr.arpa. and the reverse name of ::1. Answers are authoritative
// (AA), like Knot Resolver's: A 127.0.0.1 / AAAA ::1 / PTR localhost. with
// TTL 900, and a SOA (TTL 10800) for negative answers.
#pragma once

#include "dns/wire.hpp"

namespace kresd::policy {

// False when the query's name is below none of the top-level labels of the
// zones that answer_special() and answer_blocked() serve (localhost.,
// arpa., test., invalid., onion.; taken from the zones themselves): one
// look at the last label lets nearly every query skip both (each still
// checks on its own).
bool maybe_special(const dns::Query& q);

// When the query is for a special name (class IN), writes the whole answer
// (after begin()) and returns true. Otherwise touches nothing.
bool answer_special(const dns::Query& q, dns::ResponseBuilder& out);

// Special-use and private names that must never reach the Internet's
// servers: test., invalid., onion. (RFC 6761, RFC 7686) and the reverse
// zones of private, link-local and unspecified addresses (RFC 6303). They
// get NXDOMAIN with a SOA, unless a policy rule (e.g. FORWARD to a local
// server) decided otherwise first: call this only when the policy passed.
bool answer_blocked(const dns::Query& q, dns::ResponseBuilder& out);

} // namespace kresd::policy
