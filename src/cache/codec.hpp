// The layout of cache values (private to src/cache).
//
// Every value, little-endian:
//
//     off  size  field
//       0     1  format version (kVersion)
//       1     1  kind: 'R' RRset, 'N' NODATA, 'X' NXDOMAIN (keys::Kind)
//       2     1  rank (Rank for 'R', 1..4; 0 for negative entries)
//       3     1  DNSSEC security (dns::Security, 0..3)
//       4     8  expiry: absolute wall-clock seconds since the epoch
//      12     4  TTL as stored (already bounded by min/max TTL)
//      16     2  RR type ('R', 'N'); 0 for 'X'
//      18     …  payload
//     end-4   4  checksum() of every byte before it (64-bit multiply-xor
//                 over 8-byte words, folded to 32 bits)
//
//   payload 'R':      u16 count (>= 1), then count times: u16 length, rdata;
//                     u16 sig count, then that many times: u16 length, RRSIG rdata
//   payload 'N'/'X':  u8 length, SOA owner (empty or one wire name),
//                     u16 length, SOA rdata; u16 proof count, then that many
//                     records (the NSEC/NSEC3 proof, RRSIGs included):
//                     u8 owner length, owner (wire), u16 type, u32 TTL,
//                     u16 rdata length, rdata
//
// decode() checks everything: version, kind, rank, every length against the
// bytes that are there, that the payload ends exactly at the checksum, and
// the checksum. A value that fails any check is corrupt: the cache treats it
// as a miss and deletes it. No truncation of a valid value decodes (the
// format is prefix-free and lengths are exact), so a torn or shortened value
// can never be mistaken for data.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "cache/keys.hpp"
#include "dns/record.hpp"

namespace kresd::cache::codec {

inline constexpr uint8_t kVersion = 3; // 3: security + RRSIGs + proofs (2: word-wise checksum, 1: FNV-1a)
inline constexpr size_t kHeaderSize = 18;
inline constexpr size_t kChecksumSize = 4;

struct Header {
    keys::Kind kind = keys::Kind::rrset;
    uint8_t rank = 0;
    uint64_t expire = 0; // absolute, wall-clock seconds
    uint32_t ttl = 0;    // as stored
    uint16_t type = 0;
    uint8_t security = 0; // dns::Security
};

// A decoded value. The spans point into the value given to decode() and
// live as long as it does (for LMDB: until the transaction ends).
struct Decoded {
    Header h;
    uint16_t rdata_count = 0;            // 'R'
    std::span<const uint8_t> rdata_list; // 'R': the count's (length, rdata) pairs
    uint16_t sig_count = 0;              // 'R'
    std::span<const uint8_t> sig_list;   // 'R': (length, RRSIG rdata) pairs
    uint16_t proof_count = 0;            // 'N', 'X'
    std::span<const uint8_t> proof_list; // 'N', 'X': the records, as above
    std::span<const uint8_t> soa_owner;  // 'N', 'X'
    std::span<const uint8_t> soa_rdata;  // 'N', 'X'
};

// Encoders replace `out`. They return false when the data cannot be
// represented (no rdatas, more than 65535 of them, an rdata over 65535
// bytes, an SOA owner that is not a wire name).
bool encode_rrset(const Header& h, const std::vector<std::span<const uint8_t>>& rdatas,
                  std::vector<uint8_t>& out,
                  const std::vector<std::span<const uint8_t>>& sigs = {});
bool encode_negative(const Header& h, std::span<const uint8_t> soa_owner,
                     std::span<const uint8_t> soa_rdata, std::vector<uint8_t>& out,
                     std::span<const dns::Record> proof = {});

// False for anything corrupt (see above). Never reads outside `value`.
bool decode(std::span<const uint8_t> value, Decoded& out);

// Walks the rdatas of a successfully decoded 'R' value.
class RdataIter {
  public:
    explicit RdataIter(const Decoded& d) : rest_(d.rdata_list), left_(d.rdata_count) {}
    RdataIter(std::span<const uint8_t> list, uint16_t count) : rest_(list), left_(count) {}
    bool next(std::span<const uint8_t>& rdata);

  private:
    std::span<const uint8_t> rest_;
    uint16_t left_;
};

// Walks the proof records of a decoded negative value (checked by decode()).
class ProofIter {
  public:
    explicit ProofIter(const Decoded& d) : rest_(d.proof_list), left_(d.proof_count) {}
    bool next(dns::Record& rr);

  private:
    std::span<const uint8_t> rest_;
    uint16_t left_;
};

uint32_t checksum(std::span<const uint8_t> bytes);

// A little-endian unsigned integer at `p` (the caller has checked the bounds).
template <typename T> T load_le(const uint8_t* p) {
    T v = 0;
    if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(&v, p, sizeof v);
    } else {
        for (size_t i = 0; i < sizeof v; ++i)
            v |= static_cast<T>(T{p[i]} << (8 * i));
    }
    return v;
}

} // namespace kresd::cache::codec
