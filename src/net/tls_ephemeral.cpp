// Files under <rundir>/tls/ shared by the instances of one rundir: the
// ephemeral self-signed certificate and the session-ticket secret. Every
// read and write happens under an exclusive flock() on <rundir>/tls/lock,
// and files are replaced by rename(), so an instance never sees a key from
// one generation and a certificate from another.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>
#include <stdexcept>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/tls_context.hpp"

namespace kresd::net {

namespace {

std::runtime_error file_error(const std::string& what, const std::string& path, int err)
{
    return std::runtime_error(what + " " + path + ": " + std::strerror(err));
}

class OwnedFd {
public:
    explicit OwnedFd(int fd) : fd_(fd) {}
    ~OwnedFd()
    {
        if (fd_ >= 0) ::close(fd_);
    }
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

// <rundir>/tls, created 0700 when missing.
std::string tls_dir(const std::string& rundir)
{
    std::string dir = (rundir.empty() ? std::string(".") : rundir) + "/tls";
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw file_error("cannot create directory", dir, errno);
    return dir;
}

// Held while the shared files are read or written.
class DirLock {
public:
    explicit DirLock(const std::string& dir)
        : path_(dir + "/lock"), fd_(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600))
    {
        if (fd_.get() < 0) throw file_error("cannot open lock file", path_, errno);
        while (::flock(fd_.get(), LOCK_EX) != 0) {
            if (errno != EINTR) throw file_error("cannot lock", path_, errno);
        }
    }

private:
    std::string path_;
    OwnedFd fd_;
};

// The whole file, or nullopt when it does not exist.
std::optional<std::vector<uint8_t>> read_file(const std::string& path)
{
    OwnedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw file_error("cannot read", path, errno);
    }
    std::vector<uint8_t> data;
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw file_error("cannot read", path, errno);
        }
        if (n == 0) break;
        data.insert(data.end(), buf, buf + n);
        if (data.size() > 1024 * 1024) throw std::runtime_error(path + " is too large");
    }
    return data;
}

