#include "policy/special_names.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace kresd::policy {

namespace {

using dns::Name;

Name text_name(const char* text)
{
    Name n;
    dns::name_from_text(text, n);
    return n;
}


const Name& localhost()
{
    static const Name n = text_name("localhost.");
    return n;
}
const Name& rev4_zone()
{
    static const Name n = text_name("127.in-addr.arpa.");
    return n;
}
const Name& rev4_one()
{
    static const Name n = text_name("1.0.0.127.in-addr.arpa.");
    return n;
}
const Name& rev6_one()
{
    static const Name n = text_name(
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.");
    return n;
}

bool same(std::span<const uint8_t> a, const Name& b)
{
    return dns::name_in_zone(a, b.view()) && dns::name_labels(a) == dns::name_labels(b.view());
}

// The top-level label of a wire name (empty for the root or a malformed
// name): the special and blocked zones sit below a few TLDs only, so the
// names of nearly every query are passed over after one look.
std::string_view top_label(std::span<const uint8_t> name)
{
    size_t pos = 0, last = 0;
    while (pos < name.size() && name[pos] != 0) {
        last = pos;
        pos += size_t{1} + name[pos];
    }
    if (pos >= name.size() || pos == 0) return {};
    return {reinterpret_cast<const char*>(name.data()) + last + 1, name[last]};
}

constexpr uint32_t kTtl = 900;
constexpr uint32_t kSoaTtl = 10800;

// SOA rdata: localhost. nobody.invalid. 1 3600 1200 604800 10800
std::vector<uint8_t> soa_rdata()
{
    std::vector<uint8_t> r;
    auto put_name = [&](const char* t) {
        Name n = text_name(t);
        r.insert(r.end(), n.wire.begin(), n.wire.begin() + n.len);
    };
    auto put32 = [&](uint32_t v) {
        for (int s = 24; s >= 0; s -= 8) r.push_back(static_cast<uint8_t>(v >> s));
    };
    put_name("localhost.");
    put_name("nobody.invalid.");
    put32(1);
    put32(3600);
    put32(1200);
    put32(604800);
    put32(10800);
    return r;
}

void add_soa(dns::ResponseBuilder& out, dns::Section s, const Name& zone)
{
    static const std::vector<uint8_t> rdata = soa_rdata();
    if (!out.add_rr(s, zone.view(), dns::type::SOA, dns::klass::IN, kSoaTtl, rdata))
        out.set_tc(true);
}

void add(dns::ResponseBuilder& out, std::span<const uint8_t> owner, uint16_t type,
         std::span<const uint8_t> rdata)
{
    if (!out.add_rr(dns::Section::answer, owner, type, dns::klass::IN, kTtl, rdata))
        out.set_tc(true);
}

} // namespace

bool answer_special(const dns::Query& q, dns::ResponseBuilder& out)
{
    if (q.qclass != dns::klass::IN) return false;
    auto name = q.qname_lower.view();
    const std::string_view tld = top_label(name);
    if (tld != "localhost" && tld != "arpa") return false;
    const uint16_t t = q.qtype;
    static constexpr std::array<uint8_t, 4> v4{127, 0, 0, 1};
    static constexpr std::array<uint8_t, 16> v6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const Name& lh = localhost();

    if (dns::name_in_zone(name, lh.view())) {
        out.set_aa(true);
        bool apex = same(name, lh);
        if (t == dns::type::A || t == dns::type::ANY) add(out, name, dns::type::A, v4);
        if (t == dns::type::AAAA || t == dns::type::ANY) add(out, name, dns::type::AAAA, v6);
        if (apex && t == dns::type::SOA) add_soa(out, dns::Section::answer, lh);
        if (t != dns::type::A && t != dns::type::AAAA && t != dns::type::ANY &&
            !(apex && t == dns::type::SOA))
            add_soa(out, dns::Section::authority, lh); // NODATA
        return true;
    }
    if (dns::name_in_zone(name, rev4_zone().view())) {
        out.set_aa(true);
        if (same(name, rev4_one())) {
            if (t == dns::type::PTR || t == dns::type::ANY)
                add(out, name, dns::type::PTR, lh.view());
            else
                add_soa(out, dns::Section::authority, rev4_zone());
        } else if (same(name, rev4_zone())) {
            if (t == dns::type::SOA)
                add_soa(out, dns::Section::answer, rev4_zone());
            else
                add_soa(out, dns::Section::authority, rev4_zone());
        } else {
            out.set_rcode(dns::rcode::NXDOMAIN);
            add_soa(out, dns::Section::authority, rev4_zone());
        }
        return true;
    }
    if (same(name, rev6_one())) {
        out.set_aa(true);
        if (t == dns::type::PTR || t == dns::type::ANY)
            add(out, name, dns::type::PTR, lh.view());
        else
            add_soa(out, dns::Section::authority, rev6_one());
        return true;
    }
    return false;
}

namespace {

std::vector<Name> blocked_zones()
{
    std::vector<std::string> texts = {"test.", "invalid.", "onion.", "10.in-addr.arpa.",
                                      "168.192.in-addr.arpa.", "254.169.in-addr.arpa.",
                                      "0.in-addr.arpa.", "255.255.255.255.in-addr.arpa.",
                                      "d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.",
                                      "a.e.f.ip6.arpa.", "b.e.f.ip6.arpa."};
    for (int i = 16; i <= 31; ++i) texts.push_back(std::to_string(i) + ".172.in-addr.arpa.");
    for (int i = 64; i <= 127; ++i) texts.push_back(std::to_string(i) + ".100.in-addr.arpa.");
    std::string unspecified;
    for (int i = 0; i < 32; ++i) unspecified += "0.";
    texts.push_back(unspecified + "ip6.arpa.");
    std::vector<Name> out;
    for (const auto& t : texts) out.push_back(text_name(t.c_str()));
    return out;
}

} // namespace

bool answer_blocked(const dns::Query& q, dns::ResponseBuilder& out)
{
    static const std::vector<Name> zones = blocked_zones();
    auto name = q.qname_lower.view();
    const std::string_view tld = top_label(name);
    if (tld != "arpa" && tld != "test" && tld != "invalid" && tld != "onion") return false;
    for (const auto& z : zones) {
        if (!dns::name_in_zone(name, z.view())) continue;
        out.set_aa(true);
        if (same(name, z) && q.qtype == dns::type::SOA) {
            add_soa(out, dns::Section::answer, z);
        } else {
            if (!same(name, z)) out.set_rcode(dns::rcode::NXDOMAIN);
            add_soa(out, dns::Section::authority, z);
        }
        return true;
    }
    return false;
}

bool maybe_special(const dns::Query& q)
{
    // The top labels of every zone served above, collected once from the
    // zones themselves, so the two cannot drift apart.
    static const std::vector<std::string> tlds = [] {
        std::vector<std::string> out;
        auto add = [&](const Name& zone) {
            std::string tld(top_label(zone.view()));
            if (std::find(out.begin(), out.end(), tld) == out.end()) out.push_back(tld);
        };
        for (const Name* zone : {&localhost(), &rev4_zone(), &rev6_one()}) add(*zone);
        for (const Name& zone : blocked_zones()) add(zone);
        return out;
    }();
    const std::string_view tld = top_label(q.qname_lower.view());
    return std::find(tlds.begin(), tlds.end(), tld) != tlds.end();
}

} // namespace kresd::policy
