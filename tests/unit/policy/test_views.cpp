// View rules (view:addr, view:tsig), rule ids, policy.del, exact-name
// rules and Lua rules through fake hooks: the policy side of Knot
// Resolver 5.6's view module and function rules.
#include "catch.hpp"

#include "policy/policy.hpp"
#include "policy/subnet.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>

using namespace kresd;

namespace {

const resolve::RequestOptions kNoOptions{};

dns::Query query_for(const char* name) {
    dns::Query q;
    REQUIRE(dns::name_from_text(name, q.qname));
    q.qname_lower = q.qname;
    dns::name_lower(q.qname_lower);
    q.qtype = dns::type::A;
    q.qclass = dns::klass::IN;
    return q;
}

dns::Name name(const char* text) {
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    return n;
}

struct Addr {
    sockaddr_storage ss{};
    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

Addr addr(const char* text) {
    Addr a;
    auto* in = reinterpret_cast<sockaddr_in*>(&a.ss);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
    } else {
        REQUIRE(inet_pton(AF_INET6, text, &in6->sin6_addr) == 1);
        in6->sin6_family = AF_INET6;
    }
    return a;
}

policy::Subnet subnet(const char* text) {
    auto s = policy::Subnet::parse(text);
    REQUIRE(s);
    return *s;
}

policy::Rule all(policy::ActionKind a) {
    policy::Rule r;
    r.filter = policy::FilterKind::all;
    r.action.kind = a;
    return r;
}

policy::ActionKind decide(const policy::Policy& p, const char* qname, const char* client,
                          std::span<const uint8_t> tsig = {}) {
    const auto q = query_for(qname);
    const Addr a = addr(client);
    policy::Client c;
    c.src = a.sa();
    c.tsig_key = tsig;
    auto d = p.evaluate(q, kNoOptions, c);
    if (p.has_views() && policy::Policy::views_apply(d)) p.evaluate_views(q, c, d);
    return d.final;
}

} // namespace

TEST_CASE("subnet: v4 and v6 prefixes, hosts, bad input", "[policy][view]") {
    using policy::SubnetKey;
    auto s = subnet("192.0.2.0/24");
    CHECK(s.contains(SubnetKey::of(addr("192.0.2.77").sa())));
    CHECK_FALSE(s.contains(SubnetKey::of(addr("192.0.3.1").sa())));
    CHECK_FALSE(s.contains(SubnetKey::of(addr("::ffff:192.0.2.77").sa()))); // another family
    CHECK(subnet("192.0.2.99/24").to_string() == "192.0.2.0/24");           // host bits dropped
    CHECK(subnet("127.0.0.2").contains(SubnetKey::of(addr("127.0.0.2").sa())));
    CHECK_FALSE(subnet("127.0.0.2").contains(SubnetKey::of(addr("127.0.0.3").sa())));
    CHECK(subnet("0.0.0.0/0").contains(SubnetKey::of(addr("203.0.113.9").sa())));
    CHECK_FALSE(subnet("0.0.0.0/0").contains(SubnetKey::of(addr("::1").sa())));

    auto v6 = subnet("2001:db8:aa00::/40");
    CHECK(v6.contains(SubnetKey::of(addr("2001:db8:aaff::1").sa())));
    CHECK_FALSE(v6.contains(SubnetKey::of(addr("2001:db8:ab00::1").sa())));
    auto v6long = subnet("2001:db8::1:0/112"); // a prefix beyond the first 64 bits
    CHECK(v6long.contains(SubnetKey::of(addr("2001:db8::1:ffff").sa())));
    CHECK_FALSE(v6long.contains(SubnetKey::of(addr("2001:db8::2:0").sa())));
    CHECK(subnet("::/0").contains(SubnetKey::of(addr("::1").sa())));
    CHECK(subnet("::1").contains(SubnetKey::of(addr("::1").sa())));

    CHECK_FALSE(policy::Subnet::parse("192.0.2.0/33"));
    CHECK_FALSE(policy::Subnet::parse("2001:db8::/129"));
    CHECK_FALSE(policy::Subnet::parse("192.0.2.0/"));
    CHECK_FALSE(policy::Subnet::parse("example.com"));
    CHECK_FALSE(policy::SubnetKey::of(nullptr).family);
}

