// The Lua engine driven directly: config errors, the sandbox forms, the
// prompt's formatting, module ordering. No sockets are bound here.
#include "catch.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <unistd.h>

#include "lua/engine_fixture.hpp"

using namespace kresd;

using kresd::test::Fixture;

TEST_CASE("engine: config errors name the file and line", "[lua]")
{
    Fixture f;
    CHECK(f.run("x = 1\n") == "");
    CHECK_THAT(f.run("x = 1\ny = = 2\n"), Catch::Contains("CONFIG:2:"));
    CHECK_THAT(f.run("\n\nnosuch_function()\n"), Catch::Contains("CONFIG:3:"));
    CHECK_THAT(f.run("\nmodules.load('no_such_module')\n"),
               Catch::Contains("CONFIG:2:") && Catch::Contains("no such module"));
    CHECK_THAT(f.run("net.listen('not-an-address', 5353)\n"),
               Catch::Contains("CONFIG:1:") && Catch::Contains("not-an-address"));
    CHECK_THAT(f.run("option('NO_SUCH_OPTION', true)\n"), Catch::Contains("NO_SUCH_OPTION"));
    CHECK_THAT(f.run("net.listen('127.0.0.1', 70000)\n"), Catch::Contains("70000"));
    CHECK_THAT(f.run("net.listen('127.0.0.1', 5353, {kind = 'bogus'})\n"),
               Catch::Contains("bogus"));
}

TEST_CASE("engine: panic() stops the config with its message", "[lua]")
{
    Fixture f;
    auto err = f.run("local i = 'foo'\nif i ~= 'dns' then\n  panic('bad instance %s', i)\nend\n");
    CHECK_THAT(err, Catch::Contains("CONFIG:3:") && Catch::Contains("bad instance foo"));
    CHECK(err.find("prelude") == std::string::npos); // the user's line, not the helper's
    CHECK(err.find("CONFIG:3:") == 0);
}

TEST_CASE("engine: undefined globals read as nil", "[lua]")
{
    Fixture f;
    CHECK(f.run("if ta_update then error('set?') end\nassert(cache_size == nil)\n") == "");
}

TEST_CASE("engine: constants, env, worker, todname", "[lua]")
{
    Fixture f;
    CHECK(f.run("assert(kB == 1024 and MB == 1024 * kB and GB == 1024 * MB)\n"
                "assert(sec == 1000 and minute == 60 * sec and hour == 60 * minute)\n"
                "assert(env.PATH == os.getenv('PATH'))\n"
                "assert(worker.id == 'unit1')\n"
                "assert(type(worker.pid) == 'number')\n"
                "assert(todname('example.com') == '\\7example\\3com\\0')\n"
                "assert(todname('.') == '\\0')\n") == "");
    CHECK_THAT(f.run("todname('a..b')\n"), Catch::Contains("todname"));
}

TEST_CASE("engine: modules table form and ordering syntax", "[lua]")
{
    Fixture f;
    CHECK(f.run("modules = {'stats'}\nmodules.load('nsid < stats')\n") == "");
    CHECK(f.mods.list() == std::vector<std::string>{"nsid", "stats"});
    CHECK(f.run("modules.unload('nsid')\nmodules.load('nsid > stats')\n") == "");
    CHECK(f.mods.list() == std::vector<std::string>{"stats", "nsid"});
    CHECK_THAT(f.run("modules.unload('nsid')\nmodules.load('nsid > nosuch')\n"),
               Catch::Contains("not loaded"));
    CHECK(f.run("modules.load('nsid')\n") == "");
    CHECK(f.run("assert(nsid.name('x') == 'x')\nassert(nsid.name() == 'x')\n") == "");
}

