// trust_anchors.* and mode() through the Engine: the anchors the resolver
// shares, the RFC 5011 bookkeeping in Settings, and one-line errors that
// name the config line and, for files, FILE:LINE.
#include "catch.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <lua.hpp>

#include "lua/engine_fixture.hpp"

using namespace kresd;
using kresd::test::Fixture;

namespace {

const std::string kRootDs20326 =
    ". 3600 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";
const std::string kExampleDs = "example.com. 3600 IN DS 12345 8 2 "
                               "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";
// The root KSK-2017 (key tag 20326), as /usr/share/dns/root.key has it.
const std::string kKsk2017 =
    "257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5"
    "emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHw"
    "VN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLY"
    "A4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=";

struct TempFile {
    std::string path;
    explicit TempFile(const std::string& text) {
        char p[] = "/tmp/kresd-unit-taXXXXXX";
        int fd = mkstemp(p);
        REQUIRE(fd >= 0);
        ::close(fd);
        path = p;
        std::ofstream(path) << text;
    }
    ~TempFile() { ::unlink(path.c_str()); }
};

dns::Name name(const char* text) {
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    return n;
}

// The string value of a Lua expression, unformatted (the prompt's
// formatting escapes tabs and quotes).
std::string value(Fixture& f, const std::string& expr) {
    lua_State* L = f.engine->state();
    const int top = lua_gettop(L);
    const std::string code = "return " + expr;
    REQUIRE(luaL_dostring(L, code.c_str()) == 0);
    std::string out = lua_isstring(L, -1) ? lua_tostring(L, -1) : "(not a string)";
    lua_settop(L, top);
    return out;
}

} // namespace

TEST_CASE("trust_anchors: the built-in root anchors exist before the config", "[lua][dnssec]") {
    Fixture f;
    REQUIRE(f.resolve_config.anchors);
    CHECK(f.resolve_config.anchors->find(name(".")));
    const std::string s = value(f, "trust_anchors.summary()");
    CHECK_THAT(s, Catch::Contains("KeyTag:20326") && Catch::Contains("KeyTag:38696") &&
                      Catch::Contains("\tDS\t20326 8 2 E06D44B8"));
    CHECK(value(f, "trust_anchors.keyfile_default") == "/usr/share/dns/root.key");
}

TEST_CASE("trust_anchors.remove: true once, then false; the object is kept", "[lua][dnssec]") {
    Fixture f;
    const auto* before = f.resolve_config.anchors.get();
    CHECK(f.run("assert(trust_anchors.remove('.') == true)\n"
                "assert(trust_anchors.remove('.') == false)\n"
                "assert(trust_anchors.remove('example.com') == false)\n") == "");
    CHECK(f.resolve_config.anchors.get() == before);
    CHECK(f.resolve_config.anchors->all().empty());
    CHECK_THAT(value(f, "trust_anchors.summary()"), Catch::Contains("No valid trust anchors"));
    CHECK_THAT(f.run("trust_anchors.remove('a..b')\n"),
               Catch::StartsWith("CONFIG:1: trust_anchors.remove:") && Catch::Contains("a..b"));
    CHECK_THAT(f.run("trust_anchors.remove()\n"), Catch::Contains("trust_anchors.remove"));
}

TEST_CASE("trust_anchors.add: DS or DNSKEY records of one zone", "[lua][dnssec]") {
    Fixture f;
    CHECK(f.run("trust_anchors.add('" + kExampleDs + "')\n") == "");
    const dnssec::Anchor* a = f.resolve_config.anchors->find(name("example.com"));
    REQUIRE(a);
    CHECK(a->ds.size() == 1);
    CHECK(f.run("trust_anchors.add('example. 3600 IN DNSKEY " + kKsk2017 + "')\n") == "");
    const std::string s = value(f, "trust_anchors.summary('example.')");
    CHECK_THAT(s, Catch::StartsWith("example.            \t3600\tDNSKEY\t257 3 8 AwEAAaz/tAm8") &&
                      Catch::Contains("NR1AkUTV74bU= ; Valid: ; KeyTag:20326\n"));

    std::string err = f.run("\ntrust_anchors.add('example. 3600 IN A 192.0.2.1')\n");
    CHECK_THAT(err, Catch::StartsWith("CONFIG:2: trust_anchors.add: "));
    CHECK(err.find('\n') == std::string::npos);
    CHECK_THAT(f.run("trust_anchors.add('garbage')\n"),
               Catch::StartsWith("CONFIG:1: trust_anchors.add: "));
    CHECK_THAT(f.run("trust_anchors.add('')\n"), Catch::Contains("no DS or DNSKEY"));
    CHECK_THAT(f.run("trust_anchors.add([[" + kExampleDs + "\n" + kRootDs20326 + "]])\n"),
               Catch::Contains("do not mix"));
    CHECK_THAT(f.run("trust_anchors.add([[" + kExampleDs + "\n\nexample.com. IN DS bad]])\n"),
               Catch::Contains("trust_anchors.add: line 3: "));
    CHECK_THAT(f.run("trust_anchors.add()\n"), Catch::Contains("trust_anchors.add"));
}

