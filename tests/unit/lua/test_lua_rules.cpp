// Lua-function rules and actions, views and rule management through the
// Engine: what a Knot Resolver 5.6 config writes reaches the typed policy,
// and the per-query Lua calls see the query and the client.
#include "engine_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

using namespace kresd;

namespace {

dns::Query query_for(const char* name, uint16_t type = dns::type::A) {
    dns::Query q;
    REQUIRE(dns::name_from_text(name, q.qname));
    q.qname_lower = q.qname;
    dns::name_lower(q.qname_lower);
    q.qtype = type;
    q.qclass = dns::klass::IN;
    return q;
}

struct Client {
    sockaddr_in src{}, dst{};
    policy::Client c;
    explicit Client(const char* from, bool tcp = false) {
        src.sin_family = dst.sin_family = AF_INET;
        inet_pton(AF_INET, from, &src.sin_addr);
        src.sin_port = htons(40000);
        inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
        dst.sin_port = htons(53);
        c.src = reinterpret_cast<const sockaddr*>(&src);
        c.dst = reinterpret_cast<const sockaddr*>(&dst);
        c.tcp = tcp;
    }
};

struct Result {
    policy::ActionKind kind;
    std::string message;
};

Result decide(test::Fixture& f, const char* name, const Client& client,
              uint16_t type = dns::type::A) {
    const resolve::RequestOptions defaults;
    const auto q = query_for(name, type);
    auto d = f.policy.evaluate(q, defaults, client.c);
    if (f.policy.has_views() && policy::Policy::views_apply(d))
        f.policy.evaluate_views(q, client.c, d);
    return {d.final, d.action ? d.action->message : std::string()};
}

} // namespace

TEST_CASE("lua rules: a filter function sees the query and the client", "[lua][policy]") {
    test::Fixture f;
    REQUIRE(f.run("policy.add(function(req, query)\n"
                  "  if query:name() ~= todname('fn.example.') then return nil end\n"
                  "  return policy.DENY_MSG(string.format('%s %s %d %d %s %s',\n"
                  "    tostring(req.qsource.addr), tostring(req.qsource.dst_addr),\n"
                  "    query.stype, query.sclass, tostring(req.qsource.flags.tcp),\n"
                  "    kres.dname2str(req:current():name())))\n"
                  "end)\n") == "");
    const auto r = decide(f, "FN.example.", Client("192.0.2.7", true), dns::type::AAAA);
    CHECK(r.kind == policy::ActionKind::deny);
    CHECK(r.message == "192.0.2.7#40000 127.0.0.1#53 28 1 true fn.example.");
    CHECK(decide(f, "other.example.", Client("192.0.2.7")).kind == policy::ActionKind::pass);
    CHECK(f.policy.rules()[0].count == 1);
}

TEST_CASE("lua rules: custom actions, chain, FAIL with EDE, errors", "[lua][policy]") {
    test::Fixture f;
    REQUIRE(f.run("calls = 0\n"
                  "policy.add(policy.all(function(state, req) calls = calls + 1 end))\n"
                  "policy.add(policy.suffix(function(state, req)\n"
                  "  req:set_extended_error(kres.extended_error.CENSORED, 'why')\n"
                  "  return kres.FAIL end, {todname('fail.example.')}))\n"
                  "policy.add(policy.suffix(function(state, req) return kres.DONE end,\n"
                  "  {todname('done.example.')}))\n"
                  "policy.add(policy.suffix(function(state, req) return state end,\n"
                  "  {todname('pass.example.')}))\n"
                  "policy.add(function(req, query)\n"
                  "  if query:name() == todname('err.example.') then error('boom') end end)\n") ==
            "");
    const Client c("192.0.2.1");
    const resolve::RequestOptions defaults;
    auto d = f.policy.evaluate(query_for("fail.example."), defaults, c.c);
    CHECK(d.final == policy::ActionKind::fail);
    REQUIRE(d.action != nullptr);
    CHECK(d.action->ede == 16);
    CHECK(d.action->ede_text == "why");
    CHECK(decide(f, "done.example.", c).kind == policy::ActionKind::done);
    CHECK(decide(f, "pass.example.", c).kind == policy::ActionKind::pass);
    CHECK(decide(f, "err.example.", c).kind == policy::ActionKind::fail); // SERVFAIL, as 5.6
    CHECK(decide(f, "nothing.example.", c).kind == policy::ActionKind::pass);
    CHECK(f.engine->eval("calls") == "5");
}

