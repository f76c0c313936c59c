// DNS-over-TLS (RFC 7858) and DNS-over-HTTPS/2 (RFC 8484) listeners, and
// the process-wide TLS settings that net.tls() and net.tls_sticket_secret()
// change.
//
// Call order for the daemon:
//   1. optionally tls_settings().credentials()->set_rundir(dir) (the default
//      "." is right when the process runs in its rundir);
//   2. make_tls_listener()/make_doh_listener() with tls_settings().credentials()
//      for every `tls` / `doh2` socket, whenever it appears (before or after
//      the config ran: the credentials are looked up per connection, so a
//      later net.tls() applies to new connections);
//   3. start(): loads what is still missing (the rundir's ephemeral
//      certificate when net.tls() was not called, the ticket secret) and
//      logs an error when that fails; connections are then closed at once
//      until credentials can be had.
//
// Connections belong to their listener: stop() only stops accepting (open
// connections keep being served, deferred answers still reach them), and
// destroying the listener closes its connections. Destroy listeners before
// the event_base. Answers deferred by the QueryHandler (kDeferred) are
// written when DeferredReply::send() is called, if the connection (and for
// DoH the stream) still exists; otherwise they are dropped.
//
// Limits, per listener: at most ServeContext::tcp_max_connections open
// connections (the one idle the longest is closed for a new one), a 5 s
// handshake, ServeContext::tcp_idle_timeout_ms without a complete query
// (while no deferred answer is pending), 100 queries in flight per
// connection (HTTP/2: SETTINGS_MAX_CONCURRENT_STREAMS 100), and 256 KiB of
// unsent output before reading pauses.
//
// Statistics: each DNS query counts ctx.stats->tls (DoT) or ->http (DoH);
// a connection or request that fails counts ->err_tls or ->err_http.
#pragma once

#include <memory>

#include "net/event.hpp"
#include "net/listeners.hpp"

namespace kresd::net {

class TlsCredentials; // tls_context.hpp

// DNS-over-TLS: TLS with ALPN "dot", then RFC 7766 framing as over TCP.
std::unique_ptr<Listener> make_tls_listener(Fd fd, ServeContext& ctx,
                                            std::shared_ptr<TlsCredentials> creds);
// DNS-over-HTTPS: TLS with ALPN "h2", then HTTP/2 on /dns-query (and /doh).
std::unique_ptr<Listener> make_doh_listener(Fd fd, ServeContext& ctx,
                                            std::shared_ptr<TlsCredentials> creds);

// What the Lua config sets about TLS. This is the one process-wide object
// of the TLS code (an exception to "no mutable globals", so that the Lua
// bindings reach it without the engine knowing about TLS): the certificate
// and ticket secret are properties of the process, shared by all its TLS
// and DoH listeners, like kresd's.
class TlsSettings {
public:
    // The credentials every TLS/DoH listener of the process shares.
    std::shared_ptr<TlsCredentials> credentials();
    // Forgets everything (tests).
    void reset();

private:
    std::shared_ptr<TlsCredentials> creds_;
};

TlsSettings& tls_settings();

} // namespace kresd::net
