// DNS rebinding protection (the module `rebinding` of Knot Resolver 5.6,
// switched on per request by RequestOptions::rebinding): an answer from
// the Internet must not point into the networks behind the resolver. The
// addresses refused are Knot Resolver's list:
//
//   IPv4 (A, and the same as IPv4-mapped AAAA ::ffff:a.b.c.d):
//     0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16,
//     172.16.0.0/12, 192.168.0.0/16
//   IPv6 (AAAA): ::/128, ::1/128, fc00::/7, fe80::/10
//
// The check runs on every upstream reply before anything in it is used or
// cached (request_reply.cpp): any such A/AAAA record in any section ends
// the client's request with Knot Resolver's answer (REFUSED, AA clear, EDE
// 18 "EIM4", additional `explanation.invalid. 10800 TXT "blocked by DNS
// rebinding protection"`), or, in a name server's address lookup, fails
// only that lookup. Answers already in the cache are not checked (as in
// Knot Resolver); nothing refused gets there. ALLOW_LOCAL turns it off.
#pragma once

#include <cstdint>
#include <span>

namespace kresd::resolve {

// True for A/AAAA RDATA in one of the ranges above (other types: false).
bool rebinding_blocked(uint16_t type, std::span<const uint8_t> rdata);

} // namespace kresd::resolve