TEST_CASE("engine: options and net settings", "[lua]")
{
    Fixture f;
    CHECK(f.run("assert(option('NO_MINIMIZE') == false)\n"
                "option('NO_MINIMIZE', true)\n"
                "assert(option('NO_MINIMIZE') == true)\n"
                "net.ipv6 = false\nassert(net.ipv6 == false)\nassert(option('NO_IPV6'))\n"
                "assert(net.bufsize(4096) == 4096)\n"
                "assert(net.outgoing_v4('127.0.0.2') == '127.0.0.2')\n") == "");
    CHECK(f.engine->settings().options["NO_MINIMIZE"]);
    CHECK_FALSE(f.engine->settings().ipv6);
    CHECK(f.engine->settings().edns_bufsize == 4096);
    CHECK_THAT(f.run("net.bufsize(100)\n"), Catch::Contains("512-65535"));
    CHECK_THAT(f.run("net.outgoing_v6('127.0.0.1')\n"), Catch::Contains("IPv6"));
}

TEST_CASE("engine: the prompt formats like Knot Resolver's", "[lua]")
{
    Fixture f;
    CHECK(f.engine->eval("worker.id") == "'unit1'");
    CHECK(f.engine->eval("1+1") == "2");
    CHECK(f.engine->eval("x = 5") == "");
    CHECK(f.engine->eval("x") == "5");
    CHECK(f.engine->eval("{1, 'a', k = true}") == "{\n    1,\n    'a',\n    ['k'] = true,\n}");
    CHECK_THAT(f.engine->eval("nosuch()"), Catch::Contains("nosuch"));
    CHECK_THAT(f.engine->eval("help()"), Catch::Contains("net.listen"));
    CHECK_THAT(f.engine->eval("this is not lua"), Catch::Contains("control"));
}

TEST_CASE("engine: policy rules from Knot Resolver 5 configs", "[lua]")
{
    Fixture f;
    CHECK(f.run("policy.add(policy.suffix(policy.DENY, {todname('bad.example.')}))\n"
                "policy:add(policy.suffix(policy.FORWARD({'127.0.0.1@5300', '::1'}),"
                " policy.todnames({'fwd.example'})))\n"
                "policy.add(policy.all(policy.FLAGS({'NO_MINIMIZE'})))\n"
                "policy.add(policy.pattern(policy.DROP, 'ads'))\n"
                "policy.add(policy.suffix_common(policy.TC, {todname('a.x.')}, todname('x.')))\n"
                "policy.add(policy.all(policy.STUB('127.0.0.1')))\n") == "");
    CHECK(f.policy.size() == 6);
    CHECK_THAT(f.run("policy.add(policy.all(policy.FORWARD({'not-an-ip'})))\n"),
               Catch::Contains("not-an-ip"));
    CHECK_THAT(f.run("policy.add(policy.all(policy.FLAGS('NO_SUCH_FLAG')))\n"),
               Catch::Contains("NO_SUCH_FLAG"));
    CHECK_THAT(f.run("policy.add(policy.all('DENY'))\n"), Catch::Contains("policy action"));
    CHECK_THAT(f.run("policy.add(42)\n"), Catch::Contains("policy.add"));
}

TEST_CASE("engine: DENY_MSG(msg, ede) and NO_ANSWER as in Knot Resolver 5.6", "[lua]")
{
    Fixture f;
    CHECK(f.run("policy.add(policy.suffix(policy.DENY_MSG('censored', 16), {todname('c.x.')}))\n"
                "policy.add(policy.suffix(policy.DENY_MSG('why'), {todname('w.x.')}))\n"
                "policy.add(policy.suffix(policy.DENY_MSG(), {todname('d.x.')}))\n"
                "policy.add(policy.suffix(policy.NO_ANSWER, {todname('n.x.')}))\n") == "");
    CHECK(f.policy.size() == 4);
    resolve::RequestOptions defaults;
    auto decide = [&](const char* name) {
        dns::Query q;
        REQUIRE(dns::name_from_text(name, q.qname));
        q.qname_lower = q.qname;
        q.qtype = dns::type::A;
        q.qclass = dns::klass::IN;
        auto d = f.policy.evaluate(q, defaults);
        REQUIRE(d.action != nullptr);
        return std::tuple(d.final, d.action->message, d.action->ede);
    };
    using K = policy::ActionKind;
    CHECK(decide("a.c.x.") == std::tuple(K::deny, std::string("censored"), uint16_t(16)));
    CHECK(decide("w.x.") == std::tuple(K::deny, std::string("why"), uint16_t(15)));
    CHECK(decide("d.x.") == std::tuple(K::deny, std::string(), uint16_t(15)));
    CHECK(std::get<0>(decide("n.x.")) == K::no_answer);
    CHECK_THAT(f.run("policy.DENY_MSG(42)\n"), Catch::Contains("DENY_MSG"));
    CHECK_THAT(f.run("policy.DENY_MSG(string.rep('a', 255))\n"), Catch::Contains("DENY_MSG"));
    CHECK_THAT(f.run("policy.DENY_MSG('x', 'big')\n"), Catch::Contains("DENY_MSG"));
}

