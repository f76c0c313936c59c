// mode() (Knot Resolver 5): which glue of a referral classify() takes.
#include "catch.hpp"
#include "resolve/classify.hpp"
#include "resolve/names.hpp"

using namespace kresd;
using namespace kresd::resolve;

namespace {

dns::Name name(const char* text)
{
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    return n;
}

Record rr(const char* owner, uint16_t type, std::vector<uint8_t> rdata)
{
    return {name(owner), type, dns::klass::IN, 3600, std::move(rdata)};
}

std::vector<uint8_t> wire_of(const char* text)
{
    const dns::Name n = name(text);
    return {n.wire.begin(), n.wire.begin() + n.len};
}

// A referral from com. to example.com. with three NS names: one inside the
// child (glue needed), one elsewhere in com. and one in net. (outside the
// zone asked), each with glue in the additional section.
std::vector<std::string> glue_taken(GlueMode mode)
{
    Message m;
    m.qr = true;
    m.has_question = true;
    m.qname = name("www.example.com.");
    m.qtype = dns::type::A;
    m.qclass = dns::klass::IN;
    for (const char* ns : {"ns1.example.com.", "ns.other.com.", "ns.other.net."})
        m.authority.push_back(rr("example.com.", dns::type::NS, wire_of(ns)));
    m.additional.push_back(rr("ns1.example.com.", dns::type::A, {192, 0, 2, 1}));
    m.additional.push_back(rr("ns.other.com.", dns::type::A, {192, 0, 2, 2}));
    m.additional.push_back(rr("ns.other.net.", dns::type::A, {192, 0, 2, 3}));
    AskContext ctx;
    ctx.zone = name("com.");
    ctx.sname = name("www.example.com.");
    ctx.qtype = dns::type::A;
    ctx.qclass = dns::klass::IN;
    ctx.qname_sent = ctx.sname;
    ctx.qtype_sent = ctx.qtype;
    ctx.glue = mode;
    const Classified c = classify(m, ctx);
    REQUIRE(c.verdict == Verdict::referral);
    std::vector<std::string> out;
    for (const Record& g : c.glue)
        out.push_back(names::text(g.owner));
    return out;
}

} // namespace

TEST_CASE("mode(): strict takes only needed glue, normal in-zone glue, permissive any",
          "[resolve][classify]")
{
    using v = std::vector<std::string>;
    CHECK(glue_taken(GlueMode::strict) == v{"ns1.example.com."});
    CHECK(glue_taken(GlueMode::normal) == v{"ns1.example.com.", "ns.other.com."});
    CHECK(glue_taken(GlueMode::permissive) ==
          v{"ns1.example.com.", "ns.other.com.", "ns.other.net."});
}
