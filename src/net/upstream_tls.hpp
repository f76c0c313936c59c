// DNS over TLS to upstream servers (RFC 7858 client side, RFC 8310
// authentication) for policy.TLS_FORWARD, with mbedTLS 2.28 on raw
// non-blocking sockets driven by libevent.
//
// One TlsUpstreamPool per process (the Worker owns it). It keeps at most one
// connection per (server address, authentication settings) and reuses it
// across requests: queries are pipelined on it (RFC 7766 6.2.1.1) and
// replies are matched by message ID and question, so they may come in any
// order. A connection with nothing in flight closes after kIdleMs (as Knot
// Resolver does); one the server closed is opened again by the next query,
// resuming the TLS session (mbedtls_ssl_get_session/set_session) when the
// server allows it. A query that was written on an already used connection
// which then closes before its reply is sent once more on a fresh one (the
// server may have closed an idle connection just as we wrote).
//
// Authentication (TlsAuth, resolve.hpp):
//   pins      the handshake does not verify the chain; afterwards the SHA-256
//             of the peer certificate's DER SubjectPublicKeyInfo must equal
//             one pin (RFC 7858 4.2, RFC 8310 "SPKI pin set"). hostname, if
//             given, is sent as SNI only.
//   hostname  the chain must verify against ca_file (default: the system
//             bundle kSystemCaFile) and the certificate must be for hostname
//             (mbedTLS authmode REQUIRED, mbedtls_ssl_set_hostname).
//   insecure  no check at all (the config logs a warning).
// A failed verification logs one line naming the server and the reason, and
// fails the queries of that connection. There is never a fallback to
// cleartext. ALPN "dot" is offered; SNI is the hostname.
//
// Callbacks: query() never calls back synchronously; on_reply and on_fail
// run from the event loop. on_reply returns true when it took the reply
// (the query ends) and false to keep waiting. Either callback may call
// query() and cancel() (also for its own ticket). on_fail's `timed_out`
// tells a timeout (the server may just be slow) from a failure (connection
// refused or closed, handshake or verification failed, overload).
//
// Limits: kMaxConnections connections in all (beyond that, queries fail at
// once), kMaxInFlight queries written per connection (more wait in its
// queue), kMaxQueued queries waiting per connection (beyond that they fail),
// kHandshakeMs for connect and handshake.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.hpp"
#include "net/event.hpp"
#include "net/tls_target.hpp"
#include "net/upstream.hpp"
#include "resolve/resolve.hpp"

namespace kresd::net {

// ---- the pool ----

class TlsUpstreamPool {
  public:
    static constexpr uint32_t kIdleMs = 10000;
    static constexpr uint32_t kHandshakeMs = 4000;
    // A query that must wait (for the handshake, or behind a full pipeline)
    // gets at least this long for the wait, then its own timeout once written.
    static constexpr uint32_t kMinFirstQueryMs = 1500;
    static constexpr size_t kMaxConnections = 256;
    static constexpr size_t kMaxInFlight = 100;
    static constexpr size_t kMaxQueued = 4000;

    using OnReply = std::function<bool(std::span<const uint8_t> reply)>;
    using OnFail = std::function<void(bool timed_out, const char* why)>;

    struct Stats {
        uint64_t connects = 0;   // TCP connections started
        uint64_t handshakes = 0; // TLS handshakes completed
        uint64_t resumed = 0;    // of which resumed a saved session
        uint64_t verify_failures = 0;
        uint64_t queries = 0, replies = 0, timeouts = 0, failures = 0;
    };

    TlsUpstreamPool(event_base* base, UpstreamSource src);
    ~TlsUpstreamPool(); // closes everything; no callbacks
    TlsUpstreamPool(const TlsUpstreamPool&) = delete;
    TlsUpstreamPool& operator=(const TlsUpstreamPool&) = delete;

    void set_source(UpstreamSource src);

    // Sends `wire` (a bare DNS message) to `to`; returns a ticket (never 0).
    uint64_t query(const SockAddr& to, std::shared_ptr<const resolve::TlsAuth> auth,
                   std::vector<uint8_t> wire, uint32_t timeout_ms, OnReply on_reply,
                   OnFail on_fail);
    // Forgets a query: no callback for it any more. Unknown tickets are ignored.
    void cancel(uint64_t ticket);

    size_t connections() const;
    const Stats& stats() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

} // namespace kresd::net