TEST_CASE("views: without views everyone is answered", "[policy][view]") {
    policy::Policy p;
    CHECK_FALSE(p.has_views());
    CHECK(decide(p, "a.example.", "192.0.2.1") == policy::ActionKind::pass);
}

TEST_CASE("views: switched off and on again keep their rules (modules.unload/load)",
          "[policy][view]") {
    policy::Policy p;
    p.add_view(subnet("127.0.0.2/32"), all(policy::ActionKind::deny), false);
    p.set_views_on(false);
    CHECK_FALSE(p.has_views());
    CHECK(decide(p, "a.example.", "127.0.0.2") == policy::ActionKind::pass);
    p.set_views_on(true);
    CHECK(p.has_views());
    CHECK(decide(p, "a.example.", "127.0.0.2") == policy::ActionKind::deny);
}

TEST_CASE("views: a subnet's rule applies to its clients only, v4 and v6", "[policy][view]") {
    policy::Policy p;
    p.add_view(subnet("127.0.0.2/32"), all(policy::ActionKind::deny), false);
    p.add_view(subnet("2001:db8::/32"), all(policy::ActionKind::refuse), false);
    CHECK(p.has_views());
    CHECK(decide(p, "a.example.", "127.0.0.2") == policy::ActionKind::deny);
    CHECK(decide(p, "a.example.", "127.0.0.3") == policy::ActionKind::pass);
    CHECK(decide(p, "a.example.", "2001:db8::53") == policy::ActionKind::refuse);
    CHECK(decide(p, "a.example.", "2001:db9::53") == policy::ActionKind::pass);
}

TEST_CASE("views: the first matching view in the order added decides, as in 5.6",
          "[policy][view]") {
    // Knot Resolver 5.6 tries view:addr rules in the order they were added
    // (not the most specific subnet first): a wide rule added before a
    // narrow one shadows it.
    policy::Policy p;
    p.add_view(subnet("127.0.0.2/32"), all(policy::ActionKind::pass), false);
    p.add_view(subnet("127.0.0.0/8"), all(policy::ActionKind::deny), false);
    p.add_view(subnet("127.0.0.3/32"), all(policy::ActionKind::refuse), false);
    CHECK(decide(p, "a.example.", "127.0.0.2") == policy::ActionKind::pass);
    CHECK(decide(p, "a.example.", "127.0.0.3") == policy::ActionKind::deny); // shadowed
    CHECK(decide(p, "a.example.", "10.0.0.1") == policy::ActionKind::pass);
}

TEST_CASE("views: chain actions go on to the next matching view", "[policy][view]") {
    policy::Policy p;
    auto flags = all(policy::ActionKind::flags);
    flags.action.set_flags = {"NO_CACHE"};
    p.add_view(subnet("127.0.0.0/8"), flags, false);
    policy::Rule suffix;
    suffix.filter = policy::FilterKind::suffix;
    suffix.names = {name("bad.example.")};
    suffix.action.kind = policy::ActionKind::deny;
    p.add_view(subnet("127.0.0.0/8"), suffix, false); // a filter that does not match: next
    p.add_view(subnet("127.0.0.4/32"), all(policy::ActionKind::refuse), false);

    const auto q = query_for("a.example.");
    const Addr a = addr("127.0.0.4");
    policy::Client c;
    c.src = a.sa();
    auto d = p.evaluate(q, kNoOptions, c);
    p.evaluate_views(q, c, d);
    CHECK(d.final == policy::ActionKind::refuse);
    CHECK(d.options().no_cache);
    CHECK(decide(p, "x.bad.example.", "127.0.0.9") == policy::ActionKind::deny);
}

TEST_CASE("views: policy rules come first; PASS and FORWARD leave the views their turn",
          "[policy][view]") {
    policy::Policy p;
    policy::Rule pass;
    pass.filter = policy::FilterKind::suffix;
    pass.names = {name("pass.example.")};
    pass.action.kind = policy::ActionKind::pass;
    p.add(pass);
    policy::Rule refuse = pass;
    refuse.names = {name("refuse.example.")};
    refuse.action.kind = policy::ActionKind::refuse;
    p.add(refuse);
    p.add_view(subnet("127.0.0.0/8"), all(policy::ActionKind::deny), false);
    CHECK(decide(p, "pass.example.", "127.0.0.1") == policy::ActionKind::deny);
    CHECK(decide(p, "refuse.example.", "127.0.0.1") == policy::ActionKind::refuse);
}

