// TLS server credentials: RAII handles, certificate loading, session
// tickets, per-ALPN configurations. The rundir files (ephemeral certificate,
// ticket secret) are in tls_ephemeral.cpp.
#include "net/tls_context.hpp"

#include <cstring>
#include <mbedtls/error.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <stdexcept>

#include "util/log.hpp"

namespace kresd::net {

std::string mbedtls_error_text(int ret)
{
    char buf[256];
    mbedtls_strerror(ret, buf, sizeof(buf));
    char code[32];
    std::snprintf(code, sizeof(code), " (-0x%04x)", static_cast<unsigned>(-ret));
    return std::string(buf) + code;
}

// ---------------------------------------------------------------- Rng

Rng::Rng()
{
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    static const char personal[] = "kresd tls";
    int r = mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
                                  reinterpret_cast<const unsigned char*>(personal),
                                  sizeof(personal) - 1);
    if (r != 0) {
        mbedtls_ctr_drbg_free(&drbg_);
        mbedtls_entropy_free(&entropy_);
        throw std::runtime_error("cannot seed the TLS random generator: " + mbedtls_error_text(r));
    }
}

Rng::~Rng()
{
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
}

int Rng::random(void* self, unsigned char* out, size_t len)
{
    return mbedtls_ctr_drbg_random(&static_cast<Rng*>(self)->drbg_, out, len);
}

void Rng::fill(std::span<uint8_t> out)
{
    int r = random(this, out.data(), out.size());
    if (r != 0) throw std::runtime_error("TLS random generator failed: " + mbedtls_error_text(r));
}

// ---------------------------------------------------------------- CertKey

time_t x509_time_to_time_t(const mbedtls_x509_time& t)
{
    tm v{};
    v.tm_year = t.year - 1900;
    v.tm_mon = t.mon - 1;
    v.tm_mday = t.day;
    v.tm_hour = t.hour;
    v.tm_min = t.min;
    v.tm_sec = t.sec;
    return timegm(&v);
}

std::shared_ptr<CertKey> CertKey::load(const std::string& cert_path, const std::string& key_path)
{
    auto ck = std::make_shared<CertKey>();
    ck->cert_path = cert_path;
    ck->key_path = key_path;
    int r = mbedtls_x509_crt_parse_file(ck->chain.get(), cert_path.c_str());
    if (r != 0) {
        // > 0: that many certificates in the file could not be parsed
        std::string why = r > 0 ? std::to_string(r) + " certificate(s) in it could not be parsed"
                                : mbedtls_error_text(r);
        throw std::runtime_error("cannot load TLS certificate " + cert_path + ": " + why);
    }
    r = mbedtls_pk_parse_keyfile(ck->key.get(), key_path.c_str(), nullptr);
    if (r != 0)
        throw std::runtime_error("cannot load TLS key " + key_path + ": " + mbedtls_error_text(r));
    r = mbedtls_pk_check_pair(&ck->chain.get()->pk, ck->key.get());
    if (r != 0)
        throw std::runtime_error("TLS key " + key_path + " does not belong to certificate " +
                                 cert_path + ": " + mbedtls_error_text(r));
    ck->not_after = x509_time_to_time_t(ck->chain.get()->valid_to);
    return ck;
}

// ---------------------------------------------------------------- tickets

namespace {

constexpr size_t kIvLen = 12, kTagLen = 16;
constexpr size_t kTicketHeader = TicketKeys::kNameLen + 4 + kIvLen; // name, period, IV
constexpr size_t kTicketAad = TicketKeys::kNameLen + 4;             // name, period
const char kTicketSalt[] = "kresd session ticket key v1";

void put_be32(unsigned char* p, uint32_t v)
{
    p[0] = static_cast<unsigned char>(v >> 24);
    p[1] = static_cast<unsigned char>(v >> 16);
    p[2] = static_cast<unsigned char>(v >> 8);
    p[3] = static_cast<unsigned char>(v);
}

uint32_t get_be32(const unsigned char* p)
{
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

} // namespace

TicketKeys::TicketKeys(std::span<const uint8_t> secret, std::shared_ptr<Rng> rng)
    : secret_(secret.begin(), secret.end()), rng_(std::move(rng))
{
    if (secret_.empty()) throw std::invalid_argument("empty session ticket secret");
}

TicketKeys::Key TicketKeys::derive(std::span<const uint8_t> secret, uint64_t period)
{
    unsigned char info[8];
    for (int i = 0; i < 8; ++i)
        info[i] = static_cast<unsigned char>(period >> (56 - 8 * i));
    unsigned char okm[kKeyLen + kNameLen];
    int r =
        mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                     reinterpret_cast<const unsigned char*>(kTicketSalt), sizeof(kTicketSalt) - 1,
                     secret.data(), secret.size(), info, sizeof(info), okm, sizeof(okm));
    if (r != 0)
        throw std::runtime_error("session ticket key derivation failed: " + mbedtls_error_text(r));
    Key k;
    std::memcpy(k.aes.data(), okm, kKeyLen);
    std::memcpy(k.name.data(), okm + kKeyLen, kNameLen);
    mbedtls_platform_zeroize(okm, sizeof(okm));
    return k;
}

