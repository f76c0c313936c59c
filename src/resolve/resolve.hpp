// The resolution core: from a client's question to an answer, with no
// sockets, no event loop and no Lua. Whoever drives it (the daemon, or a
// unit test with scripted replies and a simulated clock) follows one loop:
//
//     Request req(resolver, query, options);
//     Outgoing out;
//     while (req.produce(out) == Step::send) {
//         send out.wire to out.to over out.proto, wait at most out.timeout_ms;
//         reply arrived ? req.consume(bytes, from, proto) : req.timeout();
//     }
//     req.write_answer(builder);   // Step::done: the answer is ready
//
// One upstream query is outstanding at a time per request. consume() drops
// (returns false, changes nothing) replies whose ID, question or source do
// not match the outstanding query; the driver then keeps waiting for the
// real one until the timeout.
//
// Outgoing::wire is the bare DNS message: over TCP and TLS the driver adds
// the two-byte length prefix (RFC 7766 8) and hands consume() the message
// without it. A connection that fails or closes counts as a timeout().
// Calling produce() again while a query is outstanding returns that same
// query. consume() and timeout() do nothing once the request is done.
//
// The Resolver holds what requests share: the cache, the root hints, the
// per-address RTT estimates, the configuration and the limits. It outlives
// its requests. Everything here is single-threaded.
//
// What a request does (request_impl.hpp has the state machine): the cache
// first (positive RRsets of rank nonauth or better, cached CNAMEs, negative
// entries); else iteration from the closest cached zone cut or the root
// hints, or, with RequestOptions::forward, the full question with RD=1 to
// the forward targets. Queries carry EDNS0 (Config::edns_size, no DO yet)
// and a fresh random ID; QNAME minimisation (RFC 9156) asks each zone for
// one more label with QTYPE NS (as Knot Resolver does), at most 10 times
// per name, and falls back to the full name when a zone answers a
// minimised query with NXDOMAIN, FORMERR, NOTIMP, REFUSED or SERVFAIL.
// Only records inside the bailiwick of the servers asked are used or
// cached. Replies are cached with their trust rank; RequestOptions::no_cache
// neither reads nor writes the cache. Addresses learned from DNS data
// (glue, NS lookups) that are local or private (is_local_address) are not
// asked unless allow_local; root hints and forward targets always are.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <sys/socket.h>
#include <vector>

#include "cache/cache.hpp"
#include "dns/record.hpp"
#include "dns/wire.hpp"
#include "dnssec/anchors.hpp"
#include "dnssec/dnssec.hpp"

