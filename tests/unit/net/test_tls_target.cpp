// policy.TLS_FORWARD settings: SPKI pins (checked against openssl's
// pipeline on a certificate made at test time) and target validation.
#include "catch.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "net/tls_target.hpp"
#include "tls_test_helpers.hpp"

using namespace kresd;
using kresd::net::test::TempDir;

namespace {

std::string slurp(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    std::string text = s.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    return text;
}

// A self-signed EC certificate for dot.test in dir/cert.pem, and its pin as
// openssl computes it (RFC 7858 appendix A) in dir/pin.
void make_cert(const std::string& dir)
{
    const std::string cmd =
        "cd '" + dir +
        "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
        "-nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=dot.test >/dev/null 2>&1 && "
        "openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der | "
        "openssl dgst -sha256 -binary | openssl enc -base64 > pin";
    REQUIRE(std::system(cmd.c_str()) == 0);
}

net::TlsTargetSpec spec(const char* addr)
{
    net::TlsTargetSpec s;
    s.address = addr;
    return s;
}

std::string error_of(const net::TlsTargetSpec& s, const char* system_ca = "/nonexistent/ca.pem")
{
    try {
        net::parse_tls_target(s, system_ca);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

const char* kPin = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; // SHA-256 of ""

} // namespace

TEST_CASE("SPKI pin of a certificate matches openssl's", "[net][tls_forward]")
{
    TempDir dir;
    make_cert(dir.path);
    const std::string expected = slurp(dir.path + "/pin");
    REQUIRE(expected.size() == 44);
    CHECK(net::spki_pin_of_file(dir.path + "/cert.pem") == expected);
    CHECK(net::decode_pin(expected).size() == 32);
    CHECK_THROWS_AS(net::spki_pin_of_file(dir.path + "/missing.pem"), std::runtime_error);
}

TEST_CASE("pins: base64 of exactly 32 bytes", "[net][tls_forward]")
{
    CHECK(net::decode_pin(kPin).size() == 32);
    CHECK(net::decode_pin("").empty());
    CHECK(net::decode_pin("not base64!").empty());
    CHECK(net::decode_pin("AAAA").empty()); // 3 bytes
    // 31 bytes
    CHECK(net::decode_pin("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuA==").empty());
}

TEST_CASE("TLS_FORWARD targets: addresses and ports", "[net][tls_forward]")
{
    auto s = spec("192.0.2.1");
    s.pins = {kPin};
    auto t = net::parse_tls_target(s, "/nonexistent");
    CHECK(resolve::address_to_string(t.addr) == "192.0.2.1@853");
    REQUIRE(t.auth);
    CHECK(t.auth->pins.size() == 1);
    CHECK(t.auth->hostname.empty());

    s.address = "2001:db8::1@8853";
    s.hostname = "dns.example.";
    t = net::parse_tls_target(s, "/nonexistent");
    CHECK(resolve::address_to_string(t.addr) == "2001:db8::1@8853");
    CHECK(t.auth->hostname == "dns.example"); // the trailing dot goes (SNI, name check)

    s.address = "127.0.0.1#5353";
    CHECK(resolve::address_to_string(net::parse_tls_target(s, "/x").addr) == "127.0.0.1@5353");

    s.address = "dns.example";
    CHECK(error_of(s) == "'dns.example' is not an address (IP, IP@port or IP#port)");
    s.address = "192.0.2.1@99999";
    CHECK(error_of(s).find("is not an address") != std::string::npos);
}

TEST_CASE("TLS_FORWARD targets: authentication settings", "[net][tls_forward]")
{
    TempDir dir;
    make_cert(dir.path);
    const std::string ca = dir.path + "/cert.pem";

    SECTION("neither hostname nor pin")
    {
        CHECK(error_of(spec("192.0.2.1")) ==
              "target 192.0.2.1@853 needs hostname (to check the certificate against ca_file "
              "or the system CA bundle) or pin_sha256");
        auto s = spec("192.0.2.1");
        s.ca_files = {ca};
        CHECK(error_of(s).find("needs hostname") != std::string::npos);
    }
    SECTION("bad pins: a warning, and a pin no certificate matches")
    {
        auto s = spec("192.0.2.1");
        s.pins = {kPin, "abc", "YQ=="};
        auto t = net::parse_tls_target(s, "/nonexistent");
        REQUIRE(t.auth->pins.size() == 3);
        CHECK(t.auth->pins[1] == std::vector<uint8_t>(32, 0));
        CHECK(t.auth->pins[2] == std::vector<uint8_t>(32, 0));
    }
    SECTION("hostname with a CA file")
    {
        auto s = spec("192.0.2.1");
        s.hostname = "dot.test";
        s.ca_files = {ca};
        auto t = net::parse_tls_target(s, "/nonexistent");
        CHECK(t.auth->ca_file == ca);
        CHECK(t.auth->pins.empty());
        CHECK_FALSE(t.auth->insecure);
    }
    SECTION("hostname and the system bundle")
    {
        auto s = spec("192.0.2.1");
        s.hostname = "dot.test";
        CHECK(net::parse_tls_target(s, ca.c_str()).auth->ca_file.empty());
        CHECK(error_of(s, "/nonexistent/ca.pem")
                  .starts_with("target 192.0.2.1@853: cannot read the system CA bundle "
                               "/nonexistent/ca.pem: "));
    }
    SECTION("unreadable or empty CA file")
    {
        auto s = spec("192.0.2.1");
        s.hostname = "dot.test";
        s.ca_files = {dir.path + "/nope.pem"};
        CHECK(error_of(s).starts_with("target 192.0.2.1@853: cannot read ca_file " + dir.path +
                                      "/nope.pem: "));
        s.ca_files = {dir.path + "/pin"}; // not a certificate
        CHECK(error_of(s).starts_with("target 192.0.2.1@853: cannot read ca_file "));
        s.ca_files = {ca, ca};
        CHECK(error_of(s) == "target 192.0.2.1@853: only one ca_file per target is supported");
    }
    SECTION("insecure needs nothing else")
    {
        auto s = spec("192.0.2.1");
        s.insecure = true;
        CHECK(net::parse_tls_target(s, "/nonexistent").auth->insecure);
    }
}
