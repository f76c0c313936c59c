// TLS credentials: the shared ephemeral certificate, loading files,
// session-ticket keys that every instance derives alike.
#include "catch.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "net/tls_context.hpp"

using namespace kresd::net;

namespace {

struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/kresd-tls-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        path = tmpl;
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string read_text(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_text(const std::string& path, const std::string& text)
{
    std::ofstream(path, std::ios::binary) << text;
}

std::vector<uint8_t> der(const CertKey& ck)
{
    const mbedtls_x509_crt* c = ck.chain.get();
    return {c->raw.p, c->raw.p + c->raw.len};
}

int mode_of(const std::string& path)
{
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

constexpr time_t kDay = 86400;

std::string error_of(const std::function<void()>& f)
{
    try {
        f();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("the ephemeral certificate is generated once and shared in a rundir", "[tls]")
{
    TempDir dir;
    time_t now = std::time(nullptr);
    Rng rng1, rng2; // two "instances"
    auto a = load_or_create_ephemeral(dir.path, rng1, now, "resolver.test");
    auto b = load_or_create_ephemeral(dir.path, rng2, now + 60, "other.test");
    REQUIRE(a);
    REQUIRE(b);
    CHECK(der(*a) == der(*b));
    CHECK(a->ephemeral);
    CHECK(a->cert_path == dir.path + "/tls/ephemeral.crt");
    CHECK(a->key_path == dir.path + "/tls/ephemeral.key");
    CHECK(mode_of(dir.path + "/tls/ephemeral.crt") == 0600);
    CHECK(mode_of(dir.path + "/tls/ephemeral.key") == 0600);
    CHECK(mode_of(dir.path + "/tls") == 0700);
    // No temporary files are left behind.
    CHECK(::access((dir.path + "/tls/ephemeral.crt.tmp." + std::to_string(getpid())).c_str(),
                   F_OK) != 0);

    // What it says about itself.
    const mbedtls_x509_crt* crt = a->chain.get();
    char dn[256];
    REQUIRE(mbedtls_x509_dn_gets(dn, sizeof(dn), &crt->subject) > 0);
    CHECK(std::string(dn) == "CN=resolver.test");
    CHECK(mbedtls_pk_get_type(a->key.get()) == MBEDTLS_PK_ECKEY);
    CHECK(mbedtls_pk_get_bitlen(a->key.get()) == 256);
    CHECK(a->not_after > now + 89 * kDay);
    CHECK(a->not_after < now + 91 * kDay);
    CHECK(x509_time_to_time_t(crt->valid_from) <= now);
    // The SAN carries the host name, so clients that check names can match it.
    CHECK(crt->subject_alt_names.buf.len == std::strlen("resolver.test"));
    CHECK(std::memcmp(crt->subject_alt_names.buf.p, "resolver.test", 13) == 0);
}

TEST_CASE("the ephemeral certificate is renewed before it expires", "[tls]")
{
    TempDir dir;
    time_t now = std::time(nullptr);
    Rng rng;
    auto first = load_or_create_ephemeral(dir.path, rng, now, "h");
    // Still valid for more than 30 days: reused.
    auto later = load_or_create_ephemeral(dir.path, rng, now + 59 * kDay, "h");
    CHECK(der(*later) == der(*first));
    // Within 30 days of expiry: a new one, which the next instance then shares.
    auto renewed = load_or_create_ephemeral(dir.path, rng, now + 61 * kDay, "h");
    CHECK(der(*renewed) != der(*first));
    CHECK(renewed->not_after > first->not_after);
    auto shared = load_or_create_ephemeral(dir.path, rng, now + 61 * kDay, "h");
    CHECK(der(*shared) == der(*renewed));
}

TEST_CASE("a damaged or mismatched ephemeral pair is replaced", "[tls]")
{
    TempDir dir;
    time_t now = std::time(nullptr);
    Rng rng;
    auto first = load_or_create_ephemeral(dir.path, rng, now, "h");
    std::string crt = dir.path + "/tls/ephemeral.crt", key = dir.path + "/tls/ephemeral.key";

    write_text(crt, "not a certificate");
    auto second = load_or_create_ephemeral(dir.path, rng, now, "h");
    CHECK(der(*second) != der(*first));

    // A key from another generation does not match the certificate.
    std::string other_key = read_text(key);
    ::unlink(crt.c_str());
    auto third = load_or_create_ephemeral(dir.path, rng, now, "h");
    write_text(key, other_key);
    auto fourth = load_or_create_ephemeral(dir.path, rng, now, "h");
    CHECK(der(*fourth) != der(*third));
    CHECK(mbedtls_pk_check_pair(&fourth->chain.get()->pk, fourth->key.get()) == 0);
}

TEST_CASE("certificate files given by the user load, and errors name the file", "[tls]")
{
    TempDir dir;
    Rng rng;
    time_t now = std::time(nullptr);
    auto eph = load_or_create_ephemeral(dir.path, rng, now, "h");
    auto loaded = CertKey::load(eph->cert_path, eph->key_path);
    CHECK(der(*loaded) == der(*eph));
    CHECK_FALSE(loaded->ephemeral);
    CHECK(loaded->not_after == eph->not_after);

    std::string missing = dir.path + "/missing.pem";
    auto e = error_of([&] { CertKey::load(missing, eph->key_path); });
    CHECK_THAT(e, Catch::Contains(missing));
    CHECK_THAT(e, Catch::Contains("certificate"));

    std::string garbage = dir.path + "/garbage.pem";
    write_text(garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    CHECK_THAT(error_of([&] { CertKey::load(garbage, eph->key_path); }), Catch::Contains(garbage));

    CHECK_THAT(error_of([&] { CertKey::load(eph->cert_path, garbage); }),
               Catch::Contains("key " + garbage));

    // A key that does not belong to the certificate.
    std::string other = dir.path + "/other";
    ::mkdir(other.c_str(), 0700);
    auto foreign = load_or_create_ephemeral(other, rng, now, "h");
    e = error_of([&] { CertKey::load(eph->cert_path, foreign->key_path); });
    CHECK_THAT(e, Catch::Contains("does not belong"));
    CHECK_THAT(e, Catch::Contains(foreign->key_path));
}

TEST_CASE("ticket keys are a function of the secret and the hour", "[tls]")
{
    std::vector<uint8_t> secret(32, 7), other(32, 8);
    auto rng = std::make_shared<Rng>();
    TicketKeys a(secret, rng), b(secret, std::make_shared<Rng>()), c(other, rng);
    CHECK(a.derive(480000).aes == b.derive(480000).aes);
    CHECK(a.derive(480000).name == b.derive(480000).name);
    CHECK(a.derive(480000).aes != a.derive(480001).aes);
    CHECK(a.derive(480000).aes != c.derive(480000).aes);
    CHECK(TicketKeys::derive(secret, 5).aes == a.derive(5).aes);
    CHECK_THROWS(TicketKeys({}, rng));
}

namespace {

time_t g_now = 0;
time_t fake_now(time_t* t)
{
    if (t) *t = g_now;
    return g_now;
}

struct Session {
    mbedtls_ssl_session s;
    Session() { mbedtls_ssl_session_init(&s); }
    ~Session() { mbedtls_ssl_session_free(&s); }
};

} // namespace

TEST_CASE("a ticket sealed by one instance opens in another with the same secret", "[tls]")
{
    std::vector<uint8_t> secret(40, 0x42);
    TicketKeys a(secret, std::make_shared<Rng>()), b(secret, std::make_shared<Rng>()),
        stranger(std::vector<uint8_t>(40, 0x43), std::make_shared<Rng>());
    a.now = b.now = stranger.now = &fake_now;
    g_now = 1700000000;

    Session orig;
    orig.s.ciphersuite = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    orig.s.id_len = 32;
    std::memset(orig.s.id, 0x11, 32);
    std::memset(orig.s.master, 0x5a, sizeof(orig.s.master));
    orig.s.start = g_now;

    std::vector<unsigned char> ticket(2048);
    size_t len = 0;
    uint32_t lifetime = 0;
    REQUIRE(TicketKeys::write(&a, &orig.s, ticket.data(), ticket.data() + ticket.size(), &len,
                              &lifetime) == 0);
    REQUIRE(len > 36);
    CHECK(lifetime == TicketKeys::kPeriodSeconds);
    ticket.resize(len);
    // The master secret is not readable in the ticket.
    CHECK(std::search(ticket.begin(), ticket.end(), orig.s.master, orig.s.master + 16) ==
          ticket.end());

    {
        auto copy = ticket;
        Session got;
        REQUIRE(TicketKeys::parse(&b, &got.s, copy.data(), copy.size()) == 0);
        CHECK(got.s.ciphersuite == orig.s.ciphersuite);
        CHECK(std::memcmp(got.s.master, orig.s.master, sizeof(orig.s.master)) == 0);
    }
    {
        auto copy = ticket;
        Session got;
        CHECK(TicketKeys::parse(&stranger, &got.s, copy.data(), copy.size()) ==
              MBEDTLS_ERR_SSL_INVALID_MAC);
    }
    {
        auto copy = ticket;
        copy[copy.size() / 2] ^= 1; // tampered
        Session got;
        CHECK(TicketKeys::parse(&b, &got.s, copy.data(), copy.size()) ==
              MBEDTLS_ERR_SSL_INVALID_MAC);
    }
    {
        auto copy = ticket;
        Session got;
        CHECK(TicketKeys::parse(&b, &got.s, copy.data(), 20) == MBEDTLS_ERR_SSL_BAD_INPUT_DATA);
    }
    // Accepted during the next hour, not after it.
    g_now += TicketKeys::kPeriodSeconds;
    {
        auto copy = ticket;
        Session got;
        CHECK(TicketKeys::parse(&b, &got.s, copy.data(), copy.size()) == 0);
    }
    g_now += TicketKeys::kPeriodSeconds;
    {
        auto copy = ticket;
        Session got;
        CHECK(TicketKeys::parse(&b, &got.s, copy.data(), copy.size()) ==
              MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED);
    }
    // A buffer too small to hold a ticket.
    unsigned char small[30];
    CHECK(TicketKeys::write(&a, &orig.s, small, small + sizeof(small), &len, &lifetime) ==
          MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL);
}

TEST_CASE("the rundir's ticket secret is created once and shared", "[tls]")
{
    TempDir dir;
    Rng rng1, rng2;
    auto s1 = load_or_create_ticket_secret(dir.path, rng1);
    auto s2 = load_or_create_ticket_secret(dir.path, rng2);
    CHECK(s1.size() == 32);
    CHECK(s1 == s2);
    CHECK(mode_of(dir.path + "/tls/ticket.secret") == 0600);
    write_text(dir.path + "/tls/ticket.secret", "short");
    auto s3 = load_or_create_ticket_secret(dir.path, rng1);
    CHECK(s3.size() == 32);
    CHECK(s3 != s1);
    std::string unwritable = dir.path + "/nope/deeper";
    CHECK_THAT(error_of([&] { load_or_create_ticket_secret(unwritable, rng1); }),
               Catch::Contains(unwritable));
}

TEST_CASE("two instances' credentials in one rundir agree", "[tls]")
{
    TempDir dir;
    TlsCredentials one(dir.path), two(dir.path);
    auto c1 = one.config(Alpn::dot);
    auto c2 = two.config(Alpn::h2);
    REQUIRE(c1);
    REQUIRE(c2);
    CHECK(c1->alpn() == Alpn::dot);
    CHECK(c2->alpn() == Alpn::h2);
    CHECK(der(*one.certificate()) == der(*two.certificate()));
    CHECK(one.ticket_keys()->derive(1).aes == two.ticket_keys()->derive(1).aes);
    CHECK_FALSE(one.files());
    // The same object until something changes.
    CHECK(one.config(Alpn::dot) == c1);

    // An explicit secret replaces the rundir's.
    std::string secret(32, 's');
    one.set_ticket_secret({reinterpret_cast<const uint8_t*>(secret.data()), secret.size()});
    CHECK(one.has_explicit_ticket_secret());
    auto c3 = one.config(Alpn::dot);
    CHECK(c3 != c1);
    CHECK(one.ticket_keys()->derive(1).aes != two.ticket_keys()->derive(1).aes);
    std::vector<uint8_t> sv(secret.begin(), secret.end());
    CHECK(one.ticket_keys()->derive(1).aes == TicketKeys::derive(sv, 1).aes);
    one.set_ticket_secret({});
    one.prepare();
    CHECK(one.ticket_keys()->derive(1).aes == two.ticket_keys()->derive(1).aes);

    // Files from net.tls(); a failed load keeps what was there.
    auto eph = one.certificate();
    std::string cert = eph->cert_path, key = eph->key_path;
    CHECK_THROWS(one.use_files(dir.path + "/none.crt", key));
    CHECK(one.certificate() == eph);
    one.use_files(cert, key);
    REQUIRE(one.files());
    CHECK(one.files()->first == cert);
    CHECK(one.files()->second == key);
    CHECK_FALSE(one.certificate()->ephemeral);
    one.use_ephemeral();
    CHECK_FALSE(one.files());
    REQUIRE(one.config(Alpn::dot));
    CHECK(one.certificate()->ephemeral);
}

TEST_CASE("credentials that cannot be had give no configuration", "[tls]")
{
    TlsCredentials creds("/nonexistent/kresd-test-rundir");
    CHECK_THROWS_WITH(creds.prepare(), Catch::Contains("/nonexistent/kresd-test-rundir/tls"));
    CHECK(creds.config(Alpn::dot) == nullptr);
}

TEST_CASE("an instance starting near the shared certificate's expiry renews it", "[tls]")
{
    TempDir dir;
    time_t now = std::time(nullptr);
    Rng rng;
    // Made 61 days ago: 29 days left, inside the 30-day renewal window.
    auto old = load_or_create_ephemeral(dir.path, rng, now - 61 * kDay, "h");
    TlsCredentials creds(dir.path);
    REQUIRE(creds.config(Alpn::dot));
    CHECK(der(*creds.certificate()) != der(*old));
    CHECK(creds.certificate()->not_after > now + 89 * kDay);
    // and the next instance shares the renewed one
    TlsCredentials next(dir.path);
    REQUIRE(next.config(Alpn::h2));
    CHECK(der(*next.certificate()) == der(*creds.certificate()));
}
