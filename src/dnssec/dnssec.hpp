// DNSSEC validation (RFC 4033, 4034, 4035, 5155, 6840): pure judgements
// over records the caller has already fetched. No cache, no sockets, no
// clock of its own: every function takes the records, the keys and the
// time, and returns a Judgement (secure / insecure / bogus, an Extended DNS
// Error code, and the reason in words for the log).
//
// How the resolution core uses it (src/resolve):
//
//   1. A zone's DNSKEY RRset is validated against the DS RRset its parent
//      gave (already validated with the parent's keys), or against a trust
//      anchor: verify_dnskeys(). Secure -> those keys validate the zone's
//      data; insecure (no DS of an algorithm or digest we can use) -> the
//      zone and everything below it are insecure.
//   2. Every RRset from a secure zone is checked with verify_rrset() using
//      the zone's keys (the RRSIG's signer name must be the zone).
//   3. Denials (NXDOMAIN, NODATA, "no DS here", wildcard expansions) are
//      proven with prove_*() from NSEC/NSEC3 records whose own RRsets the
//      caller verified with step 2 first.
//
// Every signature check costs one unit of the request's Budget (KeyTrap,
// CVE-2023-50387): when it runs out the judgement is bogus ("budget").
// Only sign.cpp calls the crypto library (ldns, which verifies with
// OpenSSL).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/record.hpp"