namespace kresd::resolve {

struct Address {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family() const { return ss.ss_family; }
};
// "192.0.2.1", "2001:db8::1", with "@port" or "#port" (default 53).
std::optional<Address> parse_address(const std::string& text);
std::string address_to_string(const Address& a); // "192.0.2.1@53"
bool same_address(const Address& a, const Address& b);
// Loopback, RFC 1918, link-local, ULA, unspecified... (ALLOW_LOCAL guards these).
bool is_local_address(const Address& a);

// tls: DNS over TLS (RFC 7858) to a TLS_FORWARD target; framed as over TCP.
enum class Proto : uint8_t { udp, tcp, tls };

// How a DNS-over-TLS forward target is authenticated (policy.TLS_FORWARD,
// RFC 8310). Immutable once built; requests share it through shared_ptr.
// With pins the peer's SubjectPublicKeyInfo must hash (SHA-256) to one of
// them and the hostname, if any, is only sent as SNI; without pins the
// certificate must chain to ca_file (empty: the system bundle) and carry
// hostname; insecure skips all checks.
struct TlsAuth {
    std::string hostname;
    std::string ca_file;
    std::vector<std::vector<uint8_t>> pins; // 32 bytes each
    bool insecure = false;
};

struct Outgoing {
    Address to;
    Proto proto = Proto::udp;
    std::vector<uint8_t> wire;
    uint32_t timeout_ms = 0;
    std::shared_ptr<const TlsAuth> tls; // proto == tls: how to check the server
};

enum class Step { send, done };

// Time is injected: monotonic milliseconds for timeouts and budgets, wall
// seconds for cache expiry.
struct Clock {
    std::function<uint64_t()> mono_ms;
    std::function<uint64_t()> wall_s;
};

struct Limits {
    unsigned max_upstream_queries = 50; // per client request, all sub-goals included
    unsigned max_subrequests = 10;      // NS-name address lookups per request (NXNS bound)
    unsigned max_ns_per_zone = 6;       // NS names considered per zone cut
    unsigned max_cname_chain = 12;      // CNAME/DNAME hops
    unsigned max_referrals = 24;        // zone cuts followed
    uint32_t total_time_ms = 8000;      // budget per request
    uint32_t min_timeout_ms = 200, max_timeout_ms = 3000;
};

// mode() (Knot Resolver 5): which glue of a referral is used directly.
// strict: only glue the delegation needs (NS names inside the delegated
// zone); normal: glue inside the zone of the server that sent it;
// permissive: any glue (risky: out-of-zone addresses can poison).
enum class GlueMode : uint8_t { strict, normal, permissive };

struct Config {
    // Root hints: name server name (wire) -> addresses. Defaults: IANA's.
    std::vector<std::pair<dns::Name, std::vector<Address>>> root_hints;
    bool minimize = true;     // QNAME minimisation (RFC 9156); option('NO_MINIMIZE')
    bool allow_local = false; // send to local/private addresses learned from data
    GlueMode glue = GlueMode::normal; // mode()
    bool ipv4 = true, ipv6 = true;
    uint16_t edns_size = dns::kDefaultEdnsSize;
    Limits limits;
    // Server selection: how often (percent of choices) a non-penalised
    // server other than the best is asked, to keep RTT estimates fresh.
    unsigned explore_percent = 5;
    // DNSSEC: the trust anchors (shared with the Lua bindings, which change
    // them at run time); null or empty = no validation, every answer
    // insecure. default_config() has the root's built-in anchors.
    std::shared_ptr<dnssec::TrustAnchors> anchors;
    dnssec::Limits dnssec_limits;
    // Called when a client's question was answered from the cache with an
    // RRset or a negative answer about to expire (Knot Resolver's EXPIRING:
    // less than 5 s plus 1% of its original TTL left), so that a module
    // (predict) can refresh it. Empty: nothing is done (the cache-hit path
    // tests only this). Runs inside answer_from_cache(): it must not
    // answer or resolve synchronously.
    std::function<void(const dns::Name& qname, uint16_t qtype)> on_expiring;
};

// Knot Resolver 5.6's rule for an entry about to expire (lib/cache):
// fewer than 5 seconds plus 1% of the TTL it was stored with are left.
constexpr bool is_expiring(uint32_t stored_ttl, uint32_t remaining)
{
    return 100 * (int64_t{remaining} - 5) < int64_t{stored_ttl};
}

// IANA's root servers (a..m.root-servers.net) with their IPv4 and IPv6
// addresses. A Resolver whose Config has no root_hints uses these.
std::vector<std::pair<dns::Name, std::vector<Address>>> default_root_hints();

// What the policy decided for one request before resolution.
struct RequestOptions {
    bool no_minimize = false;
    bool allow_local = false;
    bool tcp = false;            // upstream over TCP only
    bool no_cache = false;
    bool debug = false;          // DEBUG_ALWAYS: log every step of this request
    // RFC 8509 root key trust anchor sentinel (module ta_sentinel, loaded
    // by default as in Knot Resolver): a secure A/AAAA answer for a name
    // whose first label is root-key-sentinel-is-ta-<key tag> becomes
    // SERVFAIL when the root's anchors lack that key, and one for
    // root-key-sentinel-not-ta-<key tag> when they have it.
    bool ta_sentinel = false;
    // Module rebinding (Knot Resolver's): an upstream reply with an A/AAAA
    // record of a private or special address in any section
    // (resolve/rebinding.hpp) is not used nor cached; it ends the client's
    // request REFUSED, or fails a name server address lookup. Off with
    // allow_local.
    bool rebinding = false;
    // FLAGS('NO_0X20') (module workarounds): never randomise the case of
    // names sent upstream for this request. Stored for the 0x20 defence;
    // nothing randomises the case yet.
    bool no_0x20 = false;
    // FLAGS('DNS64_DISABLE'): the dns64 module leaves this request alone.
    bool dns64_disable = false;
    // Prefetch (module predict; Knot Resolver's NO_CACHE on its own
    // questions): the client's question is not answered from the cache but
    // asked upstream, and the answer is cached as usual (replacing the
    // entry about to expire). Cached zone cuts are still used.
    bool refresh = false;
    // Serve-stale (RFC 8767; module serve_stale): when the client's question
    // cannot be answered from upstream (no reachable server, every server
    // failed, a time or query limit), or has waited stale_after_ms, the cache
    // is asked again accepting data that expired at most this many seconds
    // ago; such an answer goes out with TTL 1 and EDE 3 (Stale Answer).
    // 0: off. Never for refresh requests.
    uint32_t serve_stale_s = 0;
    uint32_t stale_after_ms = 3000; // kStaleAfterMs; serve_stale.timeout
    // FORWARD/STUB: ask these instead of iterating. forward: RD=1 and trust
    // the answer as a recursive resolver's; stub: RD=1, no validation.
    std::vector<Address> forward;
    bool stub = false;
    // TLS_FORWARD: one entry per forward target (same order), and every
    // query goes over TLS to its target; never over UDP or plain TCP.
    std::vector<std::shared_ptr<const TlsAuth>> forward_tls;
};

// Serve-stale: how long a request waits for upstream by default before it
// answers stale data (RequestOptions::stale_after_ms), as Knot Resolver
// 5.6's serve_stale.timeout (3 s). Checked when a reply or timeout comes.
inline constexpr uint32_t kStaleAfterMs = 3000;

// Extended DNS Error (RFC 8914) codes we set.
namespace ede {
inline constexpr uint16_t OTHER = 0, STALE = 3, PROHIBITED = 18, NO_REACHABLE_AUTHORITY = 22,
                          NETWORK_ERROR = 23;
}

// The defaults: IANA's root hints, minimisation on, both families.
Config default_config();

class Resolver {
public:
    // `cache` may be null (no caching) and must outlive the Resolver.
    // Empty config.root_hints are replaced by default_root_hints().
    // `random` gives query IDs and server-selection dice.
    Resolver(Config config, cache::Cache* cache, Clock clock,
             std::function<uint32_t()> random);
    ~Resolver();
    Config& config();
    cache::Cache* cache();
    const Clock& clock() const;
    uint32_t random();
    // Per-address smoothed RTT (ms) and penalties, shared by all requests.
    struct ServerStats;
    ServerStats& servers();
    // Signatures already verified, shared by all requests (dnssec.hpp).
    dnssec::VerifiedMemo& verified();
    // Whether this Resolver has cached a DNAME since it started: only then
    // does a cache miss look for one above the name (a cached DNAME from
    // another instance is found once this one cached any).
    bool dnames_cached() const;
    void note_dname_cached();
    // Whether a request of class `qclass` with `opts` is validated: trust
    // anchors configured, class IN, not STUB (FORWARD and TLS_FORWARD are,
    // as in Knot Resolver). The one rule for the Request and the fast path.
    bool validates(const RequestOptions& opts, uint16_t qclass) const;