TEST_CASE("views: destination views never match a client's query (5.6)", "[policy][view]") {
    policy::Policy p;
    p.add_view(subnet("0.0.0.0/0"), all(policy::ActionKind::deny), true);
    CHECK(p.dst_views().size() == 1);
    CHECK(decide(p, "a.example.", "127.0.0.1") == policy::ActionKind::pass);
}

TEST_CASE("views: TSIG views by key name come before the address views", "[policy][view]") {
    policy::Policy p;
    p.add_view(subnet("0.0.0.0/0"), all(policy::ActionKind::deny), false);
    p.add_tsig_view(name("mykey."), all(policy::ActionKind::refuse));
    const auto key = name("mykey.");
    const auto other = name("other.");
    CHECK(decide(p, "a.example.", "127.0.0.1", key.view()) == policy::ActionKind::refuse);
    CHECK(decide(p, "a.example.", "127.0.0.1", other.view()) == policy::ActionKind::deny);
    CHECK(decide(p, "a.example.", "127.0.0.1") == policy::ActionKind::deny);
}

TEST_CASE("views: twenty subnets stay a cheap scan", "[policy][view]") {
    policy::Policy p;
    for (int i = 0; i < 20; ++i) {
        const std::string s = "10." + std::to_string(i) + ".0.0/16";
        p.add_view(subnet(s.c_str()),
                   all(i == 13 ? policy::ActionKind::refuse : policy::ActionKind::deny), false);
    }
    CHECK(decide(p, "a.example.", "10.13.200.1") == policy::ActionKind::refuse);
    CHECK(decide(p, "a.example.", "10.19.0.1") == policy::ActionKind::deny);
    CHECK(decide(p, "a.example.", "10.20.0.1") == policy::ActionKind::pass);
}

TEST_CASE("policy: ids, del, counts, postrules kept apart", "[policy]") {
    policy::Policy p;
    const auto a = p.add(all(policy::ActionKind::deny));
    const auto b = p.add(all(policy::ActionKind::refuse));
    const auto post = p.add(all(policy::ActionKind::drop), true);
    CHECK(a != b);
    CHECK(p.rules().size() == 2);
    CHECK(p.postrules().size() == 1);
    CHECK(p.evaluate(query_for("x."), kNoOptions).final == policy::ActionKind::deny);
    CHECK(p.rules()[0].count == 1);
    CHECK(p.rules()[1].count == 0);
    CHECK(p.del(a));
    CHECK_FALSE(p.del(a));
    CHECK(p.evaluate(query_for("x."), kNoOptions).final == policy::ActionKind::refuse);
    CHECK(p.del(post));
    CHECK(p.postrules().empty());
}

TEST_CASE("policy: domains matches exact names only", "[policy]") {
    policy::Policy p;
    policy::Rule r;
    r.filter = policy::FilterKind::domains;
    r.names = {name("exact.example.")};
    r.action.kind = policy::ActionKind::deny;
    p.add(r);
    CHECK(p.evaluate(query_for("EXACT.example."), kNoOptions).final == policy::ActionKind::deny);
    CHECK(p.evaluate(query_for("www.exact.example."), kNoOptions).final ==
          policy::ActionKind::pass);
}

