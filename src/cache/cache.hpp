// The record cache: one LMDB environment per cache directory, shared by
// every instance (process) that opens the same directory.
//
// Contract:
//  * open() creates <dir>/data.mdb and lock.mdb when missing; every instance
//    opens the same files; LMDB's own locking makes concurrent readers and
//    writers in several processes safe. Write transactions are short (one
//    RRset or one negative entry, or a small batch) and never held across
//    I/O. A process killed in the middle of a write leaves the previous
//    committed state (LMDB is copy-on-write).
//  * Expiry is wall-clock time (seconds since the epoch, passed in as
//    `now`), so entries outlive processes and reboots; TTLs come back aged.
//  * Trust ranks (RFC 2181 5.4.1): data of a lower rank never replaces
//    unexpired data of a higher rank (glue never overrides an
//    authoritative answer).
//  * A full map never fails a query: a put that hits MDB_MAP_FULL evicts
//    (expired entries first, then those closest to expiry) and retries; it
//    never wipes everything. Eviction starts a little before the map is
//    full (when less than ~1/16 of it is free), because LMDB needs free
//    pages even to delete. Errors other than that are returned as false
//    and logged by the caller; reads that fail behave as misses.
//  * Names are given in wire form, any case; they are stored lower-cased,
//    keyed so that all names below a zone are adjacent (labels reversed),
//    which makes clear(name) a range delete.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "dns/record.hpp"

namespace kresd::cache {

using dns::Security;

struct CacheError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Higher is more trustworthy.
enum class Rank : uint8_t {
    glue = 1,           // a referral: its NS set and its glue (parent-side data)
    nonauth = 2,        // non-authoritative answer (a forwarder's)
    auth_authority = 3, // authority section of an authoritative answer
    auth_answer = 4,    // answer section of an authoritative answer
};

struct RRset {
    uint16_t type = 0;
    uint32_t ttl = 0; // remaining, aged to `now`
    uint32_t stored_ttl = 0; // as stored, before aging (0: unknown)
    Rank rank = Rank::glue;
    Security security = Security::unknown;
    std::vector<std::vector<uint8_t>> rdatas; // each in wire form, names uncompressed
    std::vector<std::vector<uint8_t>> sigs;   // RRSIG rdatas covering it (for DO clients)
};

struct Negative {
    bool nxdomain = false;          // else NODATA for the type asked
    uint32_t ttl = 0;               // remaining
    uint32_t stored_ttl = 0;        // as stored, before aging (0: unknown)
    std::vector<uint8_t> soa_owner; // wire
    std::vector<uint8_t> soa_rdata; // wire, uncompressed
    Security security = Security::unknown;
    // What proves it (DNSSEC): SOA RRSIG, NSEC/NSEC3 records and their
    // RRSIGs, TTLs as stored (not aged).
    std::vector<dns::Record> proof;
};

struct Stats {
    // hits/misses: get_rrset() and get_negative() calls that found / did not
    // find unexpired data; inserts: successful puts; evictions: entries
    // deleted to make room; clears: clear() calls.
    uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0, clears = 0;
    uint64_t entries = 0;  // from LMDB
    uint64_t map_size = 0; // bytes
    uint64_t used = 0;     // bytes in use (branch+leaf+overflow pages * page size)
};

// Receives a cached RRset without copying it (Cache::visit_rrset): the
// spans point into the database and are valid only during the call.
class RRsetVisitor {
  public:
    // First: the aged TTL, the rank, the DNSSEC status and how many rdatas
    // follow. Return false to stop (nothing more is delivered; the visit
    // counts as a miss).
    virtual bool begin(uint32_t ttl, Rank rank, Security security, uint16_t count) = 0;
    // Each rdata in turn (wire form, names uncompressed); false stops.
    virtual bool rdata(std::span<const uint8_t> rdata) = 0;
    // After the rdatas, when wants_sigs(): each RRSIG rdata kept with the
    // RRset (for DO clients); false stops.
    virtual bool wants_sigs() const { return false; }
    virtual bool sig(std::span<const uint8_t> rrsig) {
        (void)rrsig;
        return true;
    }

    // The TTL the RRset was stored with (before aging), set by the cache
    // just before begin() (0 when the cache does not know it): with the
    // aged TTL it tells an entry about to expire (predict's prefetch).
    uint32_t stored_ttl = 0;