TicketKeys::Key TicketKeys::derive(uint64_t period) const
{
    return derive(secret_, period);
}

GcmContext* TicketKeys::context(uint64_t period)
{
    for (auto& c : cache_)
        if (c.gcm && c.period == period) return c.gcm.get();
    // Replace the empty or the older slot.
    Cached* slot = &cache_[0];
    for (auto& c : cache_)
        if (!c.gcm || c.period < slot->period) slot = &c;
    try {
        slot->key = derive(period);
    } catch (const std::exception& e) {
        KR_LOG(err, "tls", "%s", e.what());
        slot->gcm.reset();
        return nullptr;
    }
    slot->gcm = std::make_unique<GcmContext>();
    int r = mbedtls_gcm_setkey(slot->gcm->get(), MBEDTLS_CIPHER_ID_AES, slot->key.aes.data(),
                               kKeyLen * 8);
    if (r != 0) {
        KR_LOG(err, "tls", "session ticket key setup failed: %s", mbedtls_error_text(r).c_str());
        slot->gcm.reset();
        return nullptr;
    }
    slot->period = period;
    return slot->gcm.get();
}

// Ticket: name(4) | period(4, big endian) | IV(12) | sealed session | tag(16)
int TicketKeys::write(void* p, const mbedtls_ssl_session* session, unsigned char* start,
                      const unsigned char* end, size_t* tlen, uint32_t* lifetime)
{
    auto* self = static_cast<TicketKeys*>(p);
    *tlen = 0;
    size_t room = static_cast<size_t>(end - start);
    if (room < kTicketHeader + kTagLen) return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
    uint64_t period = static_cast<uint64_t>(self->now(nullptr)) / kPeriodSeconds;
    GcmContext* gcm = self->context(period);
    if (!gcm) return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    const Key& key = self->cache_[self->cache_[0].gcm.get() == gcm ? 0 : 1].key;
    std::memcpy(start, key.name.data(), kNameLen);
    put_be32(start + kNameLen, static_cast<uint32_t>(period));
    unsigned char* iv = start + kTicketAad;
    int r = Rng::random(self->rng_.get(), iv, kIvLen);
    if (r != 0) return r;
    unsigned char* state = start + kTicketHeader;
    size_t clear_len = 0;
    r = mbedtls_ssl_session_save(session, state, room - kTicketHeader - kTagLen, &clear_len);
    if (r != 0) return r;
    r = mbedtls_gcm_crypt_and_tag(gcm->get(), MBEDTLS_GCM_ENCRYPT, clear_len, iv, kIvLen, start,
                                  kTicketAad, state, state, kTagLen, state + clear_len);
    if (r != 0) return r;
    *tlen = kTicketHeader + clear_len + kTagLen;
    *lifetime = kPeriodSeconds;
    return 0;
}

int TicketKeys::parse(void* p, mbedtls_ssl_session* session, unsigned char* buf, size_t len)
{
    auto* self = static_cast<TicketKeys*>(p);
    if (len < kTicketHeader + kTagLen) return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    uint64_t now = static_cast<uint64_t>(self->now(nullptr)) / kPeriodSeconds;
    uint64_t period = get_be32(buf + kNameLen);
    if (period != (now & 0xffffffffu) && period + 1 != (now & 0xffffffffu))
        return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
    period = (now & ~uint64_t(0xffffffff)) | period; // back to full width
    GcmContext* gcm = self->context(period);
    if (!gcm) return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    const Key& key = self->cache_[self->cache_[0].gcm.get() == gcm ? 0 : 1].key;
    if (std::memcmp(buf, key.name.data(), kNameLen) != 0) return MBEDTLS_ERR_SSL_INVALID_MAC;
    size_t clear_len = len - kTicketHeader - kTagLen;
    unsigned char* state = buf + kTicketHeader;
    int r = mbedtls_gcm_auth_decrypt(gcm->get(), clear_len, buf + kTicketAad, kIvLen, buf,
                                     kTicketAad, state + clear_len, kTagLen, state, state);
    if (r != 0) return MBEDTLS_ERR_SSL_INVALID_MAC;
    return mbedtls_ssl_session_load(session, state, clear_len);
}

// ---------------------------------------------------------------- ServerConfig

namespace {

// Forward secret key exchange and AEAD only (also what RFC 7540 9.2.2 asks
// of HTTP/2 over TLS 1.2).
const int kCiphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

// Fast and common key exchange groups first (mbedTLS would start with P-521).
const mbedtls_ecp_group_id kCurves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};

const char* kAlpnDot[] = {"dot", nullptr};
const char* kAlpnH2[] = {"h2", nullptr};

} // namespace

