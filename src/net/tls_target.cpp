// policy.TLS_FORWARD targets and SPKI pins; see tls_target.hpp.
#include "net/tls_target.hpp"

#include <mbedtls/base64.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <stdexcept>

#include "net/tls_context.hpp"
#include "util/log.hpp"

namespace kresd::net {

bool spki_sha256(const mbedtls_x509_crt& crt, unsigned char out[kPinLen])
{
    // mbedtls_pk_write_pubkey_der writes at the end of the buffer.
    unsigned char buf[4096];
    int n = mbedtls_pk_write_pubkey_der(const_cast<mbedtls_pk_context*>(&crt.pk), buf, sizeof(buf));
    if (n <= 0) return false;
    return mbedtls_sha256_ret(buf + sizeof(buf) - n, static_cast<size_t>(n), out, 0) == 0;
}

std::vector<uint8_t> decode_pin(std::string_view b64)
{
    unsigned char out[64];
    size_t olen = 0;
    if (b64.empty() ||
        mbedtls_base64_decode(out, sizeof(out), &olen,
                              reinterpret_cast<const unsigned char*>(b64.data()),
                              b64.size()) != 0 ||
        olen != kPinLen)
        return {};
    return {out, out + olen};
}

std::string spki_pin(const mbedtls_x509_crt& crt)
{
    unsigned char hash[kPinLen];
    if (!spki_sha256(crt, hash)) return {};
    unsigned char b64[64];
    size_t olen = 0;
    if (mbedtls_base64_encode(b64, sizeof(b64), &olen, hash, sizeof(hash)) != 0) return {};
    return std::string(reinterpret_cast<char*>(b64), olen);
}

std::string spki_pin_of_file(const std::string& path)
{
    X509Crt crt;
    int r = mbedtls_x509_crt_parse_file(crt.get(), path.c_str());
    if (r != 0)
        throw std::runtime_error("cannot read certificate " + path + ": " +
                                 (r > 0 ? "not a certificate" : mbedtls_error_text(r)));
    std::string pin = spki_pin(*crt.get());
    if (pin.empty()) throw std::runtime_error("cannot encode the public key of " + path);
    return pin;
}

TlsTarget parse_tls_target(const TlsTargetSpec& spec, const char* system_ca)
{
    std::string text = spec.address;
    if (text.find('@') == std::string::npos && text.find('#') == std::string::npos)
        text += "@" + std::to_string(kDefaultDotPort);
    auto addr = resolve::parse_address(text);
    if (!addr)
        throw std::invalid_argument("'" + spec.address +
                                    "' is not an address (IP, IP@port or IP#port)");
    const std::string where = resolve::address_to_string(*addr);
    auto auth = std::make_shared<resolve::TlsAuth>();
    auth->insecure = spec.insecure;
    auth->hostname = spec.hostname;
    if (!auth->hostname.empty() && auth->hostname.back() == '.') auth->hostname.pop_back();
    if (!spec.hostname.empty() && auth->hostname.empty())
        throw std::invalid_argument("target " + where + ": hostname '" + spec.hostname +
                                    "' is not a host name");
    for (const auto& p : spec.pins) {
        auto pin = decode_pin(p);
        if (pin.empty()) {
            // Shipped examples carry placeholders ('YQ=='): the config goes
            // on, and the pin matches no certificate, so the target is
            // never trusted (it fails closed, as a wrong pin would).
            util::log(util::Level::warning, "tls",
                      "policy.TLS_FORWARD: target %s: pin_sha256 '%s' is not the base64 of a "
                      "SHA-256 digest (32 bytes): no certificate will match it",
                      where.c_str(), p.c_str());
            pin.assign(32, 0);
        }
        auth->pins.push_back(std::move(pin));
    }
    if (spec.ca_files.size() > 1)
        throw std::invalid_argument("target " + where +
                                    ": only one ca_file per target is supported");
    if (!spec.ca_files.empty()) {
        auth->ca_file = spec.ca_files.front();
        if (auth->ca_file.empty())
            throw std::invalid_argument("target " + where + ": ca_file is empty");
    }
    const bool by_ca = !auth->insecure && auth->pins.empty();
    if (by_ca && auth->hostname.empty())
        throw std::invalid_argument("target " + where +
                                    " needs hostname (to check the certificate against ca_file "
                                    "or the system CA bundle) or pin_sha256");
    // Load the CA file now, so that a wrong path stops the config.
    if (by_ca || !auth->ca_file.empty()) {
        const std::string ca = auth->ca_file.empty() ? std::string(system_ca) : auth->ca_file;
        X509Crt crt;
        int r = mbedtls_x509_crt_parse_file(crt.get(), ca.c_str());
        if (r < 0 || crt.get()->version == 0)
            throw std::invalid_argument(
                "target " + where + ": cannot read " +
                (auth->ca_file.empty() ? "the system CA bundle " : "ca_file ") + ca + ": " +
                (r < 0 ? mbedtls_error_text(r) : std::string("no certificate in it")));
    }
    return {*addr, std::move(auth)};
}

} // namespace kresd::net