TEST_CASE("trust_anchors.add_file: errors name the file and its line", "[lua][dnssec]") {
    Fixture f;
    const std::string missing = "/tmp/kresd-unit-no-such-dir/root.key";
    std::string err = f.run("\n\ntrust_anchors.add_file('" + missing + "')\n");
    CHECK_THAT(err, Catch::StartsWith("CONFIG:3: trust_anchors.add_file: " + missing));
    CHECK(err.find('\n') == std::string::npos);

    TempFile bad(kRootDs20326 + "\n; a comment\n. IN DS not a ds record\n" + kRootDs20326 + "\n");
    err = f.run("trust_anchors.add_file('" + bad.path + "', true)\n");
    CHECK_THAT(err, Catch::Contains(bad.path + ":3:"));
    CHECK(err.find('\n') == std::string::npos);
    // Nothing was added or replaced.
    CHECK(f.resolve_config.anchors->find(name("."))->ds.size() == 2);
    CHECK(f.engine->settings().trust_anchors.files.empty());

    TempFile mixed(kRootDs20326 + "\n" + kExampleDs + "\n");
    CHECK_THAT(f.run("trust_anchors.add_file('" + mixed.path + "')\n"),
               Catch::Contains(mixed.path) && Catch::Contains("do not mix"));
    CHECK_THAT(f.run("trust_anchors.add_file()\n"), Catch::Contains("trust_anchors.add_file"));
}

TEST_CASE("trust_anchors.add_file: replaces the zone's anchors and keeps the file",
          "[lua][dnssec]") {
    Fixture f;
    TempFile root(kRootDs20326 + "\n");
    CHECK(f.run("trust_anchors.add_file('" + root.path + "')\n") == "");
    const dnssec::Anchor* a = f.resolve_config.anchors->find(name("."));
    REQUIRE(a);
    CHECK(a->ds.size() == 1); // the built-in KSK-2024 is gone
    CHECK_THAT(value(f, "trust_anchors.summary()"),
               Catch::Contains("KeyTag:20326") && !Catch::Contains("KeyTag:38696"));
    auto& files = f.engine->settings().trust_anchors.files;
    REQUIRE(files.size() == 1);
    CHECK(dns::name_to_text(files[0].zone.view()) == ".");
    CHECK(files[0].path == root.path);
    CHECK_FALSE(files[0].readonly); // managed by RFC 5011 by default

    CHECK(f.run("trust_anchors.add_file('" + root.path + "', true)\n") == "");
    REQUIRE(files.size() == 1);
    CHECK(files[0].readonly);

    // A managed file's zone takes no static additions (Knot Resolver 5.6).
    CHECK(f.run("trust_anchors.add_file('" + root.path + "', false)\n") == "");
    CHECK_THAT(f.run("trust_anchors.add('" + kRootDs20326 + "')\n"),
               Catch::Contains("RFC 5011") && Catch::Contains(root.path));
    CHECK(f.run("assert(trust_anchors.remove('.'))\n") == "");
    CHECK(files.empty());
}

TEST_CASE("trust_anchors.set_insecure: negative trust anchors", "[lua][dnssec]") {
    Fixture f;
    CHECK(f.run("trust_anchors.set_insecure({'bad.boy', 'Example.NET.'})\n"
                "assert(#trust_anchors.insecure == 2)\n"
                "assert(trust_anchors.insecure[2] == 'example.net.')\n") == "");
    const auto& ta = *f.resolve_config.anchors;
    CHECK(ta.negative().size() == 2);
    CHECK(ta.is_negative(name("www.bad.boy")));
    CHECK_THAT(value(f, "trust_anchors.summary()"),
               Catch::StartsWith("bad.boy. is negative trust anchor\n"
                                 "example.net. is negative trust anchor\n") &&
                   Catch::Contains("KeyTag:20326"));

    CHECK(f.run("trust_anchors.set_insecure({})\n") == "");
    CHECK(ta.negative().empty());
    CHECK(f.run("trust_anchors.insecure = {'x.test'}\n") == ""); // the view writes through
    CHECK(ta.is_negative(name("x.test")));

    CHECK_THAT(f.run("trust_anchors.set_insecure('x.test')\n"),
               Catch::StartsWith("CONFIG:1: trust_anchors.set_insecure: expected a list"));
    CHECK_THAT(f.run("trust_anchors.set_insecure({'a..b'})\n"), Catch::Contains("a..b"));
    CHECK_THAT(f.run("trust_anchors.set_insecure({'.'})\n"),
               Catch::Contains("has trust anchors") && Catch::Contains("trust_anchors.remove"));
    CHECK(ta.is_negative(name("x.test"))); // a failed call changes nothing
}

