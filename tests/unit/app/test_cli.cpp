#include "catch.hpp"

#include "app/cli.hpp"
#include "app/instance.hpp"

using kresd::activation::Kind;
using kresd::app::parse_cli;

namespace {
kresd::app::CliResult parse(std::vector<std::string> args)
{
    args.insert(args.begin(), "kresd");
    return parse_cli(args);
}
} // namespace

TEST_CASE("cli: defaults", "[cli]")
{
    auto r = parse({});
    REQUIRE(r.ok());
    CHECK(r.options.configs.empty());
    CHECK_FALSE(r.options.noninteractive);
    CHECK_FALSE(r.options.rundir);
    CHECK_FALSE(r.options.instance);
    CHECK(r.options.notify_fd == -1);
}

TEST_CASE("cli: every option, short and long", "[cli]")
{
    auto r = parse({"-c", "a.conf", "--config=b.conf", "--config", "c.conf", "-n", "-q", "-vv",
                    "-a", "127.0.0.1@5353", "--addr=::1", "-t", "127.0.0.1#853", "-S", "3:tls",
                    "--fd=4", "--instance", "dns1", "--notify-fd", "5", "/run/kresd"});
    REQUIRE(r.ok());
    const auto& o = r.options;
    CHECK(o.configs == std::vector<std::string>{"a.conf", "b.conf", "c.conf"});
    CHECK(o.noninteractive);
    CHECK(o.quiet);
    CHECK(o.verbosity == 2);
    REQUIRE(o.addrs.size() == 2);
    CHECK(o.addrs[0].addr == "127.0.0.1");
    CHECK(o.addrs[0].port == 5353);
    CHECK(o.addrs[1].addr == "::1");
    CHECK(o.addrs[1].port == 0);
    REQUIRE(o.tls_addrs.size() == 1);
    CHECK(o.tls_addrs[0].port == 853);
    REQUIRE(o.fds.size() == 2);
    CHECK(o.fds[0] == std::pair<int, Kind>{3, Kind::tls});
    CHECK(o.fds[1] == std::pair<int, Kind>{4, Kind::dns});
    CHECK(o.instance == "dns1");
    CHECK(o.notify_fd == 5);
    CHECK(o.rundir == "/run/kresd");
}

TEST_CASE("cli: attached short values and clusters", "[cli]")
{
    auto r = parse({"-nqcmy.conf", "-a127.0.0.1"});
    REQUIRE(r.ok());
    CHECK(r.options.noninteractive);
    CHECK(r.options.quiet);
    CHECK(r.options.configs == std::vector<std::string>{"my.conf"});
    CHECK(r.options.addrs.at(0).addr == "127.0.0.1");
}

TEST_CASE("cli: help and version", "[cli]")
{
    CHECK(parse({"-h"}).options.show_help);
    CHECK(parse({"--help"}).options.show_help);
    CHECK(parse({"-V"}).options.show_version);
    CHECK(parse({"--version"}).options.show_version);
    CHECK(kresd::app::usage_text().find("--instance") != std::string::npos);
}

TEST_CASE("cli: errors are one line and name the problem", "[cli]")
{
    struct Case {
        std::vector<std::string> args;
        const char* needle;
    };
    const Case cases[] = {
        {{"--bogus"}, "--bogus"},
        {{"-x"}, "-x"},
        {{"-c"}, "needs a value"},
        {{"--instance"}, "needs a value"},
        {{"-a", "127.0.0.1@0"}, "127.0.0.1@0"},
        {{"-a", "127.0.0.1@70000"}, "70000"},
        {{"-a", "127.0.0.1@53x"}, "53x"},
        {{"-a", "@53"}, "@53"},
        {{"-S", "abc"}, "abc"},
        {{"-S", "3:bogus"}, "bogus"},
        {{"-S", "1"}, "-S"},
        {{"--notify-fd", "x"}, "x"},
        {{"--notify-fd", "1"}, "1"},
        {{"--noninteractive=yes"}, "takes no value"},
        {{"dir1", "dir2"}, "dir2"},
        {{""}, "empty"},
    };
    for (const auto& c : cases) {
        auto r = parse(c.args);
        INFO(c.args.front());
        CHECK_FALSE(r.ok());
        CHECK(r.error.find(c.needle) != std::string::npos);
        CHECK(r.error.find('\n') == std::string::npos);
    }
}

TEST_CASE("cli: -- ends options", "[cli]")
{
    auto r = parse({"--", "-weird-dir"});
    REQUIRE(r.ok());
    CHECK(r.options.rundir == "-weird-dir");
}

TEST_CASE("instance names", "[instance]")
{
    using kresd::app::check_instance_name;
    CHECK(check_instance_name("1").empty());
    CHECK(check_instance_name("dns1").empty());
    CHECK(check_instance_name("tls-a_b.c@d").empty());
    CHECK(check_instance_name(std::string(64, 'a')).empty());
    CHECK_FALSE(check_instance_name(std::string(65, 'a')).empty());
    CHECK_FALSE(check_instance_name("").empty());
    CHECK_FALSE(check_instance_name("a/b").empty());
    CHECK_FALSE(check_instance_name("..").empty());
    CHECK_FALSE(check_instance_name(".").empty());
    CHECK_FALSE(check_instance_name("a\nb").empty());
    CHECK_FALSE(check_instance_name(std::string("a\0b", 3)).empty());
    CHECK_FALSE(check_instance_name("a\x7f").empty());
    CHECK(check_instance_name("..a").empty()); // only the whole name ".." is special
}

TEST_CASE("instance identity: flag, then SYSTEMD_INSTANCE, then PID", "[instance]")
{
    using kresd::app::resolve_identity;
    CHECK(resolve_identity(std::string("dns1"), "env", 42).name == "dns1");
    CHECK(resolve_identity(std::nullopt, "env1", 42).name == "env1");
    auto pid = resolve_identity(std::nullopt, nullptr, 42);
    CHECK(pid.name == "42");
    CHECK(pid.from_pid);
    CHECK(resolve_identity(std::nullopt, "", 42).name == "42");
    CHECK_THROWS_WITH(resolve_identity(std::string("a/b"), nullptr, 1),
                      Catch::Contains("--instance") && Catch::Contains("'/'"));
    CHECK_THROWS_WITH(resolve_identity(std::nullopt, "x\ny", 1),
                      Catch::Contains("SYSTEMD_INSTANCE") && Catch::Contains("x?y"));
}
