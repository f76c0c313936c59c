// Private to src/dnssec/: helpers shared by its .cpp files. Not a public
// contract; nothing outside this folder includes it.
//
//   names      bounds-checked reading of uncompressed wire names, label
//              arithmetic, case-insensitive equality (names.cpp)
//   canonical  RFC 4034 3.1.8.1 / 6.2 signed data of one RRset (canonical.cpp)
//   crypto     the only calls into ldns's crypto: one signature, DS digests,
//              SHA-1 for NSEC3 (crypto.cpp)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/record.hpp"
#include "dnssec/dnssec.hpp"

struct ldns_struct_rr; // ldns_rr, without ldns.h here

namespace kresd::dnssec::detail {

// ---- names (names.cpp) ----

// Reads one uncompressed wire name at buf[pos]; advances pos. False for a
// compression pointer, a label over 63 bytes, a name over 255 bytes or a
// name running past the end.
bool read_name(std::span<const uint8_t> buf, size_t& pos, dns::Name& out);
// Labels of a well-formed name (root: 0), -1 otherwise.
int label_count(const dns::Name& n);
// Case-insensitive equality of two names.
bool name_equal(const dns::Name& a, const dns::Name& b);
// Is `name` strictly below `zone`?
bool name_below(const dns::Name& name, const dns::Name& zone);
// The last `keep` labels of `n` (keep <= label_count(n)).
dns::Name name_suffix(const dns::Name& n, int keep);
// "*." + n; false when it would not fit.
bool name_wildcard(const dns::Name& n, dns::Name& out);
// Does the first label of `n` read "*"?
bool name_is_wildcard(const dns::Name& n);
// Lower-cased copy.
dns::Name name_lowered(const dns::Name& n);
// Labels the closest common ancestor of a and b has.
int common_labels(const dns::Name& a, const dns::Name& b);

// ---- the signed data (canonical.cpp) ----

// RFC 4034 3.1.8.1: RRSIG rdata without the signature (signer lower-cased)
// followed by each RR of `rrs` in canonical form (6.2), owner replaced by
// the wildcard when `sig_labels` is below the owner's labels (RFC 4035
// 5.3.2), TTL = `original_ttl`, sorted by canonical rdata, duplicates
// removed. nullopt when a record's rdata is malformed for its type.
std::optional<std::vector<uint8_t>> signed_data(std::span<const uint8_t> rrsig_prefix,
                                                const std::vector<const dns::Record*>& rrs,
                                                uint8_t sig_labels, uint32_t original_ttl);
// RFC 4034 6.2 item 3 (amended by RFC 6840 5.1): the rdata with its
// embedded names lower-cased; nullopt when malformed for its type.
std::optional<std::vector<uint8_t>> canonical_rdata(uint16_t type, std::span<const uint8_t> rdata);

// ---- crypto (crypto.cpp: the one file that calls ldns's crypto) ----

// Does `sig` (RRSIG signature field) verify `data` with the DNSKEY public
// key field `key` of algorithm `alg`? False for unsupported algorithms and
// malformed keys or signatures.
bool verify_signature(uint8_t alg, std::span<const uint8_t> key, std::span<const uint8_t> sig,
                      std::span<const uint8_t> data);
// DS digest of `data` (1 SHA-1, 2 SHA-256, 4 SHA-384); empty when unsupported.
std::vector<uint8_t> ds_digest(uint8_t digest_type, std::span<const uint8_t> data);
// RFC 5155 5: IH(salt, x, iterations) with SHA-1; 20 bytes.
std::vector<uint8_t> nsec3_sha1(std::span<const uint8_t> name_lower_wire,
                                std::span<const uint8_t> salt, uint16_t iterations);

// ---- denial of existence (denial.cpp, nsec.cpp, nsec3.cpp) ----

// RFC 4034 4.1.2 type bitmap: windows in increasing order, 1..32 octets each.
bool bitmap_valid(std::span<const uint8_t> bitmap);
// Is `type` in a bitmap that bitmap_valid() accepted?
bool bitmap_has(std::span<const uint8_t> bitmap, uint16_t type);

Judgement not_proven(std::string why);

Judgement nsec_nxdomain(const dns::Name& qname, const dns::Name& zone,
                        std::span<const dns::Record> proof);
Judgement nsec_nodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                      std::span<const dns::Record> proof);
Judgement nsec_no_ds(const dns::Name& child, const dns::Name& zone,
                     std::span<const dns::Record> proof);
Judgement nsec_wildcard(const dns::Name& qname, uint8_t labels, const dns::Name& zone,
                        std::span<const dns::Record> proof);

Judgement nsec3_nxdomain(const dns::Name& qname, const dns::Name& zone,
                         std::span<const dns::Record> proof, const Limits& lim);
Judgement nsec3_nodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                       std::span<const dns::Record> proof, const Limits& lim);
Judgement nsec3_no_ds(const dns::Name& child, const dns::Name& zone,
                      std::span<const dns::Record> proof, const Limits& lim);
Judgement nsec3_wildcard(const dns::Name& qname, uint8_t labels, const dns::Name& zone,
                         std::span<const dns::Record> proof, const Limits& lim);

// RFC 4648 7 base32hex, lower-case, no padding; decode is case-insensitive
// and false on anything else.
std::string base32hex_encode(std::span<const uint8_t> data);
bool base32hex_decode(std::span<const uint8_t> text, std::vector<uint8_t>& out);

// An ldns record as ours (anchors.cpp); nullopt when its owner or rdata
// cannot be represented.
std::optional<dns::Record> record_from_ldns(const ldns_struct_rr* rr);
// Why a record cannot be a trust anchor or an RFC 5011 key (anchors.cpp):
// not DS/DNSKEY, not class IN, or rdata too short / DNSKEY protocol not 3;
// null when it can.
const char* check_key_record(const dns::Record& rr);

} // namespace kresd::dnssec::detail
