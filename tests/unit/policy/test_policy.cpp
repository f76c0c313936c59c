#include "catch.hpp"

#include "policy/policy.hpp"
#include "policy/special_names.hpp"

#include <array>

using namespace kresd;

namespace {

const resolve::RequestOptions kNoOptions{}; // outlives every Decision below

dns::Query query_for(const char* name)
{
    dns::Query q;
    REQUIRE(dns::name_from_text(name, q.qname));
    q.qname_lower = q.qname;
    dns::name_lower(q.qname_lower);
    q.qtype = dns::type::A;
    q.qclass = dns::klass::IN;
    return q;
}

dns::Name name(const char* text)
{
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    return n;
}

policy::Rule rule(policy::FilterKind f, policy::ActionKind a, std::vector<dns::Name> names = {})
{
    policy::Rule r;
    r.filter = f;
    r.action.kind = a;
    r.names = std::move(names);
    return r;
}

} // namespace

TEST_CASE("policy: no rules means pass with the defaults", "[policy]")
{
    policy::Policy p;
    resolve::RequestOptions defaults;
    defaults.no_minimize = true;
    auto d = p.evaluate(query_for("example.com."), defaults);
    CHECK(d.final == policy::ActionKind::pass);
    CHECK(d.options().no_minimize);
}

TEST_CASE("policy: suffix matches the name and below, label-wise", "[policy]")
{
    policy::Policy p;
    p.add(rule(policy::FilterKind::suffix, policy::ActionKind::deny, {name("bad.test.")}));
    CHECK(p.evaluate(query_for("bad.test."), kNoOptions).final == policy::ActionKind::deny);
    CHECK(p.evaluate(query_for("www.BAD.test."), kNoOptions).final == policy::ActionKind::deny);
    CHECK(p.evaluate(query_for("notbad.test."), kNoOptions).final == policy::ActionKind::pass);
    CHECK(p.evaluate(query_for("test."), kNoOptions).final == policy::ActionKind::pass);
}

TEST_CASE("policy: first final rule wins, chain actions accumulate", "[policy]")
{
    policy::Policy p;
    policy::Rule flags = rule(policy::FilterKind::all, policy::ActionKind::flags);
    flags.action.set_flags = {"NO_MINIMIZE", "ALLOW_LOCAL"};
    p.add(flags);
    p.add(rule(policy::FilterKind::all, policy::ActionKind::debug));
    policy::Rule fwd = rule(policy::FilterKind::suffix, policy::ActionKind::forward, {name("test.")});
    auto a = resolve::parse_address("127.0.0.1@5300");
    REQUIRE(a);
    fwd.action.targets = {*a};
    p.add(fwd);
    p.add(rule(policy::FilterKind::all, policy::ActionKind::refuse));

    auto d = p.evaluate(query_for("a.test."), kNoOptions);
    CHECK(d.final == policy::ActionKind::forward);
    CHECK(d.options().no_minimize);
    CHECK(d.options().allow_local);
    CHECK(d.options().debug);
    REQUIRE(d.options().forward.size() == 1);
    CHECK_FALSE(d.options().stub);

    auto other = p.evaluate(query_for("example.org."), kNoOptions);
    CHECK(other.final == policy::ActionKind::refuse);
    CHECK(other.options().forward.empty());
}

TEST_CASE("policy: suffix_common needs the common suffix too", "[policy]")
{
    policy::Policy p;
    policy::Rule r = rule(policy::FilterKind::suffix_common, policy::ActionKind::drop,
                          {name("a.example."), name("b.example.")});
    r.common = name("example.");
    p.add(r);
    CHECK(p.evaluate(query_for("x.a.example."), kNoOptions).final == policy::ActionKind::drop);
    CHECK(p.evaluate(query_for("x.c.example."), kNoOptions).final == policy::ActionKind::pass);
}

TEST_CASE("policy: pattern rules use the supplied matcher", "[policy]")
{
    policy::Policy p;
    policy::Rule r = rule(policy::FilterKind::pattern, policy::ActionKind::tc);
    r.pattern = "ads";
    p.add(r);
    CHECK(p.evaluate(query_for("ads.example."), kNoOptions).final == policy::ActionKind::pass); // no matcher
    p.set_pattern_matcher([](const std::string& pat, std::span<const uint8_t> wire) {
        std::string s(wire.begin(), wire.end());
        return s.find(pat) != std::string::npos;
    });
    CHECK(p.evaluate(query_for("ads.example."), kNoOptions).final == policy::ActionKind::tc);
    CHECK(p.evaluate(query_for("www.example."), kNoOptions).final == policy::ActionKind::pass);
}

// maybe_special() lets the worker skip answer_special(): it must say yes for
// every name that answers.
TEST_CASE("policy: maybe_special covers every special-use zone", "[policy]")
{
    for (const char* n : {"localhost.", "a.b.LocalHost.", "1.0.0.127.in-addr.arpa.",
                          "127.in-addr.arpa.",
                          "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                          "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
                          "x.test.", "invalid.", "abc.onion.", "x.Local.", "1.10.in-addr.arpa.",
                          "5.20.172.in-addr.arpa.", "x.d.f.ip6.arpa.", "arpa.", "x.home.arpa."}) {
        INFO(n);
        CHECK(policy::maybe_special(query_for(n)));
    }
    for (const char* n : {"example.com.", "n1.bulk.sim.", "localhost.example.", "test.com.",
                          "onion.org.", "local.example.", "locals.", "."}) {
        INFO(n);
        CHECK_FALSE(policy::maybe_special(query_for(n)));
    }
    // Every name answer_special() answers passes it.
    std::array<uint8_t, 512> buf{};
    for (const char* n : {"localhost.", "x.localhost.", "1.0.0.127.in-addr.arpa.", "x.test.",
                          "x.invalid.", "x.onion.", "x.local.", "home.arpa.",
                          "4.3.2.10.in-addr.arpa.", "x.b.e.f.ip6.arpa.",
                          "1.2.0.192.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."}) {
        INFO(n);
        const dns::Query q = query_for(n);
        dns::ResponseBuilder b(buf, buf.size());
        REQUIRE(b.begin(q, 0));
        CHECK(policy::answer_special(q, b));
        CHECK(policy::maybe_special(q));
    }
}
