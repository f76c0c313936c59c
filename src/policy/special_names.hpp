// Names a resolver answers itself, without asking anyone (RFC 6761 6.3):
// localhost. and every name below it, the loopback reverse zone
// 127.in-addr.arpa. and the reverse name of ::1. Answers are authoritative
// (AA), like Knot Resolver's: A 127.0.0.1 / AAAA ::1 / PTR localhost. with
// TTL 900, and a SOA (TTL 10800) for negative answers.
#pragma once

#include "dns/wire.hpp"

namespace kresd::policy {

// When the query is for a special name (class IN), writes the whole answer
// (after begin()) and returns true. Otherwise touches nothing.
bool answer_special(const dns::Query& q, dns::ResponseBuilder& out);

} // namespace kresd::policy