ServerConfig::ServerConfig(Alpn alpn, std::shared_ptr<CertKey> cert, std::shared_ptr<Rng> rng,
                           std::shared_ptr<TicketKeys> tickets)
    : alpn_(alpn), cert_(std::move(cert)), rng_(std::move(rng)), tickets_(std::move(tickets))
{
    mbedtls_ssl_config* c = conf_.get();
    int r = mbedtls_ssl_config_defaults(c, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT);
    if (r != 0) throw std::runtime_error("TLS configuration failed: " + mbedtls_error_text(r));
    mbedtls_ssl_conf_rng(c, &Rng::random, rng_.get());
    mbedtls_ssl_conf_min_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    mbedtls_ssl_conf_max_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_4);
#else
    mbedtls_ssl_conf_max_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    mbedtls_ssl_conf_ciphersuites(c, kCiphersuites);
    mbedtls_ssl_conf_curves(c, kCurves);
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(c, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
    r = mbedtls_ssl_conf_own_cert(c, cert_->chain.get(), cert_->key.get());
    if (r != 0) throw std::runtime_error("TLS certificate setup failed: " + mbedtls_error_text(r));
    r = mbedtls_ssl_conf_alpn_protocols(c, alpn == Alpn::dot ? kAlpnDot : kAlpnH2);
    if (r != 0) throw std::runtime_error("TLS ALPN setup failed: " + mbedtls_error_text(r));
    if (tickets_)
        mbedtls_ssl_conf_session_tickets_cb(c, &TicketKeys::write, &TicketKeys::parse,
                                            tickets_.get());
}

// ---------------------------------------------------------------- TlsCredentials

TlsCredentials::TlsCredentials(std::string rundir)
    : rundir_(std::move(rundir)), rng_(std::make_shared<Rng>())
{
}

void TlsCredentials::set_rundir(std::string rundir)
{
    if (rundir == rundir_) return;
    rundir_ = std::move(rundir);
    if (cert_ && cert_->ephemeral) cert_.reset();
    if (explicit_secret_.empty()) tickets_.reset();
    configs_.clear();
    retry_at_ = 0;
}

void TlsCredentials::use_files(const std::string& cert_path, const std::string& key_path)
{
    auto ck = CertKey::load(cert_path, key_path); // throws, leaving the old one in place
    time_t now = std::time(nullptr);
    if (ck->not_after <= now)
        KR_LOG(warning, "tls", "certificate %s has expired; clients will refuse it",
               cert_path.c_str());
    cert_ = std::move(ck);
    configs_.clear();
    retry_at_ = 0;
}

void TlsCredentials::use_ephemeral()
{
    if (cert_ && !cert_->ephemeral) {
        cert_.reset();
        configs_.clear();
        retry_at_ = 0;
    }
}

std::optional<std::pair<std::string, std::string>> TlsCredentials::files() const
{
    if (!cert_ || cert_->ephemeral) return std::nullopt;
    return std::make_pair(cert_->cert_path, cert_->key_path);
}

void TlsCredentials::set_ticket_secret(std::span<const uint8_t> secret)
{
    explicit_secret_.assign(secret.begin(), secret.end());
    tickets_.reset();
    if (!explicit_secret_.empty()) tickets_ = std::make_shared<TicketKeys>(explicit_secret_, rng_);
    configs_.clear();
    retry_at_ = 0;
}

void TlsCredentials::load_ephemeral(time_t now)
{
    EphemeralPolicy policy;
    auto ck = load_or_create_ephemeral(rundir_, *rng_, now, certificate_hostname(), policy);
    renew_at_ = ck->not_after - time_t(policy.renew_days) * 86400;
    cert_ = std::move(ck);
    configs_.clear();
}

void TlsCredentials::prepare()
{
    if (!cert_) load_ephemeral(std::time(nullptr));
    if (!tickets_) {
        auto secret = load_or_create_ticket_secret(rundir_, *rng_);
        tickets_ = std::make_shared<TicketKeys>(secret, rng_);
        configs_.clear();
    }
}

std::shared_ptr<ServerConfig> TlsCredentials::config(Alpn alpn) noexcept
{
    time_t now = std::time(nullptr);
    // Failures are retried after a pause, not on every connection.
    if ((!cert_ || !tickets_) && now >= retry_at_) {
        try {
            prepare();
        } catch (const std::exception& e) {
            KR_LOG(err, "tls", "no TLS credentials: %s", e.what());
            retry_at_ = now + kRetrySeconds;
            // without a ticket secret, serve without resumption rather than not at all
        }
    }
    if (!cert_) return nullptr;
    if (cert_->ephemeral && now >= renew_at_ && now >= retry_at_) {
        try {
            load_ephemeral(now);
            KR_LOG(info, "tls", "using the ephemeral certificate in %s/tls, valid until %lld",
                   rundir_.c_str(), static_cast<long long>(cert_->not_after));
        } catch (const std::exception& e) {
            KR_LOG(err, "tls", "cannot renew the ephemeral certificate: %s", e.what());
            retry_at_ = now + kRetrySeconds;
        }
    }
    auto& slot = configs_[alpn];
    if (!slot) {
        try {
            slot = std::make_shared<ServerConfig>(alpn, cert_, rng_, tickets_);
        } catch (const std::exception& e) {
            KR_LOG(err, "tls", "%s", e.what());
            return nullptr;
        }
    }
    return slot;
}

} // namespace kresd::net
