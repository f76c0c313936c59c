#include "policy/special_names.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.hpp"

namespace kresd::policy {

namespace {

using dns::Name;

constexpr uint32_t kTtl = 900;
constexpr uint32_t kSoaTtl = 10800;

Name text_name(std::string_view text)
{
    Name n;
    dns::name_from_text(text, n);
    dns::name_lower(n);
    return n;
}

// Label start offsets of a well-formed uncompressed wire name: starts[i]
// is where label i begins, starts[count] the root label; the name's last n
// labels begin at starts[count - n]. A name of 255 bytes has at most 127
// labels and the root.
struct Labels {
    std::array<uint8_t, 128> starts{};
    size_t count = 0; // labels, not counting the root

    explicit Labels(std::span<const uint8_t> name)
    {
        size_t pos = 0;
        while (pos < name.size() && count < starts.size()) {
            starts[count] = static_cast<uint8_t>(pos);
            if (name[pos] == 0) return;
            ++count;
            pos += size_t{1} + name[pos];
        }
        count = 0; // not a name: matches nothing
        starts[0] = 0;
    }
    // Offset of the suffix with `n` labels (n <= count).
    size_t suffix(size_t n) const { return starts[count - n]; }
};

// A zone in lower case with its label count: checked against a query name
// (lower case too) by one comparison at a known offset.
struct Zone {
    Name name;
    size_t labels = 0;