TEST_CASE("policy: Lua rules run through the hooks, in rule order", "[policy][lua]") {
    policy::Policy p;
    int filter_calls = 0, action_calls = 0;
    policy::Action refuse;
    refuse.kind = policy::ActionKind::refuse;
    policy::Action fail;
    fail.kind = policy::ActionKind::fail;
    fail.ede = 15;
    fail.ede_text = "by a function";
    p.set_lua_hooks(policy::LuaHooks{
        [&](int ref, const dns::Query& q, const policy::Client& c) -> const policy::Action* {
            ++filter_calls;
            CHECK(ref == 7);
            CHECK(c.src != nullptr);
            return dns::name_in_zone(q.qname_lower.view(), name("fn.example.").view()) ? &refuse
                                                                                       : nullptr;
        },
        [&](int ref, const dns::Query&, const policy::Client&) -> const policy::Action* {
            ++action_calls;
            return ref == 9 ? &fail : nullptr; // 8: a chain action (nil)
        }});
    policy::Rule suffix;
    suffix.filter = policy::FilterKind::suffix;
    suffix.names = {name("first.example.")};
    suffix.action.kind = policy::ActionKind::deny;
    p.add(suffix);
    policy::Rule fn;
    fn.filter = policy::FilterKind::lua;
    fn.lua_ref = 7;
    p.add(fn);
    policy::Rule chain = all(policy::ActionKind::lua);
    chain.action.lua_ref = 8;
    p.add(chain);
    policy::Rule custom = all(policy::ActionKind::lua);
    custom.action.lua_ref = 9;
    p.add(custom);

    CHECK(decide(p, "a.first.example.", "127.0.0.1") == policy::ActionKind::deny);
    CHECK(filter_calls == 0); // an earlier rule decided: no Lua call
    CHECK(decide(p, "a.fn.example.", "127.0.0.1") == policy::ActionKind::refuse);
    CHECK(filter_calls == 1);
    CHECK(action_calls == 0);
    const auto q = query_for("other.example.");
    const Addr a = addr("127.0.0.1");
    policy::Client c;
    c.src = a.sa();
    auto d = p.evaluate(q, kNoOptions, c);
    CHECK(d.final == policy::ActionKind::fail);
    REQUIRE(d.action != nullptr);
    CHECK(d.action->ede_text == "by a function");
    CHECK(action_calls == 2); // the chain, then the failing one
}

TEST_CASE("policy: a custom action's FAIL is SERVFAIL with its EDE; DONE is empty",
          "[policy][lua]") {
    const auto q = [] {
        auto q = query_for("a.example.");
        q.edns.present = true;
        return q;
    }();
    std::array<uint8_t, 512> buf{};
    dns::ResponseBuilder b(buf, buf.size());
    REQUIRE(b.begin(q, dns::rcode::NOERROR, 80));
    policy::Action fail;
    fail.kind = policy::ActionKind::fail;
    fail.ede = 15;
    fail.ede_text = "xx";
    CHECK(policy::write_answer(policy::ActionKind::fail, &fail, q, b));
    CHECK(b.rcode() == dns::rcode::SERVFAIL);
    const size_t n = b.finish(1232);
    const std::array<uint8_t, 8> ede = {0, 15, 0, 4, 0, 15, 'x', 'x'};
    CHECK(std::search(buf.begin(), buf.begin() + n, ede.begin(), ede.end()) != buf.begin() + n);

    dns::ResponseBuilder b2(buf, buf.size());
    REQUIRE(b2.begin(q, dns::rcode::NOERROR, 80));
    CHECK(policy::write_answer(policy::ActionKind::done, nullptr, q, b2));
    CHECK(b2.rcode() == dns::rcode::NOERROR);
}

TEST_CASE("dns: the TSIG owner is found and read, compressed or not", "[policy][view]") {
    // A query for a.example A with a (fake) TSIG record owned by MyKey.
    std::vector<uint8_t> w = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
    const uint8_t qname[] = {1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1};
    w.insert(w.end(), std::begin(qname), std::end(qname));
    const size_t owner = w.size();
    const uint8_t tsig[] = {5, 'M', 'y', 'K', 'e', 'y', 0xc0, 14, // MyKey + pointer to example.
                            0, 250, 0,   255, 0,   0,   0,    0,  0, 1, 0xab};
    w.insert(w.end(), std::begin(tsig), std::end(tsig));
    dns::Query q;
    REQUIRE(dns::parse_query(w, q) == dns::ParseStatus::ok);
    CHECK(q.tsig_owner == owner);
    dns::Name n;
    REQUIRE(dns::read_name_at(w, q.tsig_owner, n));
    CHECK(dns::name_to_text(n.view()) == "mykey.example.");
}