namespace kresd::dnssec {

using Security = dns::Security; // dns/record.hpp
const char* to_text(Security s);

// Extended DNS Error (RFC 8914) INFO-CODEs of validation.
namespace ede {
inline constexpr uint16_t UNSUPPORTED_DNSKEY_ALG = 1, UNSUPPORTED_DS_DIGEST = 2,
                          DNSSEC_INDETERMINATE = 5, DNSSEC_BOGUS = 6, SIGNATURE_EXPIRED = 7,
                          SIGNATURE_NOT_YET_VALID = 8, DNSKEY_MISSING = 9, RRSIGS_MISSING = 10,
                          NSEC_MISSING = 12;
// RFC 9276 3.2 (with an insecure judgement from NSEC3 iterations over the limit).
inline constexpr uint16_t UNSUPPORTED_NSEC3_ITERATIONS = 27;
}

struct Judgement {
    Security status = Security::bogus;
    uint16_t ede = ede::DNSSEC_BOGUS; // meaningful for bogus, and for insecure by algorithm
    std::string why;                  // one phrase for the log ("RRSIG expired", ...)
    bool ok() const { return status == Security::secure; }
};

struct Limits {
    // RFC 9276 3.2: NSEC3 records with more iterations make an answer
    // insecure (not bogus). Knot Resolver 5.6 and Unbound 1.17 use 150.
    unsigned max_nsec3_iterations = 150;
    // Allowed clock skew around the RRSIG validity period, seconds.
    uint32_t skew_s = 300;
    // Signature checks one request may make (Budget::left at its start).
    unsigned max_verifications = 48;
};

// Signature checks a request may still make (KeyTrap bound).
struct Budget {
    unsigned left = 64;
    bool take()
    {
        if (left == 0)
            return false;
        --left;
        return true;
    }
};

// Signatures that verified before, so that the same RRset with the same
// RRSIG from the same key is not checked again (a zone's SOA and NSEC3
// records come back with every NXDOMAIN; Unbound and Knot Resolver do not
// re-verify what they validated either). Keyed by the SHA-256 of exactly
// the key, the signature and the signed data, so nothing else can match;
// an entry lasts until the signature's expiration. Bounded: when full it
// starts over. A hit costs no Budget. The Resolver keeps one for all
// requests.
class VerifiedMemo {
public:
    explicit VerifiedMemo(size_t capacity = 16384) : capacity_(capacity) {}
    using Digest = std::array<uint8_t, 32>;
    bool contains(const Digest& d, uint32_t now32) const;
    void add(const Digest& d, uint32_t expiration);
    size_t size() const { return map_.size(); }

private:
    struct Hash {
        size_t operator()(const Digest& d) const
        {
            size_t h;
            std::memcpy(&h, d.data(), sizeof h);
            return h;
        }
    };
    size_t capacity_;
    std::unordered_map<Digest, uint32_t, Hash> map_;
};

// ---- algorithms and key data (RFC 4034, RFC 8624) ----

// DNSKEY algorithms we validate: 5, 7 (RSASHA1), 8, 10, 13, 14, 15, 16.
// Others (1 RSAMD5, 3/6 DSA, 12 GOST, unknown) make a zone insecure.
bool algorithm_supported(uint8_t alg);
// DS digest types we use: 1 (SHA-1), 2 (SHA-256), 4 (SHA-384).
bool digest_supported(uint8_t digest);
// RFC 4034 Appendix B (algorithm 1 excluded: it has its own rule, never used).
uint16_t key_tag(std::span<const uint8_t> dnskey_rdata);
// DNSKEY flags: zone key bit 7 (0x0100), SEP bit 15 (0x0001), REVOKE bit 8 (0x0080, RFC 5011).
uint16_t dnskey_flags(std::span<const uint8_t> dnskey_rdata);
uint8_t dnskey_algorithm(std::span<const uint8_t> dnskey_rdata);
// RFC 4034 5.1.4: does `ds` (rdata) name the key `dnskey` (rdata) owned by `owner`?
bool ds_matches(const dns::Name& owner, std::span<const uint8_t> ds_rdata,
                std::span<const uint8_t> dnskey_rdata);
// The DS rdata (digest type 2) of a DNSKEY: for trust anchor files in DNSKEY form.
std::vector<uint8_t> make_ds(const dns::Name& owner, std::span<const uint8_t> dnskey_rdata,
                             uint8_t digest_type = 2);

// A DS or DNSKEY record as one line of text, "OWNER<pad to 20>\tTTL\tTYPE\tRDATA"
// (the layout of Knot Resolver's key files and trust_anchors.summary());
// empty for other types or malformed rdata.
std::string anchor_text(const dns::Record& rr);

// ---- RRSIG fields (RFC 4034 3.1) ----
struct RrsigInfo {
    uint16_t type_covered = 0;
    uint8_t algorithm = 0;
    uint8_t labels = 0;
    uint32_t original_ttl = 0;
    uint32_t expiration = 0, inception = 0; // serial-number arithmetic (RFC 1982)
    uint16_t key_tag = 0;
    dns::Name signer;
};
std::optional<RrsigInfo> parse_rrsig(std::span<const uint8_t> rrsig_rdata);

// ---- verifying RRsets ----

// One RRset (same owner, type and class) and RRSIG records that may cover
// it (the caller passes those with the same owner; verify_rrset ignores
// RRSIGs of another type covered).
struct RRsetRef {
    std::vector<const dns::Record*> rrs;
    std::vector<const dns::Record*> sigs;
};

struct Verified {
    Judgement j;
    // secure: TTL the RRset may be kept and served with (RFC 4035 5.3.3:
    // min of the records' TTL, the RRSIG's original TTL, and expiration -
    // now).
    uint32_t ttl = 0;
    // secure: the RRSIG's labels field was below the owner's label count:
    // the RRset was expanded from the wildcard *.<last `labels` labels of
    // owner> (RFC 4035 5.3.4) and the caller must prove with
    // prove_wildcard() that the name itself does not exist.
    bool wildcard = false;
    uint8_t labels = 0;
};

// The signer name of the first RRSIG in `set` covering its type; nullopt
// when there is none.
std::optional<dns::Name> signer_of(const RRsetRef& set);

// RFC 4035 5.3: `set` is secure when one of its RRSIGs (signer == zone,
// owner at or below the signer, type covered, labels <= owner labels
// (a leading "*" label not counted), inception - skew <= now <=
// expiration + skew) verifies with a key of `keys` (the zone's validated
// DNSKEY records; zone-key bit set, not revoked (except over the DNSKEY
// RRset itself, RFC 5011 2.1), algorithm and key tag as in the RRSIG;
// each attempt takes one unit of `budget`). No RRSIG at all -> bogus, EDE RRSIGS_MISSING; only
// expired ones -> SIGNATURE_EXPIRED; only future ones ->
// SIGNATURE_NOT_YET_VALID; no key with the tag -> DNSKEY_MISSING; else
// DNSSEC_BOGUS. `now` is wall-clock seconds.
Verified verify_rrset(const RRsetRef& set, const dns::Name& zone,
                      std::span<const dns::Record> keys, uint64_t now, Budget& budget,
                      const Limits& lim = {}, VerifiedMemo* memo = nullptr);

// RFC 4035 5.2 (and 4033 for anchors): the DNSKEY RRset of `zone` is
// secure when a DS of `ds` (or an anchor key of `anchor_keys`, compared
// by rdata) matches a key of the set that is a zone key, not revoked, of
// a supported algorithm, and that key's RRSIG over the set verifies.
// When no DS has a supported algorithm and a supported digest -> insecure
// (RFC 6840 5.2, RFC 4035 5.2), EDE UNSUPPORTED_DNSKEY_ALG or
// UNSUPPORTED_DS_DIGEST. Digest type 1 is not used when the same key has a
// DS of a stronger supported digest (RFC 4509 3). `dnskeys.rrs` are the
// DNSKEY records, `dnskeys.sigs` their RRSIGs.
Judgement verify_dnskeys(const dns::Name& zone, const RRsetRef& dnskeys,
                         std::span<const dns::Record> ds, std::span<const dns::Record> anchor_keys,
                         uint64_t now, Budget& budget, const Limits& lim = {},
                         VerifiedMemo* memo = nullptr);

// ---- denial of existence (RFC 4035 5.4, RFC 5155 8) ----
// `proof` holds the NSEC or NSEC3 records of the reply's authority section
// (owned by names in `zone`), each RRset already verified secure by the
// caller. Results: secure = proven; insecure = proven only up to an
// NSEC3 opt-out span, or NSEC3 iterations over lim.max_nsec3_iterations;
// bogus (EDE NSEC_MISSING) = not proven.

// The name does not exist: NSEC covering it and the wildcard at its
// closest encloser; NSEC3 closest encloser proof, next closer covered,
// wildcard covered.
Judgement prove_nxdomain(const dns::Name& qname, const dns::Name& zone,
                         std::span<const dns::Record> proof, const Limits& lim = {});
// The name exists without `qtype` (and without CNAME): matching NSEC/NSEC3
// without the type bit; or an empty non-terminal; or a wildcard NODATA
// (RFC 4035 3.1.3.4, RFC 5155 8.7). For qtype DS an NSEC3 opt-out span
// covering the next closer name gives insecure (RFC 5155 8.6).
Judgement prove_nodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                       std::span<const dns::Record> proof, const Limits& lim = {});
// A referral from `zone` to `child` without DS: insecure delegation
// proven (status insecure) by an NSEC/NSEC3 at `child` with NS and
// without DS and SOA, or by an opt-out NSEC3 covering child's next closer
// name; anything else bogus.
Judgement prove_no_ds(const dns::Name& child, const dns::Name& zone,
                      std::span<const dns::Record> proof, const Limits& lim = {});
// An answer for `qname` expanded from a wildcard whose RRSIG had `labels`
// labels: proven when the next closer name (labels + 1 labels of qname) is
// covered by an NSEC / NSEC3 (RFC 4035 5.3.4, RFC 5155 8.8).
Judgement prove_wildcard(const dns::Name& qname, uint8_t labels, const dns::Name& zone,
                         std::span<const dns::Record> proof, const Limits& lim = {});

// RFC 4034 6.1 canonical order of names: <0, 0, >0.
int canonical_compare(const dns::Name& a, const dns::Name& b);
// RFC 5155 5: base32hex hash of `name` as an NSEC3 owner's first label would
// carry it (lower-case), or empty when the rdata is malformed.
std::string nsec3_hash(const dns::Name& name, std::span<const uint8_t> nsec3_rdata);

} // namespace kresd::dnssec
