// RFC 5011 automated updates of one zone's trust anchors, as Knot
// Resolver 5's ta_update module keeps them: the keys of the anchor zone
// with their states and timers, and the key file that holds them.
//
// Pure: no clock, no sockets, no logging. Time is a parameter (wall-clock
// seconds, as RRSIG validity and the file's timers are). How the daemon
// drives one KeySet:
//
//     KeySet ks;  KeySet::read_file(path, ks);      // at start (add_file)
//     every ks.refresh_interval_s(...) seconds:
//         ask the zone's DNSKEY (with DO) through the resolver;
//         failure -> try again after ks.retry_interval_s()
//         KeySet::read_file(path, ks);              // another instance may have moved on
//         Observation o = ks.observe(answer, now, params);
//         if (o.changed) ks.write_file(path);       // atomic: temp file + rename
//         if (o.trust_changed) anchors <- ks.trusted_keys();
//
// Several instances sharing a rundir each refresh; they agree through the
// file: whoever observes first writes the timers, the others read them back
// and apply the same transitions. A write never leaves a half-written file
// (a temporary file in the same directory, fsync, rename).
//
// States (RFC 5011 4.1; Start is the state of keys we do not hold):
//   AddPend  a new SEP key seen in a DNSKEY RRset signed by a trusted key;
//            not trusted until the add hold-down ends (timer) and it was
//            seen at every refresh meanwhile (gone once -> forgotten)
//   Valid    trusted
//   Missing  a Valid key no longer published; still trusted; removed when
//            missing for 4 x hold-down (Knot Resolver's rule), but never
//            when no other key would be trusted
//   Revoked  published with the REVOKE bit and self-signed: distrusted at
//            once; Removed when the remove hold-down ends (timer)
//   Removed  kept (for the record) up to `keep_removed` keys, else forgotten;
//            never trusted again
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/record.hpp"

namespace kresd::dnssec {

enum class KeyState : uint8_t { start, add_pend, valid, missing, revoked, removed };

// "Start", "AddPend", "Valid", "Missing", "Revoked", "Removed": the words
// of Knot Resolver's key files.
const char* to_text(KeyState s);
std::optional<KeyState> key_state_from_text(std::string_view word);

struct ManagedKey {
    dns::Record rr; // DNSKEY, or a DS from the file until its key is seen
    KeyState state = KeyState::valid;
    uint64_t timer = 0; // wall seconds when the state's hold-down ends; 0 = none
    bool operator==(const ManagedKey& o) const;
};

struct Rfc5011Params {
    uint64_t hold_down_s = 30ull * 24 * 3600; // trust_anchors.hold_down_time / 1000
    unsigned keep_removed = 0;                // trust_anchors.keep_removed
};

// What one observe() did.
struct Observation {
    bool ok = false; // false: the answer was not used (why says so)
    std::string why;
    bool changed = false;            // states, timers or records changed: write the file
    bool trust_changed = false;      // trusted_keys() changed: update the live anchors
    std::vector<std::string> events; // "key 20326: Valid -> Missing", for the log
};

class KeySet {
  public:
    KeySet() = default;
    explicit KeySet(const dns::Name& zone);

    // RFC 5011 4 with one active refresh result. `answer` holds the
    // zone's DNSKEY records and the RRSIGs covering them (other records
    // are ignored). The RRset must verify with a key trusted now
    // (trusted_keys()), else nothing changes (ok false): that is the
    // "signed by a trust anchor" rule of RFC 5011 2.2, checked here even
    // though the resolver validated the answer already. Then:
    //   a SEP key we do not hold, not revoked     -> AddPend, timer now + hold-down
    //   AddPend seen, timer passed                -> Valid
    //   AddPend not seen                          -> forgotten
    //   Valid not seen                            -> Missing (timer now + 4 hold-down)
    //   Missing seen again                        -> Valid
    //   Missing, timer passed, another key trusted -> forgotten
    //   Valid/Missing/AddPend seen with the REVOKE bit and a valid
    //     self-signature                          -> Revoked (timer now + hold-down);
    //                                                AddPend ones are forgotten
    //   Revoked, timer passed                     -> Removed
    //   Removed beyond keep_removed               -> forgotten (oldest first kept)
    // A revoked key whose own RRSIG does not verify counts as not seen.
    // A key we hold counts as published whatever its SEP bit; only SEP
    // keys become new AddPend keys. A DS (from the file) is replaced by
    // the DNSKEY it names, state kept.
    //
    // The last trusted key is never taken away: a Missing key stays while
    // no other key is trusted; a zone that stops publishing (or revokes)
    // its only trusted key without a Valid successor gives RRsets that no
    // trusted key signs, so nothing changes and the zone stays bogus
    // (fail closed) until an operator replaces the file.
    Observation observe(std::span<const dns::Record> answer, uint64_t now,
                        const Rfc5011Params& params = {});

    // The records to trust for the zone: Valid and Missing keys (RFC 5011
    // 4.2), in file order. Empty when none is left (the zone then cannot
    // be validated: the caller should keep failing closed).
    std::vector<dns::Record> trusted_keys() const;

    // RFC 5011 2.3 after a successful refresh with `answer`:
    // max(1 hour, min(15 days, 1/2 original TTL, 1/2 time to the RRSIG's
    // expiration)). Without RRSIGs in `answer` the keys' TTLs stand in.
    uint64_t refresh_interval_s(std::span<const dns::Record> answer, uint64_t now) const;
    // After a failed refresh: max(1 hour, min(1 day, 1/10 of the keys' TTL)).
    uint64_t retry_interval_s() const;

    const dns::Name& zone() const { return zone_; }
    const std::vector<ManagedKey>& keys() const { return keys_; }
    bool operator==(const KeySet& o) const;

    // ---- the key file ----
    // Zone-file lines, one record each, as Knot Resolver 5 writes them:
    //   .   172800  DNSKEY  257 3 8 AwEAA... ; Valid: ; KeyTag:20326
    //   ; .   172800  DNSKEY  257 3 8 AwEAA... ; AddPend:1700000000 ; KeyTag:38696
    // After the record, "; STATE:TIMER" (TIMER in wall seconds, empty when
    // none) and the key tag for people. Keys that may not be trusted
    // (AddPend, Revoked, Removed) are commented out with "; " so that a
    // reader without RFC 5011 trusts only the others.
    std::string to_text() const;
    // Reads what to_text() writes, and plain zone files ($ORIGIN, $TTL,
    // comments, DS and/or DNSKEY of one zone): a record without a state
    // comment is Valid; a "; " line is a key only when it parses and names
    // a state, else it is a comment. Errors "PATH:LINE: why" (`path` is
    // only used in messages); `out` is untouched then.
    static std::optional<std::string> parse(std::string_view text, const std::string& path,
                                            KeySet& out);
    static std::optional<std::string> read_file(const std::string& path, KeySet& out);
    // Atomic replace: a temporary file in the same directory, fsync,
    // rename over `path` (mode of the old file kept, else 0644). Error text
    // "PATH: why" on failure; the old file is intact then.
    std::optional<std::string> write_file(const std::string& path) const;

  private:
    dns::Name zone_{};
    std::vector<ManagedKey> keys_;
};

} // namespace kresd::dnssec