TEST_CASE("engine: hints.root and local hints", "[lua]")
{
    Fixture f;
    CHECK(f.run("hints.root({['a.root.lab.'] = '127.53.0.1', ['b.root.lab.'] = {'127.53.0.2', '::1'}})\n"
                "hints['router.lan'] = '192.168.1.1'\n"
                "hints.set('nas.lan 192.168.1.2')\n") == "");
    REQUIRE(f.resolve_config.root_hints.size() == 2);
    size_t addrs = 0;
    for (const auto& [name, list] : f.resolve_config.root_hints) addrs += list.size();
    CHECK(addrs == 3);
    CHECK(f.hints.names.size() == 2);
    CHECK(f.engine->eval("hints.get('router.lan')") == "{\n    '192.168.1.1',\n}");
    CHECK_THAT(f.run("hints.root({['a.'] = 'nope'})\n"), Catch::Contains("nope"));
    CHECK_THAT(f.run("hints.root({})\n"), Catch::Contains("no root servers"));
}

TEST_CASE("engine: cache settings", "[lua]")
{
    Fixture f;
    char dir[] = "/tmp/kresd-unit-cacheXXXXXX";
    REQUIRE(mkdtemp(dir));
    std::string uri = std::string("lmdb://") + dir;
    CHECK(f.run("cache.open(10 * MB, '" + uri + "')\n"
                "assert(cache.size == 10 * MB)\n"
                "assert(cache.current_storage == '" + uri + "')\n"
                "cache.max_ttl(3600)\ncache.min_ttl(10)\n"
                "assert(cache.count() == 0)\n"
                "assert(cache.backends().lmdb)\n"
                "assert(cache.clear().count == 0)\n"
                "cache = {size = 20 * MB}\n"
                "assert(cache.size == 20 * MB)\n") == "");
    REQUIRE(f.cache);
    CHECK(f.cache->max_ttl() == 3600);
    CHECK(f.cache->min_ttl() == 10);
    CHECK_THAT(f.run("cache.open(10, 'lmdb:///tmp')\n"), Catch::Contains("1 MB"));
    CHECK_THAT(f.run("cache.open(10 * MB, 'redis://x')\n"), Catch::Contains("lmdb://"));
    CHECK_THAT(f.run("cache.min_ttl(7200)\n"), Catch::Contains("above"));
    CHECK(f.engine->eval("mode('strict')") == "true"); // as Knot Resolver 5.6 answers
    CHECK(f.engine->eval("mode()") == "'strict'");
    CHECK_THAT(f.engine->eval("mode('bogus')"), Catch::Contains("bogus"));
    f.cache.reset();
    std::filesystem::remove_all(dir);
}