// Writes to a temporary file (0600) and renames it over `path`.
void write_file_atomic(const std::string& path, std::span<const uint8_t> data)
{
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    ::unlink(tmp.c_str()); // a leftover of a crashed process with our PID
    {
        OwnedFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (fd.get() < 0) throw file_error("cannot create", tmp, errno);
        size_t done = 0;
        while (done < data.size()) {
            ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
            if (n < 0) {
                if (errno == EINTR) continue;
                int e = errno;
                ::unlink(tmp.c_str());
                throw file_error("cannot write", tmp, e);
            }
            done += static_cast<size_t>(n);
        }
        if (::fsync(fd.get()) != 0) {
            int e = errno;
            ::unlink(tmp.c_str());
            throw file_error("cannot write", tmp, e);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw file_error("cannot replace", path, e);
    }
}

std::string x509_time_string(time_t t)
{
    tm v{};
    gmtime_r(&t, &v);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y%m%d%H%M%S", &v);
    return buf;
}

// PEM text with its terminating NUL, as mbedTLS's parsers want it.
std::vector<uint8_t> with_nul(std::vector<uint8_t> v)
{
    v.push_back(0);
    return v;
}

// Parses a stored pair; nullptr when it is unusable (missing, corrupt,
// mismatched, or due for renewal).
std::shared_ptr<CertKey> parse_stored(const std::string& crt_path, const std::string& key_path,
                                      time_t now, const EphemeralPolicy& policy)
{
    auto crt = read_file(crt_path);
    auto key = read_file(key_path);
    if (!crt || !key) return nullptr;
    auto ck = std::make_shared<CertKey>();
    auto crt_text = with_nul(std::move(*crt));
    auto key_text = with_nul(std::move(*key));
    if (mbedtls_x509_crt_parse(ck->chain.get(), crt_text.data(), crt_text.size()) != 0)
        return nullptr;
    if (mbedtls_pk_parse_key(ck->key.get(), key_text.data(), key_text.size(), nullptr, 0) != 0)
        return nullptr;
    if (mbedtls_pk_check_pair(&ck->chain.get()->pk, ck->key.get()) != 0) return nullptr;
    ck->not_after = x509_time_to_time_t(ck->chain.get()->valid_to);
    time_t not_before = x509_time_to_time_t(ck->chain.get()->valid_from);
    if (ck->not_after - now <= time_t(policy.renew_days) * 86400) return nullptr;
    if (not_before > now + 86400) return nullptr; // from a clock that was far ahead
    return ck;
}

class Mpi {
public:
    Mpi() { mbedtls_mpi_init(&m_); }
    ~Mpi() { mbedtls_mpi_free(&m_); }
    Mpi(const Mpi&) = delete;
    Mpi& operator=(const Mpi&) = delete;
    mbedtls_mpi* get() { return &m_; }

private:
    mbedtls_mpi m_;
};

class CrtWriter {
public:
    CrtWriter() { mbedtls_x509write_crt_init(&w_); }
    ~CrtWriter() { mbedtls_x509write_crt_free(&w_); }
    CrtWriter(const CrtWriter&) = delete;
    CrtWriter& operator=(const CrtWriter&) = delete;
    mbedtls_x509write_cert* get() { return &w_; }

private:
    mbedtls_x509write_cert w_;
};

void check(int r, const char* what)
{
    if (r != 0)
        throw std::runtime_error(std::string("cannot generate the ephemeral certificate (") + what +
                                 "): " + mbedtls_error_text(r));
}

// DER of SubjectAltName: SEQUENCE { [2] dNSName }
std::vector<uint8_t> san_dns_name(const std::string& host)
{
    auto len_size = [](size_t n) -> size_t { return n < 128 ? 1 : n < 256 ? 2 : 3; };
    auto put_len = [](std::vector<uint8_t>& out, size_t n) {
        if (n >= 256) {
            out.push_back(0x82);
            out.push_back(static_cast<uint8_t>(n >> 8));
        } else if (n >= 128) {
            out.push_back(0x81);
        }
        out.push_back(static_cast<uint8_t>(n));
    };
    size_t name_len = 1 + len_size(host.size()) + host.size();
    std::vector<uint8_t> out;
    out.reserve(1 + len_size(name_len) + name_len);
    out.push_back(0x30);
    put_len(out, name_len);
    out.push_back(0x82);
    put_len(out, host.size());
    for (char c : host)
        out.push_back(static_cast<uint8_t>(c));
    return out;
}

// Generates a key and a self-signed certificate; returns their PEM texts.
std::pair<std::string, std::string> generate(Rng& rng, time_t now, const std::string& host,
                                             const EphemeralPolicy& policy)
{
    PkContext key;
    check(mbedtls_pk_setup(key.get(), mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), "key setup");
    check(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key.get()), &Rng::random,
                              &rng),
          "key generation");
    std::vector<unsigned char> key_pem(2048);
    check(mbedtls_pk_write_key_pem(key.get(), key_pem.data(), key_pem.size()), "key PEM");

    CrtWriter w;
    mbedtls_x509write_crt_set_version(w.get(), MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(w.get(), MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(w.get(), key.get());
    mbedtls_x509write_crt_set_issuer_key(w.get(), key.get());
    std::string dn = "CN=" + host;
    check(mbedtls_x509write_crt_set_subject_name(w.get(), dn.c_str()), "subject");
    check(mbedtls_x509write_crt_set_issuer_name(w.get(), dn.c_str()), "issuer");
    uint8_t serial_bytes[16];
    rng.fill(serial_bytes);
    serial_bytes[0] &= 0x7f; // positive
    serial_bytes[0] |= 0x01; // and not shortened
    Mpi serial;
    check(mbedtls_mpi_read_binary(serial.get(), serial_bytes, sizeof(serial_bytes)), "serial");
    check(mbedtls_x509write_crt_set_serial(w.get(), serial.get()), "serial");
    std::string from = x509_time_string(now - 3600); // tolerate clients' clock skew
    std::string until = x509_time_string(now + time_t(policy.valid_days) * 86400);
    check(mbedtls_x509write_crt_set_validity(w.get(), from.c_str(), until.c_str()), "validity");
    // Like `openssl req -x509`: its own trust anchor, so clients can be
    // given it as a CA file as well as pin it.
    check(mbedtls_x509write_crt_set_basic_constraints(w.get(), 1, 0), "basic constraints");
    check(mbedtls_x509write_crt_set_subject_key_identifier(w.get()), "key identifier");
    check(mbedtls_x509write_crt_set_authority_key_identifier(w.get()), "key identifier");
    auto san = san_dns_name(host);
    check(mbedtls_x509write_crt_set_extension(w.get(), MBEDTLS_OID_SUBJECT_ALT_NAME,
                                              MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                              san.data(), san.size()),
          "subject alternative name");
    std::vector<unsigned char> crt_pem(4096);
    check(mbedtls_x509write_crt_pem(w.get(), crt_pem.data(), crt_pem.size(), &Rng::random, &rng),
          "certificate PEM");
    return {reinterpret_cast<const char*>(crt_pem.data()),
            reinterpret_cast<const char*>(key_pem.data())};
}

std::span<const uint8_t> bytes(const std::string& s)
{
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

} // namespace

std::string certificate_hostname()
{
    char buf[256] = {};
    if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
    std::string host;
    for (const char* p = buf; *p && host.size() < 63; ++p) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (!ok) return "localhost"; // not a host name a DN or SAN can carry as is
        host += c;
    }
    return host.empty() ? "localhost" : host;
}

std::shared_ptr<CertKey> load_or_create_ephemeral(const std::string& rundir, Rng& rng, time_t now,
                                                  const std::string& hostname,
                                                  EphemeralPolicy policy)
{
    std::string dir = tls_dir(rundir);
    std::string crt_path = dir + "/ephemeral.crt", key_path = dir + "/ephemeral.key";
    DirLock lock(dir);
    if (auto ck = parse_stored(crt_path, key_path, now, policy)) {
        ck->cert_path = crt_path;
        ck->key_path = key_path;
        ck->ephemeral = true;
        return ck;
    }
    auto [crt_pem, key_pem] = generate(rng, now, hostname.empty() ? "localhost" : hostname, policy);
    // Key first: a reader without the lock would at worst see a mismatched
    // pair and regenerate, never use a certificate with someone else's key.
    write_file_atomic(key_path, bytes(key_pem));
    write_file_atomic(crt_path, bytes(crt_pem));
    auto ck = parse_stored(crt_path, key_path, now, policy);
    if (!ck)
        throw std::runtime_error("the ephemeral certificate just written to " + crt_path +
                                 " cannot be read back");
    ck->cert_path = crt_path;
    ck->key_path = key_path;
    ck->ephemeral = true;
    return ck;
}

std::vector<uint8_t> load_or_create_ticket_secret(const std::string& rundir, Rng& rng)
{
    constexpr size_t kSecretLen = 32;
    std::string dir = tls_dir(rundir);
    std::string path = dir + "/ticket.secret";
    DirLock lock(dir);
    auto stored = read_file(path);
    if (stored && stored->size() >= kSecretLen) return *stored;
    std::vector<uint8_t> secret(kSecretLen);
    rng.fill(secret);
    write_file_atomic(path, secret);
    return secret;
}

} // namespace kresd::net
