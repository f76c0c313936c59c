// An Engine over real (unbound) daemon parts, for the tests of the Lua
// bindings: config errors come back as text with the temp file's path
// replaced by "CONFIG", so tests can match "CONFIG:LINE:".
#pragma once

#include "catch.hpp"

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>

#include "cache/cache.hpp"
#include "lua/engine.hpp"
#include "net/event.hpp"

namespace kresd::test {

struct Fixture {
    net::EventBasePtr base{event_base_new()};
    net::NetStats stats;
    net::ServeContext serve;
    modules::Registry mods;
    net::Endpoints endpoints{serve};
    policy::Policy policy;
    resolve::Config resolve_config;
    resolve::LocalHints hints;
    std::unique_ptr<cache::Cache> cache;
    std::string cache_dir;
    std::unique_ptr<lua::Engine> engine;

    Fixture() {
        serve.base = base.get();
        serve.stats = &stats;
        lua::Host host;
        host.instance = "unit1";
        host.base = base.get();
        host.endpoints = &endpoints;
        host.serve = &serve;
        host.modules = &mods;
        host.net_stats = &stats;
        host.policy = &policy;
        host.resolve_config = &resolve_config;
        host.hints = &hints;
        host.cache_open = [this](uint64_t size, const std::string& dir) {
            cache.reset();
            cache_dir = dir;
            cache = cache::Cache::open(dir, size);
        };
        host.cache_get = [this] { return cache.get(); };
        engine = std::make_unique<lua::Engine>(host, KRESD_TEST_LUADIR);
    }

    // Writes `text` to a temp config file and runs it; returns the error or "".
    std::string run(const std::string& text) {
        char path[] = "/tmp/kresd-unit-configXXXXXX";
        int fd = mkstemp(path);
        REQUIRE(fd >= 0);
        ::close(fd);
        std::ofstream(path) << text;
        std::string err;
        try {
            engine->run_config(path);
        } catch (const lua::ConfigError& e) {
            err = e.what();
            // report with the path cut away so tests can match "name:line:"
            auto pos = err.find(path);
            if (pos != std::string::npos) err.replace(pos, std::string(path).size(), "CONFIG");
        }
        ::unlink(path);
        return err;
    }
};

} // namespace kresd::test