    explicit Zone(std::string_view text) : name(text_name(text))
    {
        labels = static_cast<size_t>(std::max(0, dns::name_labels(name.view())));
    }
    // Is `qname` (lower case; `at` its labels) this zone or below it?
    bool contains(std::span<const uint8_t> qname, const Labels& at) const
    {
        if (at.count < labels) return false;
        const auto tail = qname.subspan(at.suffix(labels));
        return std::ranges::equal(tail, name.view());
    }
    bool apex_of(const Labels& at) const { return at.count == labels; }
};

std::vector<Zone> zones(const std::vector<std::string>& texts)
{
    std::vector<Zone> out;
    out.reserve(texts.size());
    for (const auto& t : texts) out.emplace_back(t);
    return out;
}

// Rule 1: the locally served zones (IANA's registry as Knot Resolver 5.6
// lists it), all below arpa.
const std::vector<Zone>& local_zones()
{
    static const std::vector<Zone> z = [] {
        std::vector<std::string> t = {"10.in-addr.arpa."};
        for (int i = 16; i <= 31; ++i) t.push_back(std::to_string(i) + ".172.in-addr.arpa.");
        for (const char* s : {"168.192.in-addr.arpa.", "0.in-addr.arpa.", "254.169.in-addr.arpa.",
                              "2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.",
                              "113.0.203.in-addr.arpa.", "255.255.255.255.in-addr.arpa."})
            t.emplace_back(s);
        for (int i = 64; i <= 127; ++i) t.push_back(std::to_string(i) + ".100.in-addr.arpa.");
        std::string unspecified;
        for (int i = 0; i < 32; ++i) unspecified += "0.";
        t.push_back(unspecified + "ip6.arpa.");
        for (const char* s : {"d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.",
                              "a.e.f.ip6.arpa.", "b.e.f.ip6.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.",
                              "home.arpa."})
            t.emplace_back(s);
        return zones(t);
    }();
    return z;
}

// Is `name` (lower case) in one of rule 1's zones? Each suffix of the name
// is looked up among the zones of its label count (sorted wire names), so a
// reverse query costs a few comparisons, not one per zone.
bool in_local_zone(std::span<const uint8_t> name, const Labels& at)
{
    constexpr size_t kMaxLabels = 34; // the name of :: has the most
    static const auto by_labels = [] {
        std::array<std::vector<std::string_view>, kMaxLabels + 1> out;
        for (const Zone& z : local_zones()) {
            const auto w = z.name.view();
            out.at(z.labels).emplace_back(reinterpret_cast<const char*>(w.data()), w.size());
        }
        for (auto& v : out) std::sort(v.begin(), v.end());
        return out;
    }();
    const std::string_view text(reinterpret_cast<const char*>(name.data()), name.size());
    for (size_t n = 1; n <= std::min(at.count, kMaxLabels); ++n) {
        const auto& bucket = by_labels[n];
        const std::string_view suffix = text.substr(at.suffix(n));
        if (!bucket.empty() && std::binary_search(bucket.begin(), bucket.end(), suffix)) return true;
    }
    return false;
}

// Rule 2: special-use top-level names.
const std::vector<Zone>& special_use()
{
    static const std::vector<Zone> z = zones({"test.", "onion.", "invalid.", "local."});
    return z;
}

const Zone& localhost()
{
    static const Zone z("localhost.");
    return z;
}
const Zone& rev4_apex()
{
    static const Zone z("127.in-addr.arpa.");
    return z;
}
const Zone& rev4_one()
{
    static const Zone z("1.0.0.127.in-addr.arpa.");
    return z;
}
const Zone& rev6_one()
{
    static const Zone z("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                        "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.");
    return z;
}
const Zone& arpa()
{
    static const Zone z("arpa.");
    return z;
}

// policy.DENY_MSG(text, 21) of rules 1 and 2: the text points at the IANA
// registry the zone comes from.
Action deny_by_registry(const char* registry)
{
    Action x;
    x.kind = ActionKind::deny;
    x.message = std::string("Blocking is mandated by standards, see references on "
                            "https://www.iana.org/assignments/") + registry;
    x.ede = kEdeNotSupported;
    return x;
}
const Action& deny_local_zone()
{
    static const Action a =
        deny_by_registry("locally-served-dns-zones/locally-served-dns-zones.xhtml");
    return a;
}
const Action& deny_special_use()
{
    static const Action a =
        deny_by_registry("special-use-domain-names/special-use-domain-names.xhtml");
    return a;
}

// Writes names as Knot Resolver 5.6's packet writer does: a name that is the
// question's name or a suffix of it comes out in the question's spelling.
class Writer {
public:
    Writer(const dns::Query& q, dns::ResponseBuilder& out, const Labels& at)
        : q_(q), out_(out), at_(at), question_(out.question_name())
    {
    }

    // Offset in the question name where `zone` starts, when the question is
    // in it; else npos.
    size_t in_question(const Zone& zone) const
    {
        if (question_.size() != q_.qname_lower.len ||
            !zone.contains(q_.qname_lower.view(), at_))
            return std::string_view::npos;
        return at_.suffix(zone.labels);
    }
    // The owner `zone`: a part of the question when it is one.
    std::span<const uint8_t> owner(const Zone& zone) const
    {
        const size_t off = in_question(zone);
        return off == std::string_view::npos ? zone.name.view() : question_.subspan(off);
    }
    // `zone` inside RDATA: a compression pointer into the question, else in
    // full (lower case).
    void put_name(std::vector<uint8_t>& rdata, const Zone& zone) const
    {
        const size_t off = in_question(zone);
        if (off == std::string_view::npos) {
            const auto wire = zone.name.view();
            rdata.insert(rdata.end(), wire.begin(), wire.end());
            return;
        }
        const size_t ptr = dns::kHeaderSize + off;
        rdata.push_back(static_cast<uint8_t>(0xc0 | (ptr >> 8)));
        rdata.push_back(static_cast<uint8_t>(ptr & 0xff));
    }

    void add(dns::Section s, std::span<const uint8_t> owner, uint16_t type, uint32_t ttl,
             std::span<const uint8_t> rdata)
    {
        if (!out_.add_rr(s, owner, type, q_.qclass, ttl, rdata)) out_.set_tc(true);
    }

    // `zone 10800 SOA mname nobody.invalid. 1 3600 1200 604800 10800`
    void soa(dns::Section s, const Zone& zone, const Zone& mname)
    {
        static constexpr std::array<uint8_t, 36> tail = {
            6, 'n', 'o', 'b', 'o', 'd', 'y', 7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0,
            0, 0, 0, 1,          // serial
            0, 0, 0x0e, 0x10,    // refresh 3600
            0, 0, 0x04, 0xb0,    // retry 1200
            0, 0x09, 0x3a, 0x80, // expire 604800
            0, 0, 0x2a, 0x30,    // minimum 10800
        };
        std::vector<uint8_t> rdata;
        rdata.reserve(2 + mname.name.len + tail.size());
        put_name(rdata, mname);
        rdata.insert(rdata.end(), tail.begin(), tail.end());
        add(s, owner(zone), dns::type::SOA, kSoaTtl, rdata);
    }
    // `owner 900 NS target`
    void ns(const Zone& zone, const Zone& target)
    {
        std::vector<uint8_t> rdata;
        put_name(rdata, target);
        add(dns::Section::answer, owner(zone), dns::type::NS, kTtl, rdata);
    }
    // An answer record owned by the question name itself.
    void answer(uint16_t type, std::span<const uint8_t> rdata)
    {
        add(dns::Section::answer, question_, type, kTtl, rdata);
    }

private:
    const dns::Query& q_;
    dns::ResponseBuilder& out_;
    const Labels& at_;
    std::span<const uint8_t> question_;
};

// Rule 3: localhost. and every name below it.
void answer_localhost(const dns::Query& q, Writer& w, bool apex)
{
    static constexpr std::array<uint8_t, 4> v4{127, 0, 0, 1};
    static constexpr std::array<uint8_t, 16> v6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (q.qtype == dns::type::AAAA)
        w.answer(dns::type::AAAA, v6);
    else if (q.qtype == dns::type::A)
        w.answer(dns::type::A, v4);
    else if (apex && q.qtype == dns::type::SOA)
        w.soa(dns::Section::answer, localhost(), localhost());
    else if (apex && q.qtype == dns::type::NS)
        w.ns(localhost(), localhost());
    else
        w.soa(dns::Section::authority, localhost(), localhost()); // NODATA
}

// Rule 4: 127.in-addr.arpa. and the ::1 name, both answered from one small
// zone whose apex is 127.in-addr.arpa. (5.6 treats the ::1 name, and any
// name below it, as both that zone's apex and its one PTR name).
void answer_loopback_reverse(const dns::Query& q, dns::ResponseBuilder& out, Writer& w,
                             const Labels& at)
{
    const auto name = q.qname_lower.view();
    bool exact = false, apex = false, nonterminal = false;
    if (rev6_one().contains(name, at)) {
        exact = apex = true;
    } else if (rev4_apex().apex_of(at)) {
        apex = true;
    } else if (rev4_one().apex_of(at) && rev4_one().contains(name, at)) {
        exact = true;
    } else {
        // 0.127.in-addr.arpa. and 0.0.127.in-addr.arpa.: above the PTR name.
        static const Labels one(rev4_one().name.view());
        nonterminal = at.count < one.count &&
                      std::ranges::equal(rev4_one().name.view().subspan(one.suffix(at.count)),
                                         name);
    }
    if (exact && q.qtype == dns::type::PTR) {
        w.answer(dns::type::PTR, localhost().name.view());
    } else if (apex && q.qtype == dns::type::SOA) {
        w.soa(dns::Section::answer, rev4_apex(), localhost());
    } else if (apex && q.qtype == dns::type::NS) {
        w.ns(rev4_apex(), localhost());
    } else {
        if (!nonterminal) out.set_rcode(dns::rcode::NXDOMAIN);
        w.soa(dns::Section::authority, rev4_apex(), localhost());
    }
}

// The top-level label of a wire name (empty for the root or a malformed
// name).
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

} // namespace

bool answer_special(const dns::Query& q, dns::ResponseBuilder& out)
{
    if (q.qclass != dns::klass::IN) return false;
    const auto name = q.qname_lower.view();
    const Labels at(name);
    if (at.count == 0) return false;

    // The rules' zones are disjoint: which rule can match follows from the
    // top-level label alone (rules 1 and 4 under arpa.).
    Writer w(q, out, at);
    if (arpa().contains(name, at)) {
        if (in_local_zone(name, at))
            return write_answer(ActionKind::deny, &deny_local_zone(), q, out);
        if (!rev4_apex().contains(name, at) && !rev6_one().contains(name, at)) return false;
        out.set_aa(true);
        answer_loopback_reverse(q, out, w, at);
        return true;
    }
    if (localhost().contains(name, at)) {
        out.set_aa(true);
        answer_localhost(q, w, localhost().apex_of(at));
        return true;
    }
    for (const Zone& z : special_use())
        if (z.contains(name, at))
            return write_answer(ActionKind::deny, &deny_special_use(), q, out);
    return false;
}

bool maybe_special(const dns::Query& q)
{
    // The top labels of every zone served above, collected once from the
    // zones themselves, so the two cannot drift apart.
    static const std::vector<std::string> tlds = [] {
        std::vector<std::string> out;
        auto add = [&](const Zone& zone) {
            std::string tld(top_label(zone.name.view()));
            if (std::find(out.begin(), out.end(), tld) == out.end()) out.push_back(tld);
        };
        for (const Zone& z : local_zones()) add(z);
        for (const Zone& z : special_use()) add(z);
        for (const Zone* z : {&localhost(), &rev4_apex(), &rev6_one()}) add(*z);
        return out;
    }();
    const std::string_view tld = top_label(q.qname_lower.view());
    return !tld.empty() && std::find(tlds.begin(), tlds.end(), tld) != tlds.end();
}

} // namespace kresd::policy
