// RRset signatures (RFC 4035 5.3) and a zone's DNSKEY RRset against its DS
// set or trust anchor (RFC 4035 5.2, RFC 4509 3, RFC 6840 5.2).
#include <algorithm>

#include "dnssec/dnssec.hpp"
#include "dnssec/internal.hpp"

namespace kresd::dnssec {

namespace {

constexpr uint16_t kFlagZone = 0x0100, kFlagRevoke = 0x0080;

// Why one RRSIG did not do; the worst kind seen wins the EDE code
// (expired > not yet valid > DNSKEY missing > bogus).
enum class Fail : uint8_t { bogus = 0, key_missing = 1, not_yet = 2, expired = 3 };

struct Failure {
    Fail kind = Fail::bogus;
    std::string why;
    bool set = false;
    void note(Fail k, std::string w) {
        if (!set || k > kind) {
            kind = k;
            why = std::move(w);
            set = true;
        }
    }
};

uint16_t ede_of(Fail f) {
    switch (f) {
    case Fail::expired:
        return ede::SIGNATURE_EXPIRED;
    case Fail::not_yet:
        return ede::SIGNATURE_NOT_YET_VALID;
    case Fail::key_missing:
        return ede::DNSKEY_MISSING;
    case Fail::bogus:
        break;
    }
    return ede::DNSSEC_BOGUS;
}

Verified bogus(uint16_t code, std::string why) {
    Verified v;
    v.j = Judgement{Security::bogus, code, std::move(why)};
    return v;
}

// RFC 1982 serial difference a - b as a signed 32-bit value.
int64_t serial_diff(uint32_t a, uint32_t b) {
    return static_cast<int32_t>(a - b);
}

bool all_same_rrset(const std::vector<const dns::Record*>& rrs) {
    const dns::Record& first = *rrs.front();
    return std::all_of(rrs.begin(), rrs.end(), [&](const dns::Record* r) {
        return r != nullptr && r->type == first.type && r->klass == first.klass &&
               detail::name_equal(r->owner, first.owner);
    });
}

} // namespace

std::optional<dns::Name> signer_of(const RRsetRef& set) {
    if (set.rrs.empty() || set.rrs.front() == nullptr) return std::nullopt;
    for (const dns::Record* sig : set.sigs) {
        if (sig == nullptr || sig->type != dns::type::RRSIG) continue;
        auto info = parse_rrsig(sig->rdata);
        if (info && info->type_covered == set.rrs.front()->type) return info->signer;
    }
    return std::nullopt;
}

bool VerifiedMemo::contains(const Digest& d, uint32_t now32) const {
    const auto it = map_.find(d);
    return it != map_.end() && serial_diff(it->second, now32) >= 0;
}

void VerifiedMemo::add(const Digest& d, uint32_t expiration) {
    if (map_.size() >= capacity_) map_.clear();
    map_[d] = expiration;
}

Verified verify_rrset(const RRsetRef& set, const dns::Name& zone, std::span<const dns::Record> keys,
                      uint64_t now, Budget& budget, const Limits& lim, VerifiedMemo* memo) {
    if (set.rrs.empty() || set.rrs.front() == nullptr)
        return bogus(ede::DNSSEC_BOGUS, "empty RRset");
    if (!all_same_rrset(set.rrs))
        return bogus(ede::DNSSEC_BOGUS, "RRset mixes owners, types or classes");
    const dns::Record& first = *set.rrs.front();
    int owner_labels = detail::label_count(first.owner);
    if (owner_labels < 0) return bogus(ede::DNSSEC_BOGUS, "malformed owner name");
    // RFC 4034 3.1.3: a leading "*" label is not counted.
    if (detail::name_is_wildcard(first.owner)) --owner_labels;

    const auto now32 = static_cast<uint32_t>(now);
    const int64_t skew = lim.skew_s;
    Failure fail;
    bool any_sig = false;
    for (const dns::Record* sig : set.sigs) {
        if (sig == nullptr || sig->type != dns::type::RRSIG || sig->klass != first.klass) continue;
        const auto info = parse_rrsig(sig->rdata);
        if (!info) {
            any_sig = true;
            fail.note(Fail::bogus, "malformed RRSIG");
            continue;
        }
        if (info->type_covered != first.type)
            continue; // an RRSIG of another RRset at the same owner
        any_sig = true;
        if (!detail::name_equal(info->signer, zone)) {
            fail.note(Fail::bogus, "RRSIG signer is not the zone");
            continue;
        }
        if (!dns::name_in_zone(first.owner.view(), info->signer.view())) {
            fail.note(Fail::bogus, "RRSIG signer is not an ancestor of the owner");
            continue;
        }
        if (info->labels > owner_labels) {
            fail.note(Fail::bogus, "RRSIG labels exceed the owner's");
            continue;
        }
        // RFC 4035 5.3.1, RFC 1982 serial arithmetic, with the allowed skew.
        if (serial_diff(info->expiration, info->inception) < 0) {
            fail.note(Fail::bogus, "RRSIG expires before its inception");
            continue;
        }
        if (serial_diff(now32, info->expiration) > skew) {
            fail.note(Fail::expired, "RRSIG expired");
            continue;
        }
        if (serial_diff(info->inception, now32) > skew) {
            fail.note(Fail::not_yet, "RRSIG not yet valid");
            continue;
        }
        const size_t sig_off = 18 + info->signer.len;
        const std::span<const uint8_t> rdata(sig->rdata);
        std::optional<std::vector<uint8_t>> data;
        bool key_found = false;
        for (const dns::Record& key : keys) {
            if (key.type != dns::type::DNSKEY || key.rdata.size() < 5 ||
                !detail::name_equal(key.owner, info->signer))
                continue;
            const uint16_t flags = dnskey_flags(key.rdata);
            if ((flags & kFlagZone) == 0) continue;
            // RFC 5011 2.1: a revoked key still signs the DNSKEY RRset.
            if ((flags & kFlagRevoke) != 0 && first.type != dns::type::DNSKEY) continue;
            if (dnskey_algorithm(key.rdata) != info->algorithm ||
                key_tag(key.rdata) != info->key_tag)
                continue;
            key_found = true;
            if (!data) {
                data = detail::signed_data(rdata.first(sig_off), set.rrs, info->labels,
                                           info->original_ttl);
                if (!data) return bogus(ede::DNSSEC_BOGUS, "malformed rdata in the RRset");
            }
            VerifiedMemo::Digest digest{};
            bool known = false;
            if (memo != nullptr) {
                // Exactly these bytes: the key, the whole RRSIG, the data.
                std::vector<uint8_t> all(key.rdata.begin(), key.rdata.end());
                all.insert(all.end(), rdata.begin(), rdata.end());
                all.insert(all.end(), data->begin(), data->end());
                const auto h = detail::ds_digest(2, all);
                if (h.size() == digest.size()) {
                    std::copy(h.begin(), h.end(), digest.begin());
                    known = memo->contains(digest, now32);
                } else {
                    memo = nullptr;
                }
            }
            if (!known) {
                if (!budget.take())
                    return bogus(ede::DNSSEC_BOGUS, "validation budget exhausted");
                if (!detail::verify_signature(info->algorithm, std::span(key.rdata).subspan(4),
                                              rdata.subspan(sig_off), *data))
                    continue;
                if (memo != nullptr) memo->add(digest, info->expiration);
            }
            // RFC 4035 5.3.3: the TTL is capped by the original TTL and by
            // what is left of the signature's validity.
            Verified ok;
            ok.j = Judgement{Security::secure, 0, "signature verified"};
            uint32_t ttl = info->original_ttl;
            for (const dns::Record* rr : set.rrs)
                ttl = std::min(ttl, rr->ttl);
            const int64_t left = serial_diff(info->expiration, now32);
            ttl = static_cast<uint32_t>(std::min<int64_t>(ttl, std::max<int64_t>(left, 0)));
            ok.ttl = ttl;
            ok.labels = info->labels;
            ok.wildcard = info->labels < owner_labels;
            return ok;
        }
        if (!key_found)
            fail.note(Fail::key_missing, "no DNSKEY matches the RRSIG's key tag and algorithm");
        else
            fail.note(Fail::bogus, "signature does not verify");
    }
    if (!any_sig) return bogus(ede::RRSIGS_MISSING, "no RRSIG covers the RRset");
    return bogus(ede_of(fail.kind), fail.why);
}

Judgement verify_dnskeys(const dns::Name& zone, const RRsetRef& dnskeys,
                         std::span<const dns::Record> ds, std::span<const dns::Record> anchor_keys,
                         uint64_t now, Budget& budget, const Limits& lim, VerifiedMemo* memo) {
    // The DS records we may use: supported algorithm and digest; SHA-1
    // only for a key (tag, algorithm) that has no stronger digest (RFC 4509 3).
    std::vector<const dns::Record*> usable;
    bool any_ds = false, any_alg = false;
    for (const dns::Record& d : ds) {
        if (d.type != dns::type::DS || d.rdata.size() < 5 || !detail::name_equal(d.owner, zone))
            continue;
        any_ds = true;
        if (!algorithm_supported(d.rdata[2])) continue;
        any_alg = true;
        if (!digest_supported(d.rdata[3])) continue;
        if (d.rdata[3] == 1) {
            const bool stronger = std::any_of(ds.begin(), ds.end(), [&](const dns::Record& o) {
                return o.type == dns::type::DS && o.rdata.size() >= 5 &&
                       detail::name_equal(o.owner, zone) && o.rdata[3] != 1 &&
                       digest_supported(o.rdata[3]) && o.rdata[0] == d.rdata[0] &&
                       o.rdata[1] == d.rdata[1] && o.rdata[2] == d.rdata[2];
            });
            if (stronger) continue;
        }
        usable.push_back(&d);
    }
    std::vector<const dns::Record*> anchors;
    bool any_anchor = false;
    for (const dns::Record& k : anchor_keys) {
        if (k.type != dns::type::DNSKEY || k.rdata.size() < 5 || !detail::name_equal(k.owner, zone))
            continue;
        any_anchor = true;
        any_alg = any_alg || algorithm_supported(dnskey_algorithm(k.rdata));
        if (algorithm_supported(dnskey_algorithm(k.rdata))) anchors.push_back(&k);
    }
    if (!any_ds && !any_anchor)
        return {Security::bogus, ede::DNSKEY_MISSING, "no DS and no trust anchor for the zone"};
    if (usable.empty() && anchors.empty()) {
        // RFC 4035 5.2, RFC 6840 5.2: nothing we can use -> as if unsigned.
        if (!any_alg)
            return {Security::insecure, ede::UNSUPPORTED_DNSKEY_ALG,
                    "no DS of a supported algorithm"};
        return {Security::insecure, ede::UNSUPPORTED_DS_DIGEST, "no DS of a supported digest"};
    }
    if (dnskeys.rrs.empty()) return {Security::bogus, ede::DNSKEY_MISSING, "no DNSKEY records"};

    // Keys named by a DS or an anchor: zone keys, not revoked, supported.
    // Each key is hashed at most once per digest type, however many DS
    // records share its tag (a DS set cannot multiply the work).
    std::vector<dns::Record> trusted;
    for (const dns::Record* k : dnskeys.rrs) {
        if (k == nullptr || k->type != dns::type::DNSKEY || k->rdata.size() < 5 ||
            !detail::name_equal(k->owner, zone))
            continue;
        const uint16_t flags = dnskey_flags(k->rdata);
        if ((flags & kFlagZone) == 0 || (flags & kFlagRevoke) != 0 ||
            !algorithm_supported(dnskey_algorithm(k->rdata)))
            continue;
        const uint16_t tag = key_tag(k->rdata);
        std::vector<uint8_t> made[5]; // by digest type: usable DS have 1, 2 or 4
        const bool by_ds = std::any_of(usable.begin(), usable.end(), [&](const dns::Record* d) {
            const auto& r = d->rdata;
            if ((r[0] << 8 | r[1]) != tag || r[2] != dnskey_algorithm(k->rdata)) return false;
            auto& mine = made[r[3]];
            if (mine.empty()) mine = make_ds(zone, k->rdata, r[3]);
            return mine == r;
        });
        const bool by_anchor =
            std::any_of(anchors.begin(), anchors.end(),
                        [&](const dns::Record* a) { return a->rdata == k->rdata; });
        if (by_ds || by_anchor) trusted.push_back(*k);
    }
    if (trusted.empty())
        return {Security::bogus, ede::DNSKEY_MISSING, "no DNSKEY matches the DS or trust anchor"};
    Verified v = verify_rrset(dnskeys, zone, trusted, now, budget, lim, memo);
    if (v.j.ok()) v.j.why = "DNSKEY RRset verified";
    return v.j;
}

} // namespace kresd::dnssec
