// TLS server credentials with mbedTLS 2.28: the certificate and key, the
// random generator, the session-ticket keys, and the ssl_config built from
// them for each protocol (ALPN "dot" for DNS-over-TLS, "h2" for DoH).
//
// One RAII type per mbedTLS handle: Rng (entropy + ctr_drbg), X509Crt,
// PkContext, SslConfig, SslContext, GcmContext. None of them can be copied
// or moved, because mbedTLS keeps pointers between them; they live behind
// shared_ptr so a connection keeps the configuration it started with alive
// after the certificate is replaced (net.tls()) or rotated.
//
// Ownership and lifetimes:
//   TlsCredentials (one per process, see tls.hpp) owns the current CertKey,
//   TicketKeys and Rng, and caches one ServerConfig per ALPN. config() hands
//   out shared_ptr<ServerConfig>; each connection holds one for its life.
//   A ServerConfig holds shared_ptrs to everything its mbedtls_ssl_config
//   points at, so nothing dangles.
//
// Sharing between instances of one rundir (files in <rundir>/tls/, 0600,
// written to a temporary file and renamed, under an flock() on
// <rundir>/tls/lock so instances starting together agree):
//   ephemeral.crt / ephemeral.key  the self-signed certificate used when
//       net.tls() is not called: EC P-256, CN = hostname, valid 90 days,
//       reused while valid for more than 30 more days, then regenerated.
//   ticket.secret  32 random bytes from which session-ticket keys are
//       derived, unless net.tls_sticket_secret() gives a secret.
// Ticket keys are HKDF-SHA256(secret, period) where the period is the hour
// since the epoch, so every instance with the same secret computes the same
// key at the same time; tickets of the current and the previous hour are
// accepted. Tickets are AES-256-GCM sealed serialised sessions.
//
// Errors at start-up and config time are std::runtime_error naming the file
// and carrying mbedTLS's error text.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/gcm.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

namespace kresd::net {

// mbedTLS's text for an error code, e.g. "SSL - Processing of the ... (-0x7780)".
std::string mbedtls_error_text(int ret);
// A certificate time (UTC) as time_t.
time_t x509_time_to_time_t(const mbedtls_x509_time& t);

#define KRESD_NO_COPY(T)                                                                           \
    T(const T&) = delete;                                                                          \
    T& operator=(const T&) = delete

// Entropy source + CTR_DRBG, seeded at construction (throws on failure).
class Rng {
public:
    Rng();
    ~Rng();
    KRESD_NO_COPY(Rng);
    // The f_rng/p_rng pair mbedTLS functions take.
    static int random(void* self, unsigned char* out, size_t len);
    void fill(std::span<uint8_t> out); // throws on failure

private:
    mbedtls_entropy_context entropy_;
    mbedtls_ctr_drbg_context drbg_;
};

class X509Crt {
public:
    X509Crt() { mbedtls_x509_crt_init(&c_); }
    ~X509Crt() { mbedtls_x509_crt_free(&c_); }
    KRESD_NO_COPY(X509Crt);
    mbedtls_x509_crt* get() { return &c_; }
    const mbedtls_x509_crt* get() const { return &c_; }

private:
    mbedtls_x509_crt c_;
};

class PkContext {
public:
    PkContext() { mbedtls_pk_init(&k_); }
    ~PkContext() { mbedtls_pk_free(&k_); }
    KRESD_NO_COPY(PkContext);
    mbedtls_pk_context* get() { return &k_; }

private:
    mbedtls_pk_context k_;
};

class SslConfig {
public:
    SslConfig() { mbedtls_ssl_config_init(&c_); }
    ~SslConfig() { mbedtls_ssl_config_free(&c_); }
    KRESD_NO_COPY(SslConfig);
    mbedtls_ssl_config* get() { return &c_; }

private:
    mbedtls_ssl_config c_;
};

class SslContext {
public:
    SslContext() { mbedtls_ssl_init(&s_); }
    ~SslContext() { mbedtls_ssl_free(&s_); }
    KRESD_NO_COPY(SslContext);
    mbedtls_ssl_context* get() { return &s_; }
    const mbedtls_ssl_context* get() const { return &s_; }

private:
    mbedtls_ssl_context s_;
};

class GcmContext {
public:
    GcmContext() { mbedtls_gcm_init(&g_); }
    ~GcmContext() { mbedtls_gcm_free(&g_); }
    KRESD_NO_COPY(GcmContext);
    mbedtls_gcm_context* get() { return &g_; }

private:
    mbedtls_gcm_context g_;
};

// A certificate chain (leaf first) and its private key.
struct CertKey {
    X509Crt chain;
    PkContext key;
    std::string cert_path, key_path; // where they were read from
    bool ephemeral = false;          // the generated self-signed one
    time_t not_after = 0;            // the leaf's expiry

