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

namespace {

// Writes the RRset into the answer section as the visitor receives it.
class AnswerWriter final : public cache::RRsetVisitor {
public:
    AnswerWriter(const dns::Query& q, dns::ResponseBuilder& out) : q_(q), out_(out) {}

    bool begin(uint32_t ttl, cache::Rank rank, uint16_t count) override
    {
        // Glue and referral data reach name servers, never clients (RFC 2181 5.4.1).
        if (rank < cache::Rank::nonauth || count == 0)
            return false;
        ttl_ = ttl;
        out_.set_aa(false);
        out_.set_rcode(dns::rcode::NOERROR);
        return true;
    }

    bool rdata(std::span<const uint8_t> rd) override
    {
        // The owner is the question's name, as written into the answer.
        if (!truncated_ && !out_.add_rr(dns::Section::answer, out_.question_name(), q_.qtype,
                                        dns::klass::IN, ttl_, rd)) {
            out_.set_tc(true); // as Request::write_answer: what fits, and TC
            truncated_ = true;
        }
        return true;
    }

private:
    const dns::Query& q_;
    dns::ResponseBuilder& out_;
    uint32_t ttl_ = 0;
    bool truncated_ = false;
};

// Writes a cached negative answer as Request::write_answer() does: the
// RCODE, and the zone's SOA in the authority section when there was one.
class NegativeWriter final : public cache::NegativeVisitor {
public:
    explicit NegativeWriter(dns::ResponseBuilder& out) : out_(out) {}

    void negative(const cache::NegativeView& n) override
    {
        out_.set_aa(false);
        out_.set_rcode(n.nxdomain ? dns::rcode::NXDOMAIN : dns::rcode::NOERROR);
        if (!n.soa_owner.empty() && !out_.add_rr(dns::Section::authority, n.soa_owner,
                                                 dns::type::SOA, dns::klass::IN, n.ttl,
                                                 n.soa_rdata))
            out_.set_tc(true);
    }

private:
    dns::ResponseBuilder& out_;
};

} // namespace

void Resolver::prefetch(const dns::Query& q) const
{
    if (impl_->cache != nullptr && q.qclass == dns::klass::IN)
        impl_->cache->prefetch_rrset(q.qname_lower.view(), q.qtype);
}

bool Resolver::answer_from_cache(const dns::Query& q, const RequestOptions& opts,
                                 dns::ResponseBuilder& out)
{
    cache::Cache* c = impl_->cache;
    if (c == nullptr || opts.no_cache || opts.debug || q.qclass != dns::klass::IN)
        return false;
    const uint64_t now = impl_->clock.wall_s ? impl_->clock.wall_s() : 0;
    AnswerWriter w(q, out);
    NegativeWriter n(out);
    return c->visit_answer(q.qname_lower.view(), q.qtype, now, w, n) != cache::Answer::none;
}

} // namespace kresd::resolve
