// Request classification, base64url and max-age for DoH; see doh_request.hpp.
#include "net/doh_request.hpp"

#include <algorithm>
#include <cctype>

namespace kresd::net {

namespace {

// 0-63 for the base64url alphabet, -1 otherwise.
int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

} // namespace

std::optional<std::vector<uint8_t>> base64url_decode(std::string_view in)
{
    // Padding, if any, must make the length a multiple of 4 and be at most 2.
    size_t pad = 0;
    while (pad < in.size() && in[in.size() - 1 - pad] == '=')
        ++pad;
    if (pad > 0) {
        if (pad > 2 || in.size() % 4 != 0) return std::nullopt;
        in.remove_suffix(pad);
        if ((in.size() % 4) + pad != 4) return std::nullopt; // "AAAA==" etc.
    }
    if (in.size() % 4 == 1) return std::nullopt; // 6 bits cannot end a byte
    std::vector<uint8_t> out;
    out.reserve(in.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v = b64url_value(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<uint8_t>(acc >> bits));
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) return std::nullopt; // non-canonical: stray bits after the last byte
    return out;
}

std::string base64url_encode(std::span<const uint8_t> data)
{
    std::string out;
    out.reserve((data.size() * 4 + 2) / 3);
    size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
        out += kAlphabet[v >> 18];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    size_t rest = data.size() - i;
    if (rest == 1) {
        uint32_t v = uint32_t(data[i]) << 16;
        out += kAlphabet[v >> 18];
        out += kAlphabet[(v >> 12) & 63];
    } else if (rest == 2) {
        uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8);
        out += kAlphabet[v >> 18];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
    }
    return out;
}

std::optional<std::string_view> query_param(std::string_view query, std::string_view name)
{
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        size_t eq = part.find('=');
        std::string_view key = part.substr(0, eq);
        if (key == name)
            return eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

DohVerdict classify_doh_request(std::string_view method, std::string_view path,
                                std::string_view content_type)
{
    DohVerdict v;
    size_t qmark = path.find('?');
    std::string_view endpoint = path.substr(0, qmark);
    std::string_view query =
        qmark == std::string_view::npos ? std::string_view() : path.substr(qmark + 1);
    if (endpoint != "/dns-query" && endpoint != "/doh") {
        v.status = 404;
        v.reason = "no such resource; DNS queries go to /dns-query";
        return v;
    }
    if (method == "GET") {
        v.method = DohMethod::get;
        auto dns = query_param(query, "dns");
        if (!dns) {
            v.status = 400;
            v.reason = "GET needs a dns= query parameter";
            return v;
        }
        v.dns_param = *dns;
        return v;
    }
    if (method == "POST") {
        v.method = DohMethod::post;
        std::string_view media = trim(content_type.substr(0, content_type.find(';')));
        if (!iequals(media, "application/dns-message")) {
            v.status = 415;
            v.reason = "POST needs content-type: application/dns-message";
        }
        return v;
    }
    v.status = 405;
    v.reason = "only GET and POST are served";
    return v;
}

int doh_message_status(size_t len)
{
    if (len > kDohMaxMessage) return 413;
    if (len < 12) return 400;
    return 0;
}

// ---------------------------------------------------------------- max-age

namespace {

class Reader {
public:
    explicit Reader(std::span<const uint8_t> m) : m_(m) {}
    bool ok() const { return ok_; }
    size_t pos() const { return pos_; }
    uint16_t u16()
    {
        if (!need(2)) return 0;
        uint16_t v = static_cast<uint16_t>((m_[pos_] << 8) | m_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    uint32_t u32()
    {
        uint32_t hi = u16();
        return (hi << 16) | u16();
    }
    void skip(size_t n)
    {
        if (need(n)) pos_ += n;
    }
    // Skips a possibly compressed name; a pointer ends it.
    void skip_name()
    {
        for (int labels = 0; ok_ && labels < 128; ++labels) {
            if (!need(1)) return;
            uint8_t len = m_[pos_];
            if ((len & 0xc0) == 0xc0) {
                skip(2);
                return;
            }
            if (len & 0xc0) { // the obsolete 0x40/0x80 label types
                ok_ = false;
                return;
            }
            skip(1 + len);
            if (len == 0) return;
        }
        ok_ = false;
    }

private:
    bool need(size_t n)
    {
        if (pos_ + n > m_.size()) ok_ = false;
        return ok_;
    }
    std::span<const uint8_t> m_;
    size_t pos_ = 0;
    bool ok_ = true;
};

constexpr uint16_t kTypeSoa = 6, kTypeOpt = 41;

bool is_meta(uint16_t type)
{
    return type == kTypeOpt || (type >= 128 && type <= 255); // RFC 6895 3.1
}

} // namespace

uint32_t doh_max_age(std::span<const uint8_t> answer)
{
    Reader r(answer);
    r.skip(2);
    uint16_t flags = r.u16();
    uint16_t counts[4] = {r.u16(), r.u16(), r.u16(), r.u16()};
    if (!r.ok()) return 0;
    int rcode = flags & 0x0f;
    bool nxdomain = rcode == 3;
    if (rcode != 0 && !nxdomain) return 0;
    bool negative = nxdomain || counts[1] == 0;
    for (int i = 0; i < counts[0]; ++i) {
        r.skip_name();
        r.skip(4);
    }
    bool found = false;
    uint32_t min_ttl = UINT32_MAX;
    for (int section = 1; section < 4 && r.ok(); ++section) {
        for (int i = 0; i < counts[section] && r.ok(); ++i) {
            r.skip_name();
            uint16_t type = r.u16();
            r.skip(2);
            uint32_t ttl = r.u32();
            uint16_t rdlen = r.u16();
            size_t rdata = r.pos();
            r.skip(rdlen);
            if (!r.ok()) return 0;
            if (ttl > 0x7fffffff) ttl = 0; // RFC 2181 8
            if (negative) {
                // RFC 2308 5: the SOA in the authority section says how long
                // the absence may be cached.
                if (section != 2 || type != kTypeSoa || rdlen < 20) continue;
                size_t p = rdata + rdlen - 4;
                uint32_t minimum = (uint32_t(answer[p]) << 24) | (uint32_t(answer[p + 1]) << 16) |
                                   (uint32_t(answer[p + 2]) << 8) | answer[p + 3];
                return std::min(ttl, minimum);
            }
            if (is_meta(type)) continue;
            min_ttl = std::min(min_ttl, ttl);
            found = true;
        }
    }
    if (!r.ok()) return 0;
    return found ? min_ttl : 0;
}

const char* http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    default: return "";
    }
}

} // namespace kresd::net