    // Reads PEM (or DER) files and checks that the key belongs to the
    // certificate. Throws std::runtime_error naming the file.
    static std::shared_ptr<CertKey> load(const std::string& cert_path, const std::string& key_path);
};

// The self-signed certificate shared by the instances of `rundir` (see the
// file comment): reuses <rundir>/tls/ephemeral.{crt,key} when they match and
// stay valid for more than `renew_days` after `now`, else generates and
// stores new ones. Throws std::runtime_error naming the file.
struct EphemeralPolicy {
    int valid_days = 90;
    int renew_days = 30;
};
std::shared_ptr<CertKey> load_or_create_ephemeral(const std::string& rundir, Rng& rng, time_t now,
                                                  const std::string& hostname,
                                                  EphemeralPolicy policy = {});
// The host name for the certificate's CN (gethostname(), "localhost" if unusable).
std::string certificate_hostname();

// The secret in <rundir>/tls/ticket.secret, created (32 random bytes) if
// missing or shorter than 32 bytes. Throws std::runtime_error naming the file.
std::vector<uint8_t> load_or_create_ticket_secret(const std::string& rundir, Rng& rng);

// Session-ticket keys derived from a secret (see the file comment). Plugged
// into an ssl_config with mbedtls_ssl_conf_session_tickets_cb(conf, write,
// parse, this).
class TicketKeys {
public:
    static constexpr uint32_t kPeriodSeconds = 3600;
    static constexpr size_t kKeyLen = 32, kNameLen = 4;

    TicketKeys(std::span<const uint8_t> secret, std::shared_ptr<Rng> rng);
    KRESD_NO_COPY(TicketKeys);

    struct Key {
        std::array<uint8_t, kKeyLen> aes;
        std::array<uint8_t, kNameLen> name;
    };
    // The key of one period (hours since the epoch); a pure function of the secret.
    Key derive(uint64_t period) const;
    static Key derive(std::span<const uint8_t> secret, uint64_t period);

    static int write(void* self, const mbedtls_ssl_session* session, unsigned char* start,
                     const unsigned char* end, size_t* tlen, uint32_t* lifetime);
    static int parse(void* self, mbedtls_ssl_session* session, unsigned char* buf, size_t len);

    // The clock; tests replace it.
    time_t (*now)(time_t*) = [](time_t* t) { return ::time(t); };

private:
    GcmContext* context(uint64_t period); // nullptr on failure

    std::vector<uint8_t> secret_;
    std::shared_ptr<Rng> rng_;
    struct Cached {
        uint64_t period = 0;
        Key key{};
        std::unique_ptr<GcmContext> gcm;
    };
    std::array<Cached, 2> cache_; // the current and the previous period
};

enum class Alpn { dot, h2 };

// One mbedtls_ssl_config for servers: TLS 1.2 (and 1.3 when the library has
// it), ECDHE with AEAD ciphers, the certificate, tickets, one ALPN protocol.
class ServerConfig {
public:
    ServerConfig(Alpn alpn, std::shared_ptr<CertKey> cert, std::shared_ptr<Rng> rng,
                 std::shared_ptr<TicketKeys> tickets); // throws std::runtime_error
    KRESD_NO_COPY(ServerConfig);
    const mbedtls_ssl_config* get() { return conf_.get(); }
    Alpn alpn() const { return alpn_; }
    const CertKey& cert() const { return *cert_; }

private:
    Alpn alpn_;
    // Declared before conf_ so they outlive it.
    std::shared_ptr<CertKey> cert_;
    std::shared_ptr<Rng> rng_;
    std::shared_ptr<TicketKeys> tickets_;
    SslConfig conf_;
};

// What the TLS and DoH listeners of a process share: the certificate (files
// from net.tls(), or the rundir's ephemeral one), the ticket secret, and the
// configurations built from them. Single-threaded, like the rest of kresd.
class TlsCredentials {
public:
    explicit TlsCredentials(std::string rundir = ".");
    KRESD_NO_COPY(TlsCredentials);

    // Where <rundir>/tls/ lives; the daemon runs in its rundir, so "." is right there.
    void set_rundir(std::string rundir);
    const std::string& rundir() const { return rundir_; }

    // net.tls(cert, key): loads and checks now (throws std::runtime_error
    // naming the file); new connections use it, open ones keep theirs.
    void use_files(const std::string& cert_path, const std::string& key_path);
    // Back to the ephemeral certificate.
    void use_ephemeral();
    // The paths given to use_files(), or nullopt.
    std::optional<std::pair<std::string, std::string>> files() const;

    // net.tls_sticket_secret(): empty means the rundir's ticket.secret.
    void set_ticket_secret(std::span<const uint8_t> secret);
    bool has_explicit_ticket_secret() const { return !explicit_secret_.empty(); }

    // Loads what is still missing (ephemeral certificate, ticket secret).
    // Throws std::runtime_error; listeners call it at start() and log.
    void prepare();
    // The configuration for a new connection: prepares first, and renews an
    // ephemeral certificate that is due. nullptr (after a log line) when no
    // certificate can be had.
    std::shared_ptr<ServerConfig> config(Alpn alpn) noexcept;

    // The certificate in use (after prepare()), for tests and logs.
    std::shared_ptr<const CertKey> certificate() const { return cert_; }
    std::shared_ptr<const TicketKeys> ticket_keys() const { return tickets_; }

private:
    void load_ephemeral(time_t now);

    std::string rundir_;
    std::shared_ptr<Rng> rng_;
    std::shared_ptr<CertKey> cert_;
    std::shared_ptr<TicketKeys> tickets_;
    std::vector<uint8_t> explicit_secret_;
    static constexpr time_t kRetrySeconds = 60;
    time_t renew_at_ = 0; // ephemeral: when to look for a fresher certificate
    time_t retry_at_ = 0; // after a failure to load or renew
    std::map<Alpn, std::shared_ptr<ServerConfig>> configs_;
};

#undef KRESD_NO_COPY

} // namespace kresd::net
