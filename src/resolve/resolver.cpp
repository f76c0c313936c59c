// The Resolver: what all requests share (see resolve.hpp).
#include <utility>

#include "resolve/resolve.hpp"
#include "resolve/servers.hpp"
#include "util/log.hpp"

namespace kresd::resolve {

struct Resolver::Impl {
    Config config;
    cache::Cache* cache = nullptr;
    Clock clock;
    std::function<uint32_t()> random;
    ServerStats servers;
};

Resolver::Resolver(Config config, cache::Cache* cache, Clock clock,
                   std::function<uint32_t()> random)
    : impl_(std::make_unique<Impl>())
{
    if (config.root_hints.empty())
        config.root_hints = default_root_hints();
    impl_->config = std::move(config);
    impl_->cache = cache;
    impl_->clock = std::move(clock);
    impl_->random = std::move(random);
    // DEBUG_ALWAYS lines are wanted whatever the log level.
    debug_log = [](const std::string& line) {
        util::log(util::Level::info, "resolv", "%s", line.c_str());
    };
}

Resolver::~Resolver() = default;

Config& Resolver::config()
{
    return impl_->config;
}

cache::Cache* Resolver::cache()
{
    return impl_->cache;
}

const Clock& Resolver::clock() const
{
    return impl_->clock;
}

uint32_t Resolver::random()
{
    return impl_->random ? impl_->random() : 0;
}

Resolver::ServerStats& Resolver::servers()
{
    return impl_->servers;
}

} // namespace kresd::resolve