TEST_CASE("lua rules: policy.add's {id, count}, policy.del, policy.rules, domains",
          "[lua][policy]") {
    test::Fixture f;
    REQUIRE(f.run("a = policy.add(policy.domains(policy.REFUSE, {todname('x.example.')}))\n"
                  "b = policy.add(policy.all(policy.DENY), true)\n"
                  "c = policy:add(policy.all(policy.PASS))\n") == "");
    CHECK(f.engine->eval("a.id") == "0");
    CHECK(f.engine->eval("b.id") == "1");
    CHECK(f.engine->eval("c.id") == "2");
    CHECK(f.engine->eval("#policy.rules .. ' ' .. #policy.postrules") == "'2 1'");
    CHECK(decide(f, "x.example.", Client("192.0.2.1")).kind == policy::ActionKind::refuse);
    CHECK(decide(f, "y.x.example.", Client("192.0.2.1")).kind == policy::ActionKind::pass);
    CHECK(f.engine->eval("a.count") == "1");
    CHECK(f.engine->eval("policy.del(a.id)") == "true");
    CHECK(f.engine->eval("policy.del(a.id)") == "false");
    CHECK(f.engine->eval("policy.rules[1].id") == "2");
    CHECK(f.engine->eval("policy.del(b.id)") == "true");
    CHECK(f.policy.postrules().empty());
}

TEST_CASE("lua rules: views through modules.load('view')", "[lua][policy][view]") {
    test::Fixture f;
    CHECK_THAT(f.run("view:addr('127.0.0.2', policy.all(policy.DENY))\n"),
               Catch::Contains("view")); // not loaded yet: `view` is nil
    REQUIRE(f.run("modules.load('view')\n"
                  "view:addr('127.0.0.2', policy.all(policy.DENY_MSG('two')))\n"
                  "view:addr('10.0.0.0/8', function(req, q) return policy.REFUSE end)\n"
                  "view:addr('2001:db8::/32', policy.all(policy.DROP))\n"
                  "view:tsig('\\5mykey\\0', policy.all(policy.TC))\n"
                  "policy.add(view.rule_src(policy.DENY_MSG('src'), '192.0.2.0/25'))\n") == "");
    CHECK(f.policy.addr_views().size() == 3);
    CHECK(f.policy.tsig_views().size() == 1);
    CHECK(decide(f, "a.example.", Client("127.0.0.2")).message == "two");
    CHECK(decide(f, "a.example.", Client("127.0.0.3")).kind == policy::ActionKind::pass);
    CHECK(decide(f, "a.example.", Client("10.1.2.3")).kind == policy::ActionKind::refuse);
    CHECK(decide(f, "a.example.", Client("192.0.2.100")).message == "src");
    CHECK(decide(f, "a.example.", Client("192.0.2.200")).kind == policy::ActionKind::pass);
    CHECK_THAT(f.run("view:addr('10.0.0.0/33', policy.all(policy.DENY))\n"),
               Catch::Contains("failed to parse subnet"));
    CHECK_THAT(f.run("view:addr('10.0.0.0/8', 'DENY')\n"), Catch::Contains("view:addr"));
}

TEST_CASE("lua rules: the kres table", "[lua]") {
    test::Fixture f;
    CHECK(f.engine->eval("require('kres') == kres") == "true");
    CHECK(f.engine->eval("kres.type.HTTPS") == "65");
    CHECK(f.engine->eval("kres.tostring.rcode[3]") == "'NXDOMAIN'");
    CHECK(f.engine->eval("kres.dname2str(kres.str2dname('A.b.'))") == "'a.b.'");
    CHECK(f.engine->eval("#kres.str2ip('::1')") == "16");
    CHECK(f.engine->eval("kres.str2ip('nope') == nil") == "true");
}