TEST_CASE("trust_anchors: RFC 5011 properties and removed 4.x names", "[lua][dnssec]") {
    Fixture f;
    const auto& s = f.engine->settings().trust_anchors;
    CHECK(f.run("assert(trust_anchors.hold_down_time == 30 * day)\n"
                "assert(trust_anchors.refresh_time == nil)\n"
                "assert(trust_anchors.keep_removed == 0)\n"
                "trust_anchors.hold_down_time = 10 * sec\n"
                "trust_anchors.refresh_time = 5 * sec\n"
                "trust_anchors.keep_removed = 2\n"
                "trust_anchors = { keep_removed = 3 }\n"
                "assert(trust_anchors.hold_down_time == 10 * sec)\n") == "");
    CHECK(s.hold_down_time_ms == 10000);
    REQUIRE(s.refresh_time_ms);
    CHECK(*s.refresh_time_ms == 5000);
    CHECK(s.keep_removed == 3);
    CHECK(f.run("trust_anchors.refresh_time = nil\n") == "");
    CHECK_FALSE(s.refresh_time_ms);
    CHECK_THAT(f.run("trust_anchors.keep_removed = -1\n"),
               Catch::Contains("trust_anchors.keep_removed"));
    CHECK_THAT(f.run("trust_anchors.hold_down_time = 'soon'\n"), Catch::Contains("hold_down_time"));

    CHECK_THAT(f.run("trust_anchors.keyfile_default = '/x'\n"), Catch::Contains("compiled in"));
    CHECK_THAT(f.run("trust_anchors.file = '/x'\n"), Catch::Contains("trust_anchors.add_file"));
    CHECK_THAT(f.run("trust_anchors.negative = {}\n"), Catch::Contains("set_insecure"));
    CHECK_THAT(f.run("trust_anchors.config('/x')\n"), Catch::Contains("add_file"));
    CHECK(f.run("trust_anchors.my_note = 1\nassert(trust_anchors.my_note == 1)\n") == "");
}

TEST_CASE("mode: reads back, answers true when set, refuses other names", "[lua]") {
    Fixture f;
    CHECK(f.engine->eval("mode()") == "'normal'");
    CHECK(f.run("assert(mode('permissive') == true)\nassert(mode() == 'permissive')\n") == "");
    CHECK(f.engine->settings().mode == "permissive");
    CHECK_THAT(f.run("mode('paranoid')\n"),
               Catch::StartsWith("CONFIG:1: mode: 'paranoid' is not strict, normal or permissive"));
    CHECK(f.engine->settings().mode == "permissive");
}

// The last line of a file that ends with a newline: dnssec::TrustAnchors
// reports the line after it (reported to the lead; [!mayfail] until fixed).
TEST_CASE("trust_anchors.add_file: a bad last line is named by its number",
          "[lua][dnssec][!mayfail]") {
    Fixture f;
    TempFile bad(kRootDs20326 + "\n. IN DS not a ds record\n");
    CHECK_THAT(f.run("trust_anchors.add_file('" + bad.path + "')\n"),
               Catch::Contains(bad.path + ":2:"));
    TempFile a_record(". 3600 IN A 192.0.2.1\n");
    CHECK_THAT(f.run("trust_anchors.add_file('" + a_record.path + "')\n"),
               Catch::Contains(a_record.path + ":1:"));
}

TEST_CASE("trust_anchors.set_insecure: the cache forgets names whose NTA comes or goes",
          "[lua][dnssec]") {
    Fixture f;
    char dir[] = "/tmp/kresd-unit-ntaXXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    REQUIRE(f.run(std::string("cache.open(10 * MB, 'lmdb://") + dir + "')\n") == "");
    cache::Cache* c = f.cache.get();
    REQUIRE(c != nullptr);
    const std::vector<uint8_t> rd{192, 0, 2, 1};
    auto put = [&](const char* owner) {
        const dns::Name n = name(owner);
        REQUIRE(c->put_rrset(n.view(), 1, 300, {std::span<const uint8_t>(rd)},
                             cache::Rank::auth_answer, 1700000000, dns::Security::insecure));
    };
    auto has = [&](const char* owner) {
        return c->get_rrset(name(owner).view(), 1, 1700000001).has_value();
    };
    put("www.bad.boy");
    put("www.kept.example");
    put("www.other.example");
    CHECK(f.run("trust_anchors.set_insecure({'bad.boy', 'kept.example'})\n") == "");
    CHECK_FALSE(has("www.bad.boy")); // newly negative: judged anew
    CHECK_FALSE(has("www.kept.example"));
    CHECK(has("www.other.example"));
    put("www.bad.boy");
    put("www.kept.example");
    CHECK(f.run("trust_anchors.set_insecure({'kept.example'})\n") == "");
    CHECK_FALSE(has("www.bad.boy")); // no longer negative
    CHECK(has("www.kept.example"));  // unchanged
    f.cache.reset();
    std::filesystem::remove_all(dir);
}
