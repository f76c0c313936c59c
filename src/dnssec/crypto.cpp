// The one file of the validator that calls crypto code: ldns (which
// verifies with OpenSSL) for one RRSIG signature, ldns's SHA-1/SHA-2 for DS
// digests and NSEC3 hashes. Everything else (what is signed, which key,
// which proof) is decided in the other files.
//
// NSEC3 hashing uses ldns_sha1 directly rather than ldns_nsec3_hash_name:
// the latter takes and returns ldns_rdf names (two allocations and a
// base32 round trip per hash) and would move the iteration count check out
// of our hands; the RFC 5155 5 loop is four lines.
#include <algorithm>

#include "dns/ldns.hpp"
#include "dnssec/internal.hpp"

namespace kresd::dnssec::detail {

namespace {

// Size checks before ldns sees the key (RFC 3110 2, RFC 6605 4, RFC 8080 3):
// ldns reads these fields itself, this keeps malformed keys away from it
// and bounds the cost of RSA (at most 4096-bit moduli).
bool key_shape_ok(uint8_t alg, std::span<const uint8_t> key, std::span<const uint8_t> sig) {
    switch (alg) {
    case 5:
    case 7:
    case 8:
    case 10: {
        if (key.size() < 3) return false;
        size_t exp_len = key[0];
        size_t off = 1;
        if (exp_len == 0) {
            exp_len = static_cast<size_t>(key[1]) << 8 | key[2];
            off = 3;
        }
        if (exp_len == 0 || exp_len > 16 || off + exp_len >= key.size()) return false;
        const size_t mod_len = key.size() - off - exp_len;
        return mod_len >= 64 && mod_len <= 512 && sig.size() == mod_len;
    }
    case 13:
        return key.size() == 64 && sig.size() == 64;
    case 14:
        return key.size() == 96 && sig.size() == 96;
    case 15:
        return key.size() == 32 && sig.size() == 64;
    case 16:
        return key.size() == 57 && sig.size() == 114;
    default:
        return false;
    }
}

} // namespace

bool verify_signature(uint8_t alg, std::span<const uint8_t> key, std::span<const uint8_t> sig,
                      std::span<const uint8_t> data) {
    if (!key_shape_ok(alg, key, sig)) return false;
    const dns::ldns::Buffer verify_buf(ldns_buffer_new(data.size() + 1));
    if (!verify_buf) return false;
    // ldns reads the data to verify from the buffer's start to its position.
    ldns_buffer_write(verify_buf.get(), data.data(), data.size());

    std::vector<unsigned char> raw_sig(sig.begin(), sig.end());
    if (alg == 13 || alg == 14) {
        // RFC 6605 4: DNSSEC carries r | s; OpenSSL wants DER.
        const dns::ldns::Rdf rdf(ldns_rdf_new_frm_data(LDNS_RDF_TYPE_B64, sig.size(), sig.data()));
        const dns::ldns::Buffer der(ldns_buffer_new(sig.size() + 16));
        if (!rdf || !der ||
            ldns_convert_ecdsa_rrsig_rdf2asn1(der.get(), rdf.get()) != LDNS_STATUS_OK)
            return false;
        const uint8_t* begin = ldns_buffer_begin(der.get());
        raw_sig.assign(begin, begin + ldns_buffer_position(der.get()));
    }
    std::vector<unsigned char> raw_key(key.begin(), key.end());
    return ldns_verify_rrsig_buffers_raw(raw_sig.data(), raw_sig.size(), verify_buf.get(),
                                         raw_key.data(), raw_key.size(), alg) == LDNS_STATUS_OK;
}

std::vector<uint8_t> ds_digest(uint8_t digest_type, std::span<const uint8_t> data) {
    std::vector<uint8_t> out;
    const auto* in = data.data();
    const auto len = static_cast<unsigned int>(data.size());
    switch (digest_type) {
    case 1:
        out.resize(LDNS_SHA1_DIGEST_LENGTH);
        ldns_sha1(in, len, out.data());
        break;
    case 2:
        out.resize(LDNS_SHA256_DIGEST_LENGTH);
        ldns_sha256(in, len, out.data());
        break;
    case 4:
        out.resize(LDNS_SHA384_DIGEST_LENGTH);
        ldns_sha384(in, len, out.data());
        break;
    default:
        break;
    }
    return out;
}

std::vector<uint8_t> nsec3_sha1(std::span<const uint8_t> name, std::span<const uint8_t> salt,
                                uint16_t iterations) {
    // RFC 5155 5: IH(salt, x, 0) = H(x || salt); IH(salt, x, k) = H(IH(salt, x, k-1) || salt).
    std::vector<uint8_t> buf(std::max<size_t>(name.size(), LDNS_SHA1_DIGEST_LENGTH) + salt.size());
    std::vector<uint8_t> digest(LDNS_SHA1_DIGEST_LENGTH);
    std::copy(name.begin(), name.end(), buf.begin());
    std::copy(salt.begin(), salt.end(), buf.begin() + static_cast<std::ptrdiff_t>(name.size()));
    ldns_sha1(buf.data(), static_cast<unsigned int>(name.size() + salt.size()), digest.data());
    for (unsigned i = 0; i < iterations; ++i) {
        std::copy(digest.begin(), digest.end(), buf.begin());
        std::copy(salt.begin(), salt.end(), buf.begin() + LDNS_SHA1_DIGEST_LENGTH);
        ldns_sha1(buf.data(), static_cast<unsigned int>(digest.size() + salt.size()),
                  digest.data());
    }
    return digest;
}

} // namespace kresd::dnssec::detail