TEST_CASE("engine: hosts files and the other hints functions", "[lua]")
{
    Fixture f;
    char path[] = "/tmp/kresd-unit-hostsXXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path) << "# local names\n"
                           "192.168.1.10  nas.lan  files.LAN\n"
                           "fd00::10      nas.lan\n"
                           "192.168.1.11\n"  // no name: the reading stops here
                           "192.168.1.12  late.lan\n";
    const std::string p(path);
    CHECK(f.engine->eval("hints.add_hosts('" + p + "').result") == "false");
    CHECK(f.engine->eval("hints.get('files.lan')") == "{\n    '192.168.1.10',\n}");
    CHECK(f.engine->eval("hints.get('nas.lan')") == "{\n    '192.168.1.10',\n    'fd00::10',\n}");
    CHECK(f.engine->eval("hints.get('late.lan')").empty()); // nil
    // The PTR of the address names the line's first name, not its alias.
    REQUIRE(f.hints.ptr_target(std::vector<uint8_t>{192, 168, 1, 10}) != nullptr);
    CHECK(*f.hints.ptr_target(std::vector<uint8_t>{192, 168, 1, 10}) ==
          std::vector<uint8_t>{3, 'n', 'a', 's', 3, 'l', 'a', 'n', 0});
    CHECK(f.engine->eval("hints.add_hosts('/nonexistent/hosts').result") == "false");
    CHECK(f.engine->eval("hints.add_hosts('/tmp').result") == "false"); // a directory
    CHECK(f.engine->eval("hints.set('printer.lan 192.168.1.20').result") == "true");
    CHECK(f.engine->eval("hints.del('nas.lan fd00::10').result") == "true");
    CHECK(f.engine->eval("hints.del('nas.lan fd00::10').result") == "false");
    CHECK(f.engine->eval("hints.get('nas.lan')") == "{\n    '192.168.1.10',\n}");
    CHECK(f.engine->eval("hints.del('nas.lan').result") == "true");
    CHECK(f.engine->eval("hints.get('nas.lan')").empty());
    CHECK(f.engine->eval("hints.get()") ==
          "{\n    ['files.lan.'] = {\n        '192.168.1.10',\n    },\n"
          "    ['printer.lan.'] = {\n        '192.168.1.20',\n    },\n}");
    CHECK(f.engine->eval("hints.ttl()") == "5");
    CHECK(f.engine->eval("hints.ttl(3600)") == "3600");
    CHECK(f.hints.ttl == 3600);
    CHECK(f.engine->eval("hints.use_nodata(false).result") == "true");
    CHECK_FALSE(f.hints.use_nodata);
    // config(): forgets the names (keeps the settings), then reads the file.
    CHECK(f.engine->eval("hints.config()") == "0");
    CHECK(f.hints.empty());
    CHECK(f.engine->eval("hints.config('" + p + "')") == "-1");
    CHECK(f.hints.names.size() == 2);
    CHECK(f.hints.ttl == 3600);
    std::ofstream(path) << "192.168.1.12  late.lan\n";
    CHECK(f.engine->eval("hints.config('" + p + "')") == "0");
    CHECK(f.hints.names.size() == 1);
    std::remove(path);
    // Bad arguments are errors that name the function.
    CHECK_THAT(f.run("hints.ttl(-1)\n"), Catch::Contains("hints.ttl"));
    CHECK_THAT(f.run("hints.ttl(1.5)\n"), Catch::Contains("hints.ttl"));
    CHECK_THAT(f.run("hints.ttl('x')\n"), Catch::Contains("hints.ttl"));
    CHECK_THAT(f.run("hints.use_nodata('yes')\n"), Catch::Contains("hints.use_nodata"));
    CHECK_THAT(f.run("hints.del('a.lan 192.0.2.1 extra')\n"), Catch::Contains("hints.del"));
    CHECK_THAT(f.run("hints.del('a.lan nope')\n"), Catch::Contains("nope"));
    CHECK_THAT(f.run("hints.set('a.lan')\n"), Catch::Contains("hints.set"));
    CHECK(f.hints.ttl == 3600);
}

TEST_CASE("engine: hints.root skips entries without a name or addresses", "[lua]")
{
    // As Knot Resolver 5.6 does (it skips them silently; a warning here).
    Fixture f;
    CHECK(f.run("hints.root({['a.root.lab.'] = {}, ['b.root.lab.'] = '127.53.0.2', "
                "'127.53.0.9', [''] = '127.53.0.8', ['c.root.lab.'] = ''})\n") == "");
    REQUIRE(f.resolve_config.root_hints.size() == 1);
    CHECK(f.resolve_config.root_hints[0].second.size() == 1);
    // Nothing usable: a warning, and the root hints stay as they were.
    CHECK(f.run("hints.root({['a.root.lab.'] = {}})\n") == "");
    CHECK(f.resolve_config.root_hints.size() == 1);
    CHECK(f.run("hints.root({['']=''})\n") == "");
    CHECK(f.resolve_config.root_hints.size() == 1);
}
