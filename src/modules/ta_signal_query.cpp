// ta_signal_query: key tag signalling (RFC 8145 section 5), loaded by
// default as in Knot Resolver 5.6. The daemon tells the root's operators
// which root keys it trusts by asking `_ta-<tag>[-<tag>...].` type NULL:
// the tags of the root's trust anchors, ascending, four lower-case hex
// digits each. The answer (normally NXDOMAIN) is ignored.
//
// When: once the resolver runs (after the configuration) and then every
// 24 hours, with the anchors of that moment. (Knot Resolver sends one
// whenever it fetches a DNSKEY RRset from upstream, which its RFC 5011
// refresh does about daily for the root.) Only while validating: nothing
// is sent when the root has no trust anchor.
#include <algorithm>
#include <cstdio>
#include <lua.hpp>

#include "dnssec/dnssec.hpp"
#include "modules/builtin.hpp"
#include "modules/dnssec_modules.hpp"
#include "util/log.hpp"

namespace kresd::modules {

namespace {

constexpr uint16_t kTypeNull = 10;                 // RFC 1035 3.3.10
constexpr uint64_t kIntervalMs = 24 * 3600 * 1000; // daily

class TaSignalQuery final : public Module {
  public:
    const char* name() const override { return "ta_signal_query"; }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}
    void bind_lua(lua_State* L) override {
        lua_newtable(L);
        lua_setglobal(L, "ta_signal_query");
    }

    void start(Services& s) override {
        services_ = &s;
        timer_ = s.after(0, [this] { signal(); });
    }
    void stop() override {
        timer_.reset();
        services_ = nullptr;
    }

  private:
    void signal() {
        if (!services_) return;
        timer_ = services_->after(kIntervalMs, [this] { signal(); });
        const auto& anchors = services_->resolver_config().anchors;
        if (!anchors) return;
        auto qname = ta_signal_qname(*anchors);
        dns::Name name;
        if (!qname || !dns::name_from_text(*qname, name)) return;
        KR_LOG(info, "tasign", "signalling query triggered: %s", qname->c_str());
        services_->resolve(name, kTypeNull, false, [](const resolve::Request&) {});
    }

    Services* services_ = nullptr;
    std::unique_ptr<Services::Timer> timer_;
};

} // namespace

std::vector<uint16_t> root_key_tags(const dnssec::TrustAnchors& anchors) {
    std::vector<uint16_t> tags;
    dns::Name root;
    dns::name_from_text(".", root);
    const dnssec::Anchor* a = anchors.find(root);
    if (!a) return tags;
    for (const auto& ds : a->ds)
        if (ds.rdata.size() >= 2)
            tags.push_back(static_cast<uint16_t>((ds.rdata[0] << 8) | ds.rdata[1]));
    for (const auto& key : a->keys) {
        if (key.rdata.size() < 4 || (dnssec::dnskey_flags(key.rdata) & 0x0080)) continue; // revoked
        tags.push_back(dnssec::key_tag(key.rdata));
    }
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    return tags;
}

std::optional<std::string> ta_signal_qname(const dnssec::TrustAnchors& anchors) {
    const auto tags = root_key_tags(anchors);
    if (tags.empty()) return std::nullopt;
    std::string out = "_ta";
    for (uint16_t t : tags) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "-%04x", t);
        out += buf;
    }
    return out + ".";
}

std::unique_ptr<Module> make_ta_signal_query() {
    return std::make_unique<TaSignalQuery>();
}

} // namespace kresd::modules
