// The Resolver: what all requests share (see resolve.hpp).
#include <utility>

#include "resolve/names.hpp"
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
    dnssec::VerifiedMemo verified;
    bool dnames = false;
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

bool Resolver::dnames_cached() const
{
    return impl_->dnames;
}

void Resolver::note_dname_cached()
{
    impl_->dnames = true;
}

dnssec::VerifiedMemo& Resolver::verified()
{
    return impl_->verified;
}

namespace {

// Writes the RRset into the answer section as the visitor receives it.
class AnswerWriter final : public cache::RRsetVisitor {
public:
    AnswerWriter(const dns::Query& q, dns::ResponseBuilder& out, bool validating)
        : q_(q), out_(out), validating_(validating), do_(q.edns.present && q.edns.do_bit)
    {
    }

    bool begin(uint32_t ttl, cache::Rank rank, cache::Security sec, uint16_t count) override
    {
        // Glue and referral data reach name servers, never clients (RFC 2181
        // 5.4.1); with validation on, only data the validator judged does
        // (Request asks for the rest again).
        if (rank < cache::Rank::nonauth || count == 0 || sec == cache::Security::bogus ||
            (validating_ && sec == cache::Security::unknown))
            return false;
        ttl_ = ttl;
        expiring_ = is_expiring(stored_ttl, ttl);
        out_.set_aa(false);
        out_.set_rcode(dns::rcode::NOERROR);
        // RFC 6840 5.7/5.8: AD for DO or AD clients, not with CD.
        out_.set_ad(sec == cache::Security::secure && (q_.ad || do_) && !q_.cd && validating_);
        return true;
    }

    // RFC 4035 3.2.1: DO clients get the RRSIGs of the RRset.
    bool wants_sigs() const override { return do_; }
    bool sig(std::span<const uint8_t> rd) override
    {
        if (!truncated_ && !out_.add_rr(dns::Section::answer, out_.question_name(),
                                        dns::type::RRSIG, dns::klass::IN, ttl_, rd)) {
            out_.set_tc(true);
            truncated_ = true;
        }
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

    bool expiring() const { return expiring_; }

private:
    const dns::Query& q_;
    dns::ResponseBuilder& out_;
    bool validating_;
    bool do_;
    uint32_t ttl_ = 0;
    bool truncated_ = false;
    bool expiring_ = false;
};

// Writes a cached negative answer as Request::write_answer() does: the
// RCODE, and the zone's SOA in the authority section when there was one.
class NegativeWriter final : public cache::NegativeVisitor {
public:
    NegativeWriter(const dns::Query& q, dns::ResponseBuilder& out, bool validating)
        : q_(q), out_(out), validating_(validating)
    {
    }

    bool negative(const cache::NegativeView& n) override
    {
        // A DS NODATA kept from a referral (no SOA: the DNSSEC status of a
        // delegation) is not a client's answer; nor, with validation on, is
        // one the validator did not judge.
        // DO clients also need the proof (NSEC/NSEC3, RRSIGs), which the
        // front table does not keep: the Request answers them.
        if (n.soa_owner.empty() || (validating_ && n.security == cache::Security::unknown) ||
            (q_.edns.present && q_.edns.do_bit))
            return false;
        expiring_ = is_expiring(n.stored_ttl, n.ttl);
        out_.set_aa(false);
        out_.set_ad(n.security == cache::Security::secure && q_.ad && !q_.cd && validating_);
        out_.set_rcode(n.nxdomain ? dns::rcode::NXDOMAIN : dns::rcode::NOERROR);
        if (!n.soa_owner.empty() && !out_.add_rr(dns::Section::authority, n.soa_owner,
                                                 dns::type::SOA, dns::klass::IN, n.ttl,
                                                 n.soa_rdata))
            out_.set_tc(true);
        return true;
    }

    bool expiring() const { return expiring_; }

private:
    const dns::Query& q_;
    dns::ResponseBuilder& out_;
    bool validating_;
    bool expiring_ = false;
};

} // namespace

bool Resolver::validates(const RequestOptions& opts, uint16_t qclass) const
{
    const auto& anchors = impl_->config.anchors;
    return anchors && !anchors->all().empty() && !opts.stub && qclass == dns::klass::IN;
}

void Resolver::prefetch(const dns::Query& q) const
{
    if (impl_->cache != nullptr && q.qclass == dns::klass::IN)
        impl_->cache->prefetch_rrset(q.qname_lower.view(), q.qtype);
}

bool Resolver::answer_from_cache(const dns::Query& q, const RequestOptions& opts,
                                 dns::ResponseBuilder& out)
{
    cache::Cache* c = impl_->cache;
    if (c == nullptr || opts.no_cache || opts.refresh || opts.debug ||
        q.qclass != dns::klass::IN)
        return false;
    // RFC 8509 names are judged by the Request (after validation); a
    // cached copy would be served as it is.
    if (opts.ta_sentinel && (q.qtype == dns::type::A || q.qtype == dns::type::AAAA) &&
        names::sentinel(q.qname_lower))
        return false;
    const bool validating = validates(opts, q.qclass);
    AnswerWriter w(q, out, validating);
    NegativeWriter n(q, out, validating);
    const uint64_t now = impl_->clock.wall_s ? impl_->clock.wall_s() : 0;
    const cache::Answer a = c->visit_answer(q.qname_lower.view(), q.qtype, now, w, n);
    if (a == cache::Answer::none)
        return false;
    if ((a == cache::Answer::positive ? w.expiring() : n.expiring()) && impl_->config.on_expiring)
        impl_->config.on_expiring(q.qname_lower, q.qtype);
    return true;
}

} // namespace kresd::resolve
