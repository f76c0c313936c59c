// DoH request handling as pure functions: base64url, which status a request
// gets, and the max-age of an answer.
#include "catch.hpp"

#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "net/doh_request.hpp"

using namespace kresd::net;

namespace {

std::vector<uint8_t> bytes(std::string_view s)
{
    return {s.begin(), s.end()};
}

// A tiny DNS message writer (names as raw wire bytes).
struct Msg {
    std::vector<uint8_t> b;
    Msg& u16(uint16_t v)
    {
        b.push_back(static_cast<uint8_t>(v >> 8));
        b.push_back(static_cast<uint8_t>(v));
        return *this;
    }
    Msg& u32(uint32_t v)
    {
        return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v));
    }
    Msg& raw(std::initializer_list<uint8_t> v)
    {
        b.insert(b.end(), v);
        return *this;
    }
    Msg& header(uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
    {
        return u16(0x1234).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
    }
    Msg& question() // example. IN A
    {
        return raw({7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0}).u16(1).u16(1);
    }
    Msg& a(uint32_t ttl) // compressed owner -> question name
    {
        return raw({0xc0, 12}).u16(1).u16(1).u32(ttl).u16(4).raw({192, 0, 2, 1});
    }
    Msg& soa(uint32_t ttl, uint32_t minimum)
    {
        raw({0xc0, 12}).u16(6).u16(1).u32(ttl);
        u16(2 + 2 + 20).raw({0xc0, 12}).raw({0xc0, 12}); // mname, rname
        return u32(1).u32(7200).u32(3600).u32(1209600).u32(minimum);
    }
    Msg& opt() { return raw({0}).u16(41).u16(1232).u32(0).u16(0); }
};

constexpr uint16_t kResponse = 0x8180; // QR RD RA, NOERROR

} // namespace

