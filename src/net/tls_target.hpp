// The targets of policy.TLS_FORWARD: checking what the config gives
// ({'ADDR[@PORT]', hostname=, ca_file=, pin_sha256=, insecure=}) and the
// SPKI pins of RFC 7858 4.2 / RFC 8310, without sockets. The connections
// themselves are upstream_tls.hpp's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "resolve/resolve.hpp"

struct mbedtls_x509_crt;

namespace kresd::net {

inline constexpr const char* kSystemCaFile = "/etc/ssl/certs/ca-certificates.crt";
inline constexpr uint16_t kDefaultDotPort = 853;

// One target as written in the config: {'ADDR[@PORT]', hostname=..., ...}.
struct TlsTargetSpec {
    std::string address;
    std::string hostname;
    std::vector<std::string> ca_files; // at most one is supported
    std::vector<std::string> pins;     // base64
    bool insecure = false;
};

struct TlsTarget {
    resolve::Address addr;
    std::shared_ptr<const resolve::TlsAuth> auth;
};

// Checks one target and builds it; throws std::invalid_argument with a
// one-line message (no function name prefix): "'x' is not an address",
// "pin_sha256 'y' is not base64 of 32 bytes", "target 127.0.0.1@853 has
// neither hostname nor pin_sha256", "cannot read ca_file /p: ...". The
// port defaults to 853. ca_file (or the system bundle) is loaded once here
// to find errors early. `system_ca` is the bundle used without ca_file.
TlsTarget parse_tls_target(const TlsTargetSpec& spec, const char* system_ca = kSystemCaFile);

// base64 of 32 bytes -> the bytes; empty on any error.
std::vector<uint8_t> decode_pin(std::string_view base64);
// SHA-256 of the DER SubjectPublicKeyInfo of `crt` (the first certificate),
// base64; empty on failure.
std::string spki_pin(const mbedtls_x509_crt& crt);
// The same for a PEM or DER certificate file; throws std::runtime_error.
std::string spki_pin_of_file(const std::string& path);

inline constexpr size_t kPinLen = 32; // SHA-256
// The raw digest behind spki_pin(); false on failure.
bool spki_sha256(const mbedtls_x509_crt& crt, unsigned char out[kPinLen]);

} // namespace kresd::net
