// The one file of the validator that calls crypto code: OpenSSL's libcrypto
// for one RRSIG signature, ldns's SHA-1/SHA-2 for DS digests and NSEC3
// hashes. Everything else (what is signed, which key, which proof) is
// decided in the other files.
//
// Signatures are verified with OpenSSL directly, not through ldns's
// ldns_verify_rrsig_buffers_raw(): that one builds an OpenSSL key object
// from the DNSKEY for every verification, which took more than half of a
// verification's time (docs/dnssec.rst has the figures). Here the key
// objects are kept, keyed by algorithm and key bytes (a memo of a pure
// function, bounded; single-threaded like the rest of the process).
//
// NSEC3 hashing uses ldns_sha1 directly rather than ldns_nsec3_hash_name:
// the latter takes and returns ldns_rdf names (two allocations and a
// base32 round trip per hash) and would move the iteration count check out
// of our hands; the RFC 5155 5 loop is four lines.
#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

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

namespace {

// One RAII type per OpenSSL handle.
struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
    void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree {
    void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcdsaSigFree {
    void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using Params = std::unique_ptr<OSSL_PARAM, ParamFree>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

Pkey from_params(const char* type, const ParamBld& bld) {
    const Params params(OSSL_PARAM_BLD_to_param(bld.get()));
    const PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
        return nullptr;
    return Pkey(raw);
}

// RFC 3110 2 (RSA), RFC 6605 4 (ECDSA: x | y), RFC 8080 3 (EdDSA): the
// DNSKEY public key field as an OpenSSL key; null when malformed.
Pkey make_key(uint8_t alg, std::span<const uint8_t> key) {
    switch (alg) {
    case 5:
    case 7:
    case 8:
    case 10: {
        size_t exp_len = key[0], off = 1; // key_shape_ok() checked the lengths
        if (exp_len == 0) {
            exp_len = static_cast<size_t>(key[1]) << 8 | key[2];
            off = 3;
        }
        const Bn e(BN_bin2bn(key.data() + off, static_cast<int>(exp_len), nullptr));
        const Bn n(BN_bin2bn(key.data() + off + exp_len,
                             static_cast<int>(key.size() - off - exp_len), nullptr));
        const ParamBld bld(OSSL_PARAM_BLD_new());
        if (!e || !n || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
            !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()))
            return nullptr;
        return from_params("RSA", bld);
    }
    case 13:
    case 14: {
        std::vector<uint8_t> point(1 + key.size());
        point[0] = 0x04; // uncompressed
        std::copy(key.begin(), key.end(), point.begin() + 1);
        const ParamBld bld(OSSL_PARAM_BLD_new());
        if (!bld ||
            !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                             alg == 13 ? "prime256v1" : "secp384r1", 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                              point.size()))
            return nullptr;
        return from_params("EC", bld);
    }
    case 15:
    case 16:
        return Pkey(EVP_PKEY_new_raw_public_key(alg == 15 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448,
                                                nullptr, key.data(), key.size()));
    default:
        return nullptr;
    }
}

// Parsed keys by (algorithm, key bytes). A DNSKEY set is checked again and
// again (every answer of its zone); parsing it was the larger part of a
// verification. Bounded: starts over when full.
EVP_PKEY* cached_key(uint8_t alg, std::span<const uint8_t> key) {
    static std::unordered_map<std::string, Pkey> keys;
    constexpr size_t kMaxKeys = 4096;
    std::string id(1, static_cast<char>(alg));
    id.append(reinterpret_cast<const char*>(key.data()), key.size());
    if (auto it = keys.find(id); it != keys.end()) return it->second.get();
    Pkey made = make_key(alg, key);
    if (!made) return nullptr;
    if (keys.size() >= kMaxKeys) keys.clear();
    return keys.emplace(std::move(id), std::move(made)).first->second.get();
}

const EVP_MD* digest_of(uint8_t alg) {
    switch (alg) {
    case 5:
    case 7: return EVP_sha1();
    case 8:
    case 13: return EVP_sha256();
    case 10: return EVP_sha512();
    case 14: return EVP_sha384();
    default: return nullptr; // EdDSA: no separate digest
    }
}

// RFC 6605 4: DNSSEC carries r | s; OpenSSL wants DER.
std::vector<uint8_t> ecdsa_der(std::span<const uint8_t> sig) {
    const size_t half = sig.size() / 2;
    EcdsaSig es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig.data(), static_cast<int>(half), nullptr);
    BIGNUM* s = BN_bin2bn(sig.data() + half, static_cast<int>(half), nullptr);
    if (!es || r == nullptr || s == nullptr || ECDSA_SIG_set0(es.get(), r, s) != 1) {
        BN_free(r); // ECDSA_SIG_set0 takes them only when it succeeds
        BN_free(s);
        return {};
    }
    const int len = i2d_ECDSA_SIG(es.get(), nullptr);
    if (len <= 0) return {};
    std::vector<uint8_t> der(static_cast<size_t>(len));
    unsigned char* p = der.data();
    i2d_ECDSA_SIG(es.get(), &p);
    return der;
}

} // namespace

bool verify_signature(uint8_t alg, std::span<const uint8_t> key, std::span<const uint8_t> sig,
                      std::span<const uint8_t> data) {
    if (!key_shape_ok(alg, key, sig)) return false;
    EVP_PKEY* pkey = cached_key(alg, key);
    if (pkey == nullptr) return false;
    std::vector<uint8_t> der;
    std::span<const uint8_t> signature = sig;
    if (alg == 13 || alg == 14) {
        der = ecdsa_der(sig);
        if (der.empty()) return false;
        signature = der;
    }
    const MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, digest_of(alg), nullptr, pkey) != 1)
        return false;
    return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(),
                            data.size()) == 1;
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