  protected:
    ~RRsetVisitor() = default;
};

// A cached negative answer as a client gets it (Cache::visit_answer):
// NXDOMAIN for the name, else NODATA for the type asked; the SOA of the
// zone that said so (owner empty when the answer had none), lower-cased
// owner, TTL aged to `now`. The spans are valid only during the call.
struct NegativeView {
    bool nxdomain = false;
    Security security = Security::unknown;
    uint32_t ttl = 0;
    std::span<const uint8_t> soa_owner;
    std::span<const uint8_t> soa_rdata;
    uint32_t stored_ttl = 0; // before aging (0: unknown), as RRsetVisitor::stored_ttl
};

class NegativeVisitor {
  public:
    // False refuses it (then visit_answer() reports Answer::none).
    virtual bool negative(const NegativeView& n) = 0;

  protected:
    ~NegativeVisitor() = default;
};

// What Cache::visit_answer handed over.
enum class Answer : uint8_t { none, positive, negative };

inline constexpr uint32_t kDefaultMinTtl = 5;             // seconds
inline constexpr uint32_t kDefaultMaxTtl = 6 * 24 * 3600; // 6 days

class Cache {
  public:
    // Throws CacheError with a one-line message (naming the directory).
    // The directory is created when missing. A new environment gets
    // `map_size` bytes (page-rounded, at least 1 MiB); an existing one
    // keeps its map when that is larger. Several Caches opened on one
    // directory in one process share one LMDB environment (LMDB forbids
    // opening it twice); each keeps its own counters and TTL bounds. In a
    // fork()ed child, open the cache anew; do not use the parent's objects.
    // Destroying the last Cache of a directory flushes it to disk.
    static std::unique_ptr<Cache> open(const std::string& dir, uint64_t map_size);
    virtual ~Cache() = default;

    virtual const std::string& dir() const = 0;
    // The current map, bytes: grows when another process opened the
    // directory with a larger size (adopted on the next transaction).
    virtual uint64_t map_size() const = 0;

    // TTL bounds applied on insertion (cache.min_ttl / cache.max_ttl).
    // Should max_ttl be below min_ttl, max_ttl wins.
    virtual void set_ttl_bounds(uint32_t min_ttl, uint32_t max_ttl) = 0;
    // The bounds in force (Knot Resolver's defaults until set).
    virtual uint32_t min_ttl() const { return kDefaultMinTtl; }
    virtual uint32_t max_ttl() const { return kDefaultMaxTtl; }

    // Positive data. Returns false when not stored (an unexpired entry that
    // outranks it exists, no rdatas, a malformed owner, an RRset over 128
    // KiB encoded, or an LMDB error). Outranks: a secure entry is replaced
    // only by secure data of at least its rank (RFC 4035 4.2: validated
    // data is kept over unvalidated); otherwise a higher rank wins.
    // Storing with rank auth_authority or higher also removes a NODATA for
    // (owner, type) and an NXDOMAIN for owner: the name has data now.
    // `sigs` are the RRSIG rdatas that cover the RRset, kept for DO clients.
    virtual bool put_rrset(std::span<const uint8_t> owner, uint16_t type, uint32_t ttl,
                           const std::vector<std::span<const uint8_t>>& rdatas, Rank rank,
                           uint64_t now, Security security = Security::unknown,
                           const std::vector<std::span<const uint8_t>>& sigs = {}) = 0;
    // Unexpired data only. Every lookup takes `now` as given: asked as of
    // a time in the past (`now` - N), the cache also returns entries that
    // expired less than N seconds ago, with TTLs counted from that time;
    // expired entries stay stored until eviction makes room. That is how
    // serve-stale (RFC 8767, resolve::RequestOptions::serve_stale_s) reads
    // them.
    virtual std::optional<RRset> get_rrset(std::span<const uint8_t> owner, uint16_t type,
                                           uint64_t now) = 0;
    // A hint that visit_rrset(owner, type) follows soon: the cache starts
    // loading the memory that lookup reads first. No effect on results.
    virtual void prefetch_rrset(std::span<const uint8_t> owner, uint16_t type) const {
        (void)owner;
        (void)type;
    }
    // The same lookup without copies or allocation, for answering from the
    // cache: hands the unexpired RRset to `v` inside one read of the shared
    // read transaction. Returns true when `v` took all of it (begin() and
    // every rdata() returned true); false on a miss or when `v` stopped.
    // The default goes through get_rrset().
    virtual bool visit_rrset(std::span<const uint8_t> owner, uint16_t type, uint64_t now,
                             RRsetVisitor& v) {
        auto rr = get_rrset(owner, type, now);
        if (!rr || !v.begin(rr->ttl, rr->rank, rr->security,
                            static_cast<uint16_t>(rr->rdatas.size())))
            return false;
        for (const auto& rd : rr->rdatas)
            if (!v.rdata(rd)) return false;
        return true;
    }
    // A client's question answered from the cache as a resolution's first
    // step would (RFC 1034 5.3.3 step 1, RFC 2308 5): the RRset of (owner,
    // type) when `v` takes all of it (`v` refuses ranks a client must not
    // see), else the NXDOMAIN of owner, else the NODATA of (owner, type),
    // handed to `n`. Without copies or allocation; LmdbCache keeps the
    // negative answers in its front table too, so that a cached NXDOMAIN
    // or NODATA costs what a cached RRset does. The default goes through
    // visit_rrset() and get_negative().
    virtual Answer visit_answer(std::span<const uint8_t> owner, uint16_t type, uint64_t now,
                                RRsetVisitor& v, NegativeVisitor& n) {
        if (visit_rrset(owner, type, now, v)) return Answer::positive;
        auto neg = get_negative(owner, type, now);
        if (!neg) return Answer::none;
        if (!n.negative({neg->nxdomain, neg->security, neg->ttl, neg->soa_owner, neg->soa_rdata}))
            return Answer::none;
        return Answer::negative;
    }

