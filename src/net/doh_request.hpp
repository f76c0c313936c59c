// The HTTP side of DNS-over-HTTPS (RFC 8484) as pure functions, so they are
// tested without sockets: which status a request gets, base64url, and the
// freshness lifetime of an answer. doh.cpp applies them to HTTP/2 streams.
//
// A request is judged in this order:
//   1. path (before '?') is not /dns-query (or kresd's older /doh) -> 404
//   2. method is not GET or POST                                   -> 405
//      (the response carries `allow: GET, POST`)
//   3. GET without a `dns` query parameter                         -> 400
//      POST whose content-type is not application/dns-message      -> 415
//   4. the message: GET's parameter is not base64url               -> 400
//      longer than 65535 bytes                                     -> 413
//      shorter than a DNS header (12 bytes)                        -> 400
// Anything else goes to the resolver and is answered 200 with the DNS
// message, whatever its RCODE (RFC 8484 4.2.1).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kresd::net {

constexpr size_t kDohMaxMessage = 65535;

// RFC 4648 section 5. Unpadded input is what RFC 8484 4.1 sends; correctly
// padded input is accepted too. Anything else (other characters, '=' inside,
// a length of 1 mod 4, non-zero bits after the last byte) is nullopt.
std::optional<std::vector<uint8_t>> base64url_decode(std::string_view in);
std::string base64url_encode(std::span<const uint8_t> data); // unpadded

enum class DohMethod { get, post };

struct DohVerdict {
    int status = 0;          // 0: go on; else the HTTP status to answer with
    const char* reason = ""; // a short text for the error body and logs
    DohMethod method = DohMethod::get;
    std::string_view dns_param; // GET: the `dns` parameter, still encoded
};

// Steps 1-3 above. `path` is HTTP/2's :path (with the query string).
DohVerdict classify_doh_request(std::string_view method, std::string_view path,
                                std::string_view content_type);
// Step 4 for a decoded message of `len` bytes: 0, 413 or 400.
int doh_message_status(size_t len);
// The value of `name` in a query string "a=1&dns=...", or nullopt.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name);

// Seconds for `cache-control: max-age` (RFC 8484 5.1): the smallest TTL of
// the answer's records (OPT and meta types aside); for NXDOMAIN and NODATA
// the SOA's TTL capped by its MINIMUM (RFC 2308 5); 0 for other RCODEs,
// for messages without records, and for messages that cannot be parsed.
uint32_t doh_max_age(std::span<const uint8_t> answer);

const char* http_status_text(int status);

} // namespace kresd::net