TEST_CASE("base64url decodes RFC 4648 section 10 vectors, unpadded and padded", "[tls]")
{
    struct V {
        const char* plain;
        const char* enc;
    };
    const V vectors[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (const auto& v : vectors) {
        CAPTURE(v.enc);
        auto d = base64url_decode(v.enc);
        REQUIRE(d);
        CHECK(*d == bytes(v.plain));
        CHECK(base64url_encode(bytes(v.plain)) == v.enc);
    }
    // Correct padding is tolerated.
    CHECK(base64url_decode("Zg==") == std::optional(bytes("f")));
    CHECK(base64url_decode("Zm8=") == std::optional(bytes("fo")));
}

TEST_CASE("base64url uses - and _ and round-trips every byte value", "[tls]")
{
    std::vector<uint8_t> all(256);
    for (int i = 0; i < 256; ++i)
        all[i] = static_cast<uint8_t>(i);
    std::string enc = base64url_encode(all);
    CHECK(enc.find('+') == std::string::npos);
    CHECK(enc.find('/') == std::string::npos);
    CHECK(enc.find('=') == std::string::npos);
    CHECK(enc.find('-') != std::string::npos);
    CHECK(enc.find('_') != std::string::npos);
    CHECK(base64url_decode(enc) == std::optional(all));
    CHECK(base64url_decode("-_8") == std::optional(std::vector<uint8_t>{0xfb, 0xff}));
}

TEST_CASE("base64url rejects invalid input", "[tls]")
{
    for (const char* bad : {
             "Zm9v+Yg",  // standard alphabet '+'
             "Zm9v/Yg",  // standard alphabet '/'
             "Zm9 vYg",  // space
             "Zm9v%3D",  // percent-encoding
             "Z",        // 1 mod 4: cannot end a byte
             "Zm9vY",    // 1 mod 4
             "Zg=",      // padding that does not complete a quantum
             "Zg===",    // too much padding
             "Z===",     // three '='
             "Zm9v====", // a whole quantum of padding
             "Zm=v",     // '=' inside
             "Zh",       // stray bits after the last byte (canonical form is Zg)
             "Zm9=",     // stray bits, padded
             "Zg\n",     // newline
         }) {
        CAPTURE(bad);
        CHECK_FALSE(base64url_decode(bad));
    }
    std::string with_nul("Zg\0\0", 4);
    CHECK_FALSE(base64url_decode(with_nul));
}

TEST_CASE("base64url handles message-sized input", "[tls]")
{
    std::vector<uint8_t> big(65535, 0xa5);
    auto enc = base64url_encode(big);
    CHECK(enc.size() == 87380);
    CHECK(base64url_decode(enc) == std::optional(big));
}

TEST_CASE("DoH requests get the right status", "[tls]")
{
    const char* dm = "application/dns-message";
    struct Case {
        const char* method;
        const char* path;
        const char* ctype;
        int status;
    };
    const Case cases[] = {
        {"GET", "/dns-query?dns=AAAB", "", 0},
        {"GET", "/dns-query?ct=x&dns=AAAB&z", "", 0},
        {"GET", "/doh?dns=AAAB", "", 0}, // Knot Resolver's older path
        {"GET", "/dns-query", "", 400},
        {"GET", "/dns-query?", "", 400},
        {"GET", "/dns-query?dnsx=AAAB", "", 400},
        {"GET", "/dns-query?xdns=AAAB", "", 400},
        {"GET", "/", "", 404},
        {"GET", "/dns-query/x?dns=AAAB", "", 404},
        {"GET", "/DNS-QUERY?dns=AAAB", "", 404},
        {"GET", "/dns-queryx?dns=AAAB", "", 404},
        {"POST", "/dns-query", dm, 0},
        {"POST", "/dns-query", "Application/DNS-Message", 0},
        {"POST", "/dns-query", "application/dns-message; charset=x", 0},
        {"POST", "/dns-query", " application/dns-message ", 0},
        {"POST", "/dns-query", "", 415},
        {"POST", "/dns-query", "application/json", 415},
        {"POST", "/dns-query", "application/dns-messagex", 415},
        {"POST", "/dns-query", "text/plain", 415},
        {"POST", "/nothing", dm, 404},
        {"PUT", "/dns-query", dm, 405},
        {"HEAD", "/dns-query?dns=AAAB", "", 405},
        {"DELETE", "/dns-query", "", 405},
        {"get", "/dns-query?dns=AAAB", "", 405}, // methods are case-sensitive
        {"PUT", "/elsewhere", dm, 404},          // a missing resource first
    };
    for (const auto& c : cases) {
        CAPTURE(c.method, c.path, c.ctype);
        auto v = classify_doh_request(c.method, c.path, c.ctype);
        CHECK(v.status == c.status);
        if (v.status) CHECK(std::strlen(v.reason) > 0);
    }
    auto v = classify_doh_request("GET", "/dns-query?a=1&dns=q80BAAAB&b=2", "");
    CHECK(v.method == DohMethod::get);
    CHECK(v.dns_param == "q80BAAAB");
    CHECK(classify_doh_request("POST", "/dns-query", dm).method == DohMethod::post);
}

TEST_CASE("query parameters are found by exact name", "[tls]")
{
    CHECK(query_param("dns=abc", "dns") == std::optional<std::string_view>("abc"));
    CHECK(query_param("a=1&dns=abc&b", "dns") == std::optional<std::string_view>("abc"));
    CHECK(query_param("dns", "dns") == std::optional<std::string_view>(""));
    CHECK(query_param("dns=", "dns") == std::optional<std::string_view>(""));
    CHECK(query_param("dns=a&dns=b", "dns") == std::optional<std::string_view>("a"));
    CHECK_FALSE(query_param("", "dns"));
    CHECK_FALSE(query_param("dnsx=1&xdns=2", "dns"));
}

TEST_CASE("DoH message sizes: too short is 400, too long is 413", "[tls]")
{
    CHECK(doh_message_status(0) == 400);
    CHECK(doh_message_status(11) == 400);
    CHECK(doh_message_status(12) == 0);
    CHECK(doh_message_status(65535) == 0);
    CHECK(doh_message_status(65536) == 413);
    CHECK(std::string(http_status_text(413)) == "Payload Too Large");
    CHECK(std::string(http_status_text(415)) == "Unsupported Media Type");
}

TEST_CASE("max-age is the smallest TTL of the answer's records", "[tls]")
{
    Msg m;
    m.header(kResponse, 1, 3, 0, 1).question().a(300).a(60).a(3600).opt();
    CHECK(doh_max_age(m.b) == 60);

    Msg one;
    one.header(kResponse, 1, 1, 0, 0).question().a(86400);
    CHECK(doh_max_age(one.b) == 86400);

    // Authority and additional records count too (the answer is cached as a whole).
    Msg ns;
    ns.header(kResponse, 1, 1, 1, 1).question().a(300).a(100).a(20);
    CHECK(doh_max_age(ns.b) == 20);

    // A TTL with the top bit set counts as 0 (RFC 2181 8).
    Msg neg;
    neg.header(kResponse, 1, 1, 0, 0).question().a(0x80000000u);
    CHECK(doh_max_age(neg.b) == 0);
}

TEST_CASE("max-age of negative answers comes from the SOA (RFC 2308)", "[tls]")
{
    Msg nx; // NXDOMAIN
    nx.header(0x8183, 1, 0, 1, 0).question().soa(3600, 900);
    CHECK(doh_max_age(nx.b) == 900);
    Msg nodata; // NOERROR, no answer; SOA TTL below MINIMUM
    nodata.header(kResponse, 1, 0, 1, 1).question().soa(120, 900).opt();
    CHECK(doh_max_age(nodata.b) == 120);
    Msg bare; // NODATA without SOA
    bare.header(kResponse, 1, 0, 0, 0).question();
    CHECK(doh_max_age(bare.b) == 0);
}

TEST_CASE("max-age is 0 for errors and unparsable messages", "[tls]")
{
    Msg servfail;
    servfail.header(0x8182, 1, 0, 0, 0).question();
    CHECK(doh_max_age(servfail.b) == 0);
    Msg refused_with_records;
    refused_with_records.header(0x8185, 1, 1, 0, 0).question().a(300);
    CHECK(doh_max_age(refused_with_records.b) == 0);

    Msg truncated;
    truncated.header(kResponse, 1, 2, 0, 0).question().a(300); // one record short
    CHECK(doh_max_age(truncated.b) == 0);
    std::vector<uint8_t> cut = Msg().header(kResponse, 1, 1, 0, 0).question().a(300).b;
    cut.resize(cut.size() - 3);
    CHECK(doh_max_age(cut) == 0);
    CHECK(doh_max_age({}) == 0);
    std::vector<uint8_t> header_only(5, 0);
    CHECK(doh_max_age(header_only) == 0);
    // A name that never ends.
    Msg loop;
    loop.header(kResponse, 1, 0, 0, 0);
    for (int i = 0; i < 200; ++i)
        loop.raw({1, 'a'});
    CHECK(doh_max_age(loop.b) == 0);
}