    // Between hold_reads(true) and hold_reads(false) lookups may share one
    // read snapshot (LMDB: renewed once, not per lookup). Writes in between
    // are still seen by the lookups after them. Call hold_reads(false)
    // before returning to the event loop.
    virtual void hold_reads(bool) {}

    // Negative answers (RFC 2308): NXDOMAIN covers every type of the name;
    // NODATA covers one type. TTL = min(SOA TTL, SOA MINIMUM), bounded:
    // `ttl` is the SOA's TTL; when soa_rdata is a well-formed SOA rdata its
    // MINIMUM field caps it. soa_owner may be empty (stored as such),
    // otherwise it must be a wire name; it comes back lower-cased. A lookup
    // finds an NXDOMAIN of the name first, else a NODATA of (name, type).
    // `security` and `proof` (the records that prove it, for DO clients)
    // are kept with it.
    virtual bool put_negative(std::span<const uint8_t> owner, uint16_t type, bool nxdomain,
                              std::span<const uint8_t> soa_owner,
                              std::span<const uint8_t> soa_rdata, uint32_t ttl, uint64_t now,
                              Security security = Security::unknown,
                              std::span<const dns::Record> proof = {}) = 0;
    virtual std::optional<Negative> get_negative(std::span<const uint8_t> owner, uint16_t type,
                                                 uint64_t now) = 0;

    // RFC 8198 (aggressive use of DNSSEC-validated cache): validated NSEC
    // records kept by zone, in canonical order, so that the one before a
    // name can be found. `zone` is the NSEC's signer. False when not stored.
    virtual bool put_nsec(std::span<const uint8_t> zone, const dns::Record& nsec,
                          const std::vector<std::span<const uint8_t>>& sigs, uint64_t now) {
        (void)zone;
        (void)nsec;
        (void)sigs;
        (void)now;
        return false;
    }
    // The unexpired NSEC of `zone` whose owner is `name` or the closest
    // before it in canonical order (RFC 4034 6.1), with its RRSIGs (TTL
    // aged); nullopt when there is none.
    struct Nsec {
        dns::Record rr;
        std::vector<std::vector<uint8_t>> sigs;
    };
    virtual std::optional<Nsec> find_nsec(std::span<const uint8_t> zone,
                                          std::span<const uint8_t> name, uint64_t now) {
        (void)zone;
        (void)name;
        (void)now;
        return std::nullopt;
    }

    // Removes everything (name empty, or the root name) or the name and
    // everything below it (a range delete, in short transactions).
    // Returns how many entries went; 0 for a malformed name.
    virtual uint64_t clear(std::span<const uint8_t> name) = 0;
    virtual uint64_t count() = 0;
    // Counters are this object's (per process, since each process opens its
    // own); entries/map_size/used are the shared database's.
    virtual Stats stats() = 0;
};

} // namespace kresd::cache
