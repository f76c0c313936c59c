// RFC 5011 refresh of managed trust anchor files (see ta_update.hpp).
#include "app/ta_update.hpp"

#include <ctime>

#include "app/worker.hpp"
#include "dns/wire.hpp"
#include "dnssec/dnssec.hpp"
#include "dnssec/rfc5011.hpp"
#include "util/log.hpp"

namespace kresd::app {

struct TaUpdater::Zone {
    TaUpdater* owner = nullptr;
    dns::Name zone{};
    std::string path;
    std::string name; // "." for the log
    dnssec::KeySet keys;
    std::vector<dns::Record> published; // what the live anchors hold for the zone
    net::EventPtr timer;
    bool asking = false;
};

namespace {

uint64_t wall_now() {
    return static_cast<uint64_t>(std::time(nullptr));
}

bool same_name(const dns::Name& a, const dns::Name& b) {
    return a.len == b.len && dns::name_in_zone(a.view(), b.view());
}

bool same_records(const std::vector<dns::Record>& a, const std::vector<dns::Record>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].type != b[i].type || a[i].rdata != b[i].rdata) return false;
    return true;
}

} // namespace

TaUpdater::TaUpdater(event_base* base, Worker& worker,
                     std::shared_ptr<dnssec::TrustAnchors> anchors,
                     const lua::TrustAnchorSettings& settings)
    : base_(base), worker_(worker), anchors_(std::move(anchors)), settings_(settings) {}

TaUpdater::~TaUpdater() = default;

void TaUpdater::sync() {
    if (!anchors_) return;
    // Forget zones no longer managed (removed, or re-added read-only or from another file).
    std::erase_if(zones_, [&](const std::shared_ptr<Zone>& z) {
        for (const auto& f : settings_.files)
            if (!f.readonly && f.path == z->path && same_name(f.zone, z->zone)) return false;
        KR_LOG(info, "ta", "%s: no longer updated (RFC 5011) from %s", z->name.c_str(),
               z->path.c_str());
        return true;
    });
    for (const auto& f : settings_.files) {
        if (f.readonly) continue;
        bool known = false;
        for (const auto& z : zones_)
            known = known || same_name(z->zone, f.zone);
        if (known) continue;
        auto z = std::make_shared<Zone>();
        z->owner = this;
        z->zone = f.zone;
        z->path = f.path;
        z->name = dns::name_to_text(f.zone.view());
        if (auto err = dnssec::KeySet::read_file(f.path, z->keys)) {
            KR_LOG(err, "ta", "%s: not updated (RFC 5011): %s", z->name.c_str(), err->c_str());
            continue;
        }
        if (const auto* a = anchors_->find(f.zone)) {
            z->published = a->ds;
            z->published.insert(z->published.end(), a->keys.begin(), a->keys.end());
        }
        publish(*z);
        KR_LOG(info, "ta", "%s: RFC 5011 updates of %s", z->name.c_str(), f.path.c_str());
        zones_.push_back(z);
        schedule(*z, 0); // Knot Resolver refreshes at once
    }
}

void TaUpdater::schedule(Zone& z, uint64_t delay_ms) {
    auto fire = [](evutil_socket_t, short, void* arg) {
        auto* zone = static_cast<Zone*>(arg);
        zone->owner->refresh(*zone);
    };
    if (!z.timer) z.timer.reset(evtimer_new(base_, fire, &z));
    timeval tv{static_cast<time_t>(delay_ms / 1000),
               static_cast<suseconds_t>((delay_ms % 1000) * 1000)};
    event_add(z.timer.get(), &tv);
}

