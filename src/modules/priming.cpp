// priming: root priming (RFC 8109), loaded by default as in Knot Resolver
// 5.6. Once the resolver runs (after the configuration) it asks '.' NS,
// then the A (with IPv4 on) and AAAA (with IPv6 on) of every NS name, and
// replaces the resolver's root hints (resolve::Config::root_hints, what
// hints.root() shows) with those names and the addresses found, when at
// least one address was found; the configured hints are kept otherwise.
// The next priming is due after the NS records' TTL (at most a day); a
// failed one is retried after priming.retry_time (10 s). Like Knot
// Resolver's module, the answers are not required to validate.
#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <lua.hpp>
#include <map>
#include <netinet/in.h>

#include "modules/builtin.hpp"
#include "modules/dnssec_modules.hpp"
#include "util/log.hpp"

namespace kresd::modules {

namespace {

constexpr uint64_t kRetryS = 10;
constexpr size_t kMaxNames = 16; // the root has 13; bounds the questions asked

bool same_name(const dns::Name& a, const dns::Name& b) {
    return a.len == b.len && std::memcmp(a.wire.data(), b.wire.data(), a.len) == 0;
}

class Priming final : public Module {
  public:
    const char* name() const override { return "priming"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}
    void bind_lua(lua_State* L) override {
        lua_newtable(L);
        lua_pushnumber(L, static_cast<lua_Number>(kRetryS * 1000)); // read-only here: informative
        lua_setfield(L, -2, "retry_time");
        lua_setglobal(L, "priming");
    }

    void start(Services& s) override {
        services_ = &s;
        timer_ = s.after(0, [this] { prime(); });
    }
    void stop() override {
        timer_.reset();
        services_ = nullptr;
        ++generation_;
    }

  private:
    struct Round {
        std::vector<dns::Name> names;
        std::map<size_t, std::vector<resolve::Address>> found; // by index in names
        uint32_t ttl = 0;
        unsigned pending = 0;
    };

    void schedule(uint64_t seconds) {
        if (services_) timer_ = services_->after(seconds * 1000, [this] { prime(); });
    }

    void fail(const char* what) {
        KR_LOG(info, "prim", "%s, next priming query in %u seconds", what, unsigned(kRetryS));
        schedule(kRetryS);
    }

    void prime() {
        if (!services_) return;
        const unsigned gen = ++generation_;
        dns::Name root;
        dns::name_from_text(".", root);
        const bool started =
            services_->resolve(root, dns::type::NS, false, [this, gen](const resolve::Request& r) {
                if (gen == generation_ && services_) on_ns(r, gen);
            });
        if (!started) fail("cannot resolve '.' NS");
    }

    void on_ns(const resolve::Request& r, unsigned gen) {
        if (r.rcode() != dns::rcode::NOERROR) return fail("cannot resolve '.' NS");
        const auto records = r.answer_records();
        auto round = std::make_shared<Round>();
        round->names = root_ns_names(records, &round->ttl);
        if (round->names.size() > kMaxNames) round->names.resize(kMaxNames);
        if (round->names.empty()) return fail("no NS records in the answer of '.' NS");
        const resolve::Config& cfg = services_->resolver_config();
        round->pending = 1; // held until every question is started
        for (size_t i = 0; i < round->names.size(); ++i) {
            for (uint16_t type : {dns::type::A, dns::type::AAAA}) {
                if ((type == dns::type::A && !cfg.ipv4) || (type == dns::type::AAAA && !cfg.ipv6))
                    continue;
                ++round->pending;
                const bool ok = services_->resolve(
                    round->names[i], type, false, [this, gen, round, i](const resolve::Request& a) {
                        if (gen != generation_ || !services_) return;
                        auto addrs = addresses_of(round->names[i], a.answer_records());
                        auto& slot = round->found[i];
                        slot.insert(slot.end(), addrs.begin(), addrs.end());
                        finish_one(*round);
                    });
                if (!ok) --round->pending;
            }
        }
        finish_one(*round);
    }

    void finish_one(Round& round) {
        if (--round.pending != 0) return;
        RootHints hints;
        for (size_t i = 0; i < round.names.size(); ++i) {
            auto it = round.found.find(i);
            if (it != round.found.end() && !it->second.empty())
                hints.emplace_back(round.names[i], it->second);
        }
        if (hints.empty()) return fail("cannot resolve any root server address");
        services_->resolver_config().root_hints = std::move(hints);
        const uint64_t next = next_priming_s(round.ttl, kRetryS);
        KR_LOG(info, "prim", "triggered priming query, next in %u seconds", unsigned(next));
        schedule(next);
    }

    Services* services_ = nullptr;
    std::unique_ptr<Services::Timer> timer_;
    unsigned generation_ = 0;
};

} // namespace

std::vector<dns::Name> root_ns_names(std::span<const dns::Record> answer, uint32_t* min_ttl) {
    std::vector<dns::Name> names;
    uint32_t ttl = 0;
    bool any = false;
    for (const auto& rr : answer) {
        if (rr.type != dns::type::NS || rr.owner.len != 1) continue; // only '.' NS
        dns::Name n;
        if (rr.rdata.empty() || rr.rdata.size() > dns::kMaxNameWire) continue;
        n.len = static_cast<uint8_t>(rr.rdata.size());
        std::memcpy(n.wire.data(), rr.rdata.data(), rr.rdata.size());
        dns::name_lower(n);
        ttl = any ? std::min(ttl, rr.ttl) : rr.ttl;
        any = true;
        if (std::none_of(names.begin(), names.end(),
                         [&](const dns::Name& o) { return same_name(o, n); }))
            names.push_back(n);
    }
    if (min_ttl) *min_ttl = ttl;
    return names;
}

std::vector<resolve::Address> addresses_of(const dns::Name& owner,
                                           std::span<const dns::Record> answer) {
    std::vector<resolve::Address> out;
    dns::Name want = owner;
    dns::name_lower(want);
    for (const auto& rr : answer) {
        dns::Name o = rr.owner;
        dns::name_lower(o);
        if (!same_name(o, want)) continue;
        resolve::Address a;
        if (rr.type == dns::type::A && rr.rdata.size() == 4) {
            auto* sin = reinterpret_cast<sockaddr_in*>(&a.ss);
            sin->sin_family = AF_INET;
            sin->sin_port = htons(53);
            std::memcpy(&sin->sin_addr, rr.rdata.data(), 4);
            a.len = sizeof(sockaddr_in);
        } else if (rr.type == dns::type::AAAA && rr.rdata.size() == 16) {
            auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(53);
            std::memcpy(&sin6->sin6_addr, rr.rdata.data(), 16);
            a.len = sizeof(sockaddr_in6);
        } else {
            continue;
        }
        out.push_back(a);
    }
    return out;
}

uint64_t next_priming_s(uint32_t ns_ttl, uint64_t retry_s) {
    return std::clamp<uint64_t>(ns_ttl, retry_s, 24 * 3600);
}

std::unique_ptr<Module> make_priming() {
    return std::make_unique<Priming>();
}

} // namespace kresd::modules