    // The cache-hit path: answers `q` when the cache holds an unexpired
    // RRset of exactly (QNAME, QTYPE) good enough for a client (rank
    // nonauth or better), else an unexpired NXDOMAIN of QNAME or NODATA of
    // (QNAME, QTYPE): the answer a Request would give, written straight
    // from the cached wire data into `out` (begun, not finished) with aged
    // TTLs, without a Request, a copy or an allocation. Returns false, with
    // `out` untouched, for everything else (class other than IN, a miss,
    // CNAMEs to follow): then run a Request, whose caching rules are the
    // reference. `opts` must be those the Request would get (no_cache,
    // refresh and debug always take the Request). An answer about to
    // expire is reported to Config::on_expiring, when that is set.
    bool answer_from_cache(const dns::Query& q, const RequestOptions& opts,
                           dns::ResponseBuilder& out);
    // Called as soon as `q` is parsed, when answer_from_cache(q) may
    // follow: starts loading what its lookup will read, so that the load
    // overlaps the work in between (policy, the answer's header).
    void prefetch(const dns::Query& q) const;
    // Where DEBUG_ALWAYS lines go (default: util log, group "resolv",
    // whatever the log level). One line per step of a request with
    // RequestOptions::debug.
    std::function<void(const std::string&)> debug_log;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class Request {
public:
    Request(Resolver& r, const dns::Query& q, const RequestOptions& opts);
    ~Request();
    Request(const Request&) = delete;
    Request& operator=(const Request&) = delete;

    Step produce(Outgoing& out);
    bool consume(std::span<const uint8_t> reply, const Address& from, Proto proto);
    void timeout();
    // The transport failed for the outstanding query in a way that waiting
    // will not fix (TLS connection refused, handshake or certificate
    // verification failure): the server is not asked again by this request.
    void transport_failed(const char* why);

    // After Step::done. Writes RCODE, AA=0/RA=1, answer records (CNAME chain
    // first), authority (SOA for negative answers); on failure SERVFAIL with
    // an EDE option when the builder had room reserved (ede_reserve()).
    void write_answer(dns::ResponseBuilder& out) const;
    static constexpr size_t ede_reserve() { return 4 + 2 + 64; }

    uint16_t rcode() const;
    bool from_cache() const; // answered without any upstream query
    // After Step::done: the answer as records (the chain, the final RRset
    // and, when the query had DO, their RRSIGs; TTLs aged) and its DNSSEC
    // status, for the daemon's own questions (RFC 5011 refresh, priming).
    std::vector<dns::Record> answer_records() const;
    dns::Security security() const;
    // After Step::done: upstream queries sent, and the EDE of a failure.
    unsigned upstream_queries() const;
    std::optional<uint16_t> ede_code() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace kresd::resolve
