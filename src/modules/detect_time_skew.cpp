// detect_time_skew: loaded by default as in Knot Resolver 5.6. Once the
// resolver runs (after the configuration) it asks '.' NS with DO and CD
// (so the records come even when they fail validation, as they do when
// the clock is wrong) and compares the validity periods of the answer's
// RRSIGs with the system clock: when none of them covers "now", one
// warning says how far off the clock seems to be. An answer without
// RRSIGs (no trust anchor: nothing asked for them) gives an info line.
#include <ctime>
#include <lua.hpp>

#include "dnssec/dnssec.hpp"
#include "modules/builtin.hpp"
#include "modules/dnssec_modules.hpp"
#include "util/log.hpp"

namespace kresd::modules {

namespace {

std::string local_time(uint64_t t) {
    const time_t tt = static_cast<time_t>(t);
    tm parts{};
    char buf[64] = "";
    if (localtime_r(&tt, &parts)) std::strftime(buf, sizeof(buf), "%c", &parts);
    return buf;
}

class DetectTimeSkew final : public Module {
  public:
    const char* name() const override { return "detect_time_skew"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}
    void bind_lua(lua_State* L) override {
        lua_newtable(L);
        lua_setglobal(L, "detect_time_skew");
    }

    void start(Services& s) override {
        services_ = &s;
        timer_ = s.after(0, [this] { check(); });
    }
    void stop() override {
        timer_.reset();
        services_ = nullptr;
    }

  private:
    void check() {
        if (!services_) return;
        dns::Name root;
        dns::name_from_text(".", root);
        const unsigned gen = ++generation_;
        services_->resolve(root, dns::type::NS, true, [this, gen](const resolve::Request& r) {
            if (gen != generation_ || !services_) return; // unloaded meanwhile
            if (r.rcode() != dns::rcode::NOERROR) {
                KR_LOG(warning, "tmskew", "cannot resolve '.' NS");
                return;
            }
            const uint64_t now = services_->wall_s();
            const auto records = r.answer_records();
            const SkewCheck c = check_time_skew(records, now);
            switch (c.kind) {
            case SkewCheck::Kind::no_rrsigs:
                KR_LOG(info, "tmskew",
                       "No RRSIGs received! You really should configure DNSSEC trust anchor "
                       "for the root.");
                break;
            case SkewCheck::Kind::valid:
                KR_LOG(info, "tmskew",
                       "Local system time \"%s\" is within RRSIG validity interval "
                       "<\"%s\",\"%s\">.",
                       local_time(now).c_str(), local_time(c.inception).c_str(),
                       local_time(c.expiration).c_str());
                break;
            default:
                KR_LOG(warning, "tmskew", "%s", describe_skew(c, now).c_str());
                break;
            }
        });
    }

    Services* services_ = nullptr;
    std::unique_ptr<Services::Timer> timer_;
    unsigned generation_ = 0;
};

} // namespace

SkewCheck check_time_skew(std::span<const dns::Record> answer, uint64_t now) {
    SkewCheck out;
    bool seen = false;
    const uint32_t now32 = static_cast<uint32_t>(now);
    for (const auto& rr : answer) {
        if (rr.type != dns::type::RRSIG) continue;
        const auto sig = dnssec::parse_rrsig(rr.rdata);
        if (!sig) continue;
        seen = true;
        out.inception = sig->inception;
        out.expiration = sig->expiration;
        // RFC 4034 3.1.5: serial number arithmetic (RFC 1982) on 32 bits.
        const int32_t past_expiry = static_cast<int32_t>(now32 - sig->expiration);
        const int32_t before_inception = static_cast<int32_t>(sig->inception - now32);
        if (past_expiry > 0) {
            out.kind = SkewCheck::Kind::clock_ahead;
            out.seconds = static_cast<uint64_t>(past_expiry);
        } else if (before_inception > 0) {
            out.kind = SkewCheck::Kind::clock_behind;
            out.seconds = static_cast<uint64_t>(before_inception);
        } else {
            out.kind = SkewCheck::Kind::valid;
            out.seconds = 0;
            return out;
        }
    }
    if (!seen) out.kind = SkewCheck::Kind::no_rrsigs;
    return out;
}

std::string describe_skew(const SkewCheck& c, uint64_t now) {
    const bool ahead = c.kind == SkewCheck::Kind::clock_ahead;
    return "Local system time \"" + local_time(now) + "\" seems to be at least " +
           std::to_string(c.seconds) + " seconds in the " + (ahead ? "future" : "past") +
           ". DNSSEC signatures for '.' NS are not valid " + (ahead ? "anymore" : "yet") +
           ". Please check your system clock!";
}

std::unique_ptr<Module> make_detect_time_skew() {
    return std::make_unique<DetectTimeSkew>();
}

} // namespace kresd::modules