void TaUpdater::refresh(Zone& z) {
    if (z.asking) return;
    std::weak_ptr<Zone> weak;
    for (const auto& p : zones_)
        if (p.get() == &z) weak = p;
    z.asking = true;
    const bool started =
        worker_.resolve_internal(z.zone, dns::type::DNSKEY, {false, true}, [weak](const resolve::Request& req) {
            auto zone = weak.lock();
            if (!zone) return; // forgotten meanwhile
            const bool ok =
                req.rcode() == dns::rcode::NOERROR && req.security() == dns::Security::secure;
            const std::vector<dns::Record> answer =
                ok ? req.answer_records() : std::vector<dns::Record>{};
            const char* why = ok                                   ? ""
                              : req.rcode() != dns::rcode::NOERROR ? "the query failed"
                                                                   : "the answer is not secure";
            zone->owner->done(*zone, ok, answer, why);
        });
    if (!started) {
        z.asking = false;
        done(z, false, {}, "resolution is not available");
    }
}

bool TaUpdater::reload_file(Zone& z) {
    dnssec::KeySet fresh;
    if (auto err = dnssec::KeySet::read_file(z.path, fresh)) {
        KR_LOG(warning, "ta", "%s: cannot re-read the key file, keeping the state in memory: %s",
               z.name.c_str(), err->c_str());
        return false;
    }
    if (!same_name(fresh.zone(), z.zone)) {
        KR_LOG(warning, "ta", "%s: %s now holds the keys of %s; ignored", z.name.c_str(),
               z.path.c_str(), dns::name_to_text(fresh.zone().view()).c_str());
        return false;
    }
    if (!(fresh == z.keys))
        KR_LOG(info, "ta", "%s: %s was updated (by another instance?), taking its state",
               z.name.c_str(), z.path.c_str());
    z.keys = std::move(fresh);
    return true;
}

void TaUpdater::done(Zone& z, bool ok, const std::vector<dns::Record>& answer, const char* why) {
    z.asking = false;
    const uint64_t now = wall_now();
    reload_file(z); // the file is the truth instances share
    uint64_t delay_ms;
    if (ok) {
        dnssec::Rfc5011Params p;
        p.hold_down_s = (settings_.hold_down_time_ms + 999) / 1000;
        p.keep_removed = settings_.keep_removed;
        const dnssec::Observation o = z.keys.observe(answer, now, p);
        for (const auto& e : o.events)
            KR_LOG(info, "ta", "%s: %s", z.name.c_str(), e.c_str());
        if (!o.ok) {
            KR_LOG(warning, "ta", "%s: active refresh not used: %s", z.name.c_str(), o.why.c_str());
        } else if (o.changed) {
            if (auto err = z.keys.write_file(z.path))
                KR_LOG(err, "ta", "%s: cannot write the key file: %s", z.name.c_str(),
                       err->c_str());
        }
        delay_ms = z.keys.refresh_interval_s(answer, now) * 1000;
    } else {
        KR_LOG(warning, "ta", "%s: active refresh failed: %s", z.name.c_str(), why);
        delay_ms = z.keys.retry_interval_s() * 1000;
    }
    publish(z);
    if (settings_.refresh_time_ms) delay_ms = *settings_.refresh_time_ms;
    KR_LOG(debug, "ta", "%s: next refresh in %llu ms", z.name.c_str(),
           static_cast<unsigned long long>(delay_ms));
    schedule(z, delay_ms);
}

void TaUpdater::publish(Zone& z) {
    std::vector<dns::Record> trusted = z.keys.trusted_keys();
    if (trusted.empty()) {
        // Fail closed: the zone keeps the anchors it had (which no longer
        // validate anything the zone publishes) rather than none (insecure).
        KR_LOG(err, "ta", "%s: no trusted key left in %s; keeping the previous anchors",
               z.name.c_str(), z.path.c_str());
        return;
    }
    if (same_records(trusted, z.published)) return;
    anchors_->remove(z.zone);
    for (const auto& rr : trusted)
        anchors_->add(rr);
    z.published = std::move(trusted);
    std::string tags;
    for (const auto& k : z.keys.keys())
        tags += " " +
                std::to_string(k.rr.type == dns::type::DS ? (k.rr.rdata[0] << 8 | k.rr.rdata[1])
                                                          : dnssec::key_tag(k.rr.rdata)) +
                ":" + dnssec::to_text(k.state);
    KR_LOG(notice, "ta", "%s: trust anchors now%s", z.name.c_str(), tags.c_str());
}

} // namespace kresd::app
