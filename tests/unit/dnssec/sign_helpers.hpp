// Test support for src/dnssec: records from text, keys and signatures made
// with ldns (an implementation independent of ours), NSEC and NSEC3 chains.
#pragma once

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "dns/ldns.hpp"
#include "dns/record.hpp"
#include "dnssec/dnssec.hpp"

namespace kresd::dnssec::test {

struct KeyFree {
    void operator()(ldns_key* k) const { ldns_key_deep_free(k); }
};
struct KeyListFree {
    void operator()(ldns_key_list* l) const { ldns_key_list_free(l); }
};

inline dns::Name name(std::string_view text) {
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    return n;
}

inline dns::Record from_ldns(const ldns_rr* rr) {
    dns::Record out;
    const auto owner = dns::ldns::rdf_bytes(ldns_rr_owner(rr));
    REQUIRE(owner.size() <= dns::kMaxNameWire);
    std::memcpy(out.owner.wire.data(), owner.data(), owner.size());
    out.owner.len = static_cast<uint8_t>(owner.size());
    out.type = static_cast<uint16_t>(ldns_rr_get_type(rr));
    out.klass = static_cast<uint16_t>(ldns_rr_get_class(rr));
    out.ttl = ldns_rr_ttl(rr);
    auto rd = dns::ldns::rdata_wire(rr);
    REQUIRE(rd);
    out.rdata = *rd;
    return out;
}

// "owner ttl class type rdata" -> Record (owner case kept).
inline dns::Record rec(const std::string& text) {
    auto rr = dns::ldns::rr_from_text(text);
    INFO(text);
    REQUIRE(rr);
    return from_ldns(rr.get());
}

inline dns::ldns::Rr to_ldns(const dns::Record& r) {
    std::vector<uint8_t> wire(r.owner.wire.begin(), r.owner.wire.begin() + r.owner.len);
    const uint8_t fixed[10] = {uint8_t(r.type >> 8),         uint8_t(r.type),
                               uint8_t(r.klass >> 8),        uint8_t(r.klass),
                               uint8_t(r.ttl >> 24),         uint8_t(r.ttl >> 16),
                               uint8_t(r.ttl >> 8),          uint8_t(r.ttl),
                               uint8_t(r.rdata.size() >> 8), uint8_t(r.rdata.size())};
    wire.insert(wire.end(), fixed, fixed + 10);
    wire.insert(wire.end(), r.rdata.begin(), r.rdata.end());
    ldns_rr* raw = nullptr;
    size_t pos = 0;
    REQUIRE(ldns_wire2rr(&raw, wire.data(), wire.size(), &pos, LDNS_SECTION_ANSWER) ==
            LDNS_STATUS_OK);
    return dns::ldns::Rr(raw);
}

inline uint64_t now_s() {
    return static_cast<uint64_t>(std::time(nullptr));
}

struct TestKey {
    std::shared_ptr<ldns_key> key; // shared by the copies of one test key
    dns::Record dnskey;
    uint16_t tag = 0;
};

// A new key for `zone`; RSA keys take `bits`, the others ignore it.
inline TestKey make_key(const std::string& zone, ldns_signing_algorithm alg, uint16_t flags = 257,
                        uint16_t bits = 2048) {
    TestKey t;
    t.key.reset(ldns_key_new_frm_algorithm(alg, bits), KeyFree{});
    REQUIRE(t.key);
    ldns_key_set_pubkey_owner(t.key.get(), ldns_dname_new_frm_str(zone.c_str()));
    ldns_key_set_flags(t.key.get(), flags);
    const dns::ldns::Rr rr(ldns_key2rr(t.key.get()));
    REQUIRE(rr);
    ldns_rr_set_ttl(rr.get(), 3600);
    t.tag = ldns_calc_keytag(rr.get());
    ldns_key_set_keytag(t.key.get(), t.tag);
    t.dnskey = from_ldns(rr.get());
    return t;
}

// One key per (algorithm, flags) for the whole test run: RSA generation is slow.
inline const TestKey& cached_key(const std::string& zone, ldns_signing_algorithm alg,
                                 uint16_t flags = 257) {
    static std::map<std::tuple<std::string, int, uint16_t>, TestKey> keys;
    const auto k = std::make_tuple(zone, static_cast<int>(alg), flags);
    auto it = keys.find(k);
    if (it == keys.end()) it = keys.emplace(k, make_key(zone, alg, flags)).first;
    return it->second;
}

// The RRSIG ldns makes over `rrset` with `key`.
inline dns::Record sign(const std::vector<dns::Record>& rrset, const TestKey& key,
                        uint32_t inception, uint32_t expiration) {
    const dns::ldns::RrList list(ldns_rr_list_new());
    for (const auto& r : rrset)
        ldns_rr_list_push_rr(list.get(), to_ldns(r).release());
    // ldns signs only with zone keys: a test key without the bit signs
    // as one (its key tag stays that of the DNSKEY without the bit).
    const uint16_t flags = ldns_key_flags(key.key.get());
    ldns_key_set_flags(key.key.get(), flags | LDNS_KEY_ZONE_KEY);
    ldns_key_set_inception(key.key.get(), inception);
    ldns_key_set_expiration(key.key.get(), expiration);
    const std::unique_ptr<ldns_key_list, KeyListFree> keys(ldns_key_list_new());
    ldns_key_list_push_key(keys.get(), key.key.get());
    const dns::ldns::RrList sigs(ldns_sign_public(list.get(), keys.get()));
    // The key stays ours: the list forgets it (ldns_key_list_pop_key of the
    // last key frees the array that ldns_key_list_free frees again).
    ldns_key_list_set_key_count(keys.get(), 0);
    ldns_key_set_flags(key.key.get(), flags);
    REQUIRE(sigs);
    REQUIRE(ldns_rr_list_rr_count(sigs.get()) == 1);
    return from_ldns(ldns_rr_list_rr(sigs.get(), 0));
}

inline dns::Record sign_now(const std::vector<dns::Record>& rrset, const TestKey& key) {
    const auto now = static_cast<uint32_t>(now_s());
    return sign(rrset, key, now - 3600, now + 86400);
}

inline RRsetRef ref(const std::vector<dns::Record>& rrs, const std::vector<dns::Record>& sigs) {
    RRsetRef r;
    for (const auto& x : rrs)
        r.rrs.push_back(&x);
    for (const auto& x : sigs)
        r.sigs.push_back(&x);
    return r;
}

// ---- NSEC and NSEC3 chains ----

using NameTypes = std::vector<std::pair<std::string, std::string>>; // name, "A RRSIG ..."

inline bool ldns_name_less(const std::string& a, const std::string& b) {
    const dns::ldns::Rdf ra(ldns_dname_new_frm_str(a.c_str()));
    const dns::ldns::Rdf rb(ldns_dname_new_frm_str(b.c_str()));
    return ldns_dname_compare(ra.get(), rb.get()) < 0;
}

// The NSEC chain of a zone whose names (apex first or not) hold the types.
inline std::vector<dns::Record> nsec_chain(NameTypes names) {
    std::sort(names.begin(), names.end(),
              [](const auto& a, const auto& b) { return ldns_name_less(a.first, b.first); });
    std::vector<dns::Record> out;
    for (size_t i = 0; i < names.size(); ++i) {
        const auto& next = names[(i + 1) % names.size()].first;
        out.push_back(rec(names[i].first + " 3600 IN NSEC " + next + " " + names[i].second));
    }
    return out;
}

// H(name) as ldns computes it: the lower-case base32hex first label.
inline std::string hash_by_ldns(const std::string& n, uint16_t iterations,
                                const std::string& salt_hex) {
    std::vector<uint8_t> salt;
    for (size_t i = 0; i + 1 < salt_hex.size(); i += 2)
        salt.push_back(static_cast<uint8_t>(std::stoi(salt_hex.substr(i, 2), nullptr, 16)));
    const dns::ldns::Rdf dn(ldns_dname_new_frm_str(n.c_str()));
    const dns::ldns::Rdf h(ldns_nsec3_hash_name(dn.get(), 1, iterations,
                                                static_cast<uint8_t>(salt.size()),
                                                salt.empty() ? nullptr : salt.data()));
    REQUIRE(h);
    std::string text = dns::ldns::take_text(ldns_rdf2str(h.get()));
    text = text.substr(0, text.find('.'));
    std::transform(text.begin(), text.end(), text.begin(), ::tolower);
    return text;
}

struct Nsec3Params {
    uint16_t iterations = 12;
    std::string salt = "aabbccdd";
    int flags = 0;
};

// The NSEC3 chain of `zone` (RFC 5155 7.1): one record per name, sorted by hash.
inline std::vector<dns::Record> nsec3_chain(const std::string& zone, const NameTypes& names,
                                            const Nsec3Params& p = {}) {
    std::vector<std::pair<std::string, std::string>> hashed;
    for (const auto& [n, types] : names)
        hashed.emplace_back(hash_by_ldns(n, p.iterations, p.salt), types);
    std::sort(hashed.begin(), hashed.end());
    std::vector<dns::Record> out;
    for (size_t i = 0; i < hashed.size(); ++i) {
        const auto& next = hashed[(i + 1) % hashed.size()].first;
        out.push_back(rec(hashed[i].first + "." + zone + " 3600 IN NSEC3 1 " +
                          std::to_string(p.flags) + " " + std::to_string(p.iterations) + " " +
                          (p.salt.empty() ? "-" : p.salt) + " " + next + " " + hashed[i].second));
    }
    return out;
}

// The records of `all` whose owner starts with `label` (a hash or a name).
inline std::vector<dns::Record> pick(const std::vector<dns::Record>& all,
                                     const std::vector<std::string>& owners) {
    std::vector<dns::Record> out;
    for (const auto& o : owners) {
        const dns::Name want = name(o);
        bool found = false;
        for (const auto& r : all)
            if (dns::name_in_zone(r.owner.view(), want.view()) && r.owner.len == want.len) {
                out.push_back(r);
                found = true;
            }
        INFO(o);
        REQUIRE(found);
    }
    return out;
}

} // namespace kresd::dnssec::test
